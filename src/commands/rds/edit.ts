import {BaseCommand} from '../../cli/base-command.js'
import {rdsArg, rdsEditChanges, rdsEditFlags} from '../../cli/flags/rds.js'
import {readSecretFromStdin} from '../../cli/prompts/stdin.js'
import {renderRdsEdited} from '../../cli/reporters/rds.js'
import {editRds, type EditRdsResult} from '../../lib/rds/service.js'

export default class RdsEdit extends BaseCommand<EditRdsResult> {
  static override summary = 'change the settings of an RDS instance'
  static override description =
    'Changes only the values given. When a connection value changes (host, port, username, password, database) the new connection is tested before anything is saved, unless --no-test. An empty value (--providers-database "") clears an optional setting.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> main --port 3307',
    '<%= config.bin %> <%= command.id %> 3 --name eu-west-2 --app-url https://eu.rai.example.com',
    '<%= config.bin %> <%= command.id %> main --password-stdin < db-password.txt',
    '<%= config.bin %> <%= command.id %> old-main --no-master',
    '<%= config.bin %> <%= command.id %> eu-west-2 --impersonation --impersonation-audience rai-eu --impersonation-ttl 2m',
  ]

  static override permission = 'rds.manage' as const
  static override args = {rds: rdsArg}
  static override flags = rdsEditFlags

  async run(): Promise<EditRdsResult> {
    const {args, flags} = await this.parse(RdsEdit)
    const password = flags['password-stdin'] ? await readSecretFromStdin() : undefined
    const result = await editRds(await this.context(), {ref: args.rds, changes: rdsEditChanges(flags, password), test: !flags['no-test']})
    this.print(renderRdsEdited(this.color, result))
    return result
  }
}
