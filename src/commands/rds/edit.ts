import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {parseDuration} from '../../lib/time/duration.js'
import {readSecretFromStdin} from '../../cli/prompts/stdin.js'
import {renderRecord} from '../../cli/output/render.js'
import {rdsArg, rdsFieldFlags} from '../../cli/flags/rds.js'
import {rdsRecord} from '../../cli/reporters/rds.js'
import {editRds, type EditRdsResult} from '../../lib/rds/service.js'

export default class RdsEdit extends BaseCommand<EditRdsResult> {
  static override summary = 'change the settings of an RDS instance'
  static override description =
    'Changes only the values given. When a connection value changes (host, port, username, password, database) the new connection is tested before anything is saved, unless --no-test. An empty value (--providers-database "") clears an optional setting.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> main --port 3307',
    '<%= config.bin %> <%= command.id %> 3 --name eu-west-2 --app-url https://eu.rai.example.com',
    `printf '%s' "$NEW_PASSWORD" | <%= config.bin %> <%= command.id %> main --password-stdin`,
    '<%= config.bin %> <%= command.id %> old-main --no-master',
    '<%= config.bin %> <%= command.id %> eu-west-2 --impersonation --impersonation-audience rai-eu --impersonation-ttl 2m',
  ]

  static override permission = 'rds.manage' as const
  static override args = {rds: rdsArg}
  static override flags = {
    ...rdsFieldFlags,
    master: Flags.boolean({allowNo: true, description: 'make this the master RDS (--no-master to unset)'}),
    active: Flags.boolean({allowNo: true, description: 'include it in syncs and health checks (--no-active to leave it out)'}),
    impersonation: Flags.boolean({allowNo: true, description: 'let tenant:impersonate issue links for its tenants (--no-impersonation to refuse them)'}),
    'impersonation-audience': Flags.string({description: 'the audience (aud) its RAI application expects in impersonation links; "" for its app URL'}),
    'impersonation-ttl': Flags.string({description: 'how long its impersonation links are valid by default, 30s to 5m; "" for 5m'}),
  }

  async run(): Promise<EditRdsResult> {
    const {args, flags} = await this.parse(RdsEdit)
    const password = flags['password-stdin'] ? await readSecretFromStdin() : undefined
    const result = await editRds(await this.context(), {
      ref: args.rds,
      changes: {
        name: flags.name,
        host: flags.host,
        port: flags.port,
        username: flags.username,
        password,
        raiDatabase: flags['rai-database'] ?? flags.file,
        providersDatabase: flags['providers-database'],
        appUrl: flags['app-url'],
        master: flags.master,
        active: flags.active,
        impersonation: flags.impersonation,
        impersonationAudience: flags['impersonation-audience'],
        impersonationTtlSeconds: flags['impersonation-ttl'] === undefined ? undefined : flags['impersonation-ttl'].trim() === '' ? null : parseDuration(flags['impersonation-ttl'], '--impersonation-ttl') / 1000,
      },
      test: !flags['no-test'],
    })
    const shown = escapeControlDeep(result)
    if (result.changed.length === 0) this.log(`RDS ${shown.rds.name} already has these values: nothing changed`)
    else {
      this.log(`${this.color.green('✓')} updated RDS ${shown.rds.name}: ${shown.changed.join(', ')}${shown.test ? ` (connection tested: ${shown.test.latencyMs} ms)` : ''}`)
      this.log(renderRecord(result.rds, (r) => rdsRecord(this.color, r)).trimEnd())
    }
    return result
  }
}
