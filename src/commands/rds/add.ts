import {BaseCommand} from '../../cli/base-command.js'
import {rdsAddFlags} from '../../cli/flags/rds.js'
import {terminalAsker} from '../../cli/prompts/prompt.js'
import {collectRdsFields} from '../../cli/prompts/rds.js'
import {readSecretFromStdin} from '../../cli/prompts/stdin.js'
import {renderRdsAdded} from '../../cli/reporters/rds.js'
import {addRds, hasMasterRds, type AddRdsResult} from '../../lib/rds/service.js'

export default class RdsAdd extends BaseCommand<AddRdsResult> {
  static override summary = 'register an RDS instance (its password is stored encrypted)'
  static override description = `Registers a database server of the fleet. The connection is tested before anything is saved (connect, SELECT 1, server version) unless --no-test. The password is read from standard input with --password-stdin, or asked for (hidden) on a terminal; it is stored only encrypted with the master key and never shown again.

On a terminal, values not given as flags are asked for, and whether it is the master (yes by default while there is none). Without a terminal (cron, CI, --no-input) every required value must be a flag.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --name main --host 10.0.0.5 --username raiops --password-stdin --rai-database rai --master < db-password.txt',
    '<%= config.bin %> <%= command.id %> --name eu-2 --engine postgres --host db2.internal --port 5432 --username raiops --password-stdin --rai-database rai < pw.txt',
    '<%= config.bin %> <%= command.id %> --name local --engine sqlite --file /var/lib/rai/rai.sqlite',
    '<%= config.bin %> <%= command.id %>   # asks for every value',
  ]

  static override permission = 'rds.manage' as const
  static override flags = rdsAddFlags

  async run(): Promise<AddRdsResult> {
    const {flags} = await this.parse(RdsAdd)
    const ctx = await this.context()
    const fields = await collectRdsFields(
      flags,
      this.interactive() ? terminalAsker : undefined,
      () => readSecretFromStdin(),
      () => hasMasterRds(ctx),
    )
    const progressText = flags['no-test'] ? `saving ${fields.name}` : `testing the connection to ${fields.name}`
    const result = await this.withProgress(progressText, () => addRds(ctx, {...fields, test: !flags['no-test']}))
    this.print(renderRdsAdded(this.color, result))
    return result
  }
}
