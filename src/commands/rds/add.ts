import {resolve} from 'node:path'
import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {UserError} from '../../lib/errors/index.js'
import {promptSecret, promptSelect, promptText} from '../../lib/input/prompt.js'
import {readSecretFromStdin} from '../../lib/input/stdin.js'
import {engineFlag, rdsFieldFlags} from '../../lib/rds/flags.js'
import {rdsRecord} from '../../lib/rds/present.js'
import {renderRecord} from '../../lib/output/render.js'
import {addRds, type AddRdsResult} from '../../lib/rds/service.js'
import {RDS_ENGINES, type RdsEngine} from '../../lib/rds/types.js'
import {DEFAULT_PORTS, type RdsFields} from '../../lib/rds/validation.js'

export default class RdsAdd extends BaseCommand<AddRdsResult> {
  static override summary = 'register an RDS instance (its password is stored encrypted)'
  static override description = `Registers a database server of the fleet. The connection is tested before anything is saved (connect, SELECT 1, server version) unless --no-test. The password is read from standard input with --password-stdin, or asked for (hidden) on a terminal; it is stored only encrypted with the master key and never shown again.

On a terminal, values not given as flags are asked for. Without a terminal (cron, CI, --no-input) every required value must be a flag.`

  static override examples = [
    `printf '%s' "$DB_PASSWORD" | <%= config.bin %> <%= command.id %> --name main --host 10.0.0.5 --username raiops --password-stdin --rai-database rai --master`,
    '<%= config.bin %> <%= command.id %> --name eu-2 --engine postgres --host db2.internal --port 5432 --username raiops --password-stdin --rai-database rai < pw.txt',
    '<%= config.bin %> <%= command.id %> --name local --engine sqlite --file /var/lib/rai/rai.sqlite',
    '<%= config.bin %> <%= command.id %>   # asks for every value',
  ]

  static override permission = 'rds.manage' as const

  static override flags = {
    ...rdsFieldFlags,
    engine: engineFlag(),
    master: Flags.boolean({description: 'make this the master RDS (holds user_email_routing); only one may be'}),
  }

  async run(): Promise<AddRdsResult> {
    const {flags} = await this.parse(RdsAdd)
    const fields = await this.collect(flags)
    const ctx = await this.context()
    const progress = await this.progress(flags['no-test'] ? `saving ${fields.name}` : `testing the connection to ${fields.name}`)
    let result: AddRdsResult
    try {
      result = await addRds(ctx, fields, {test: !flags['no-test']})
    } catch (error) {
      progress.fail()
      throw error
    }
    progress.stop()
    this.log(`${this.color.green('✓')} registered RDS ${result.rds.name} (id ${result.rds.id})${result.test ? `: ${result.test.serverVersion}, ${result.test.latencyMs} ms` : ', connection not tested'}`)
    this.log(renderRecord(rdsRecord(this.color, result.rds)).trimEnd())
    return result
  }

  private async collect(flags: {
    name?: string
    engine?: RdsEngine
    host?: string
    port?: number
    username?: string
    'password-stdin': boolean
    'rai-database'?: string
    'providers-database'?: string
    'app-url'?: string
    file?: string
    master: boolean
  }): Promise<RdsFields> {
    const ask = this.interactive()
    const need = async (value: string | undefined, flag: string, question: string, fallback?: string): Promise<string | undefined> => {
      if (value !== undefined) return value
      if (ask) return promptText(question, {default: fallback})
      if (fallback !== undefined) return fallback
      throw new UserError(`${flag} is required`, {hint: `pass ${flag}, or run on a terminal to be asked`})
    }
    const engine = flags.engine ?? (ask ? await promptSelect('Engine', RDS_ENGINES, 'mysql') : 'mysql')
    const name = await need(flags.name, '--name', 'Name (as main or eu-west-2)')
    if (engine === 'sqlite') {
      const file = await need(flags.file ?? flags['rai-database'], '--file', 'SQLite database file')
      return {name: name ?? '', engine, raiDatabase: file ? resolve(file) : '', providersDatabase: flags['providers-database'], appUrl: flags['app-url'], master: flags.master}
    }
    const host = await need(flags.host, '--host', 'Host')
    const port = flags.port ?? (ask ? Number(await promptText('Port', {default: String(DEFAULT_PORTS[engine])})) : undefined)
    const username = await need(flags.username, '--username', 'Username')
    let password: string | undefined
    if (flags['password-stdin']) password = await readSecretFromStdin()
    else if (ask) password = (await promptSecret('Password (hidden, empty for none)')) || undefined
    const raiDatabase = await need(flags['rai-database'], '--rai-database', 'RAI database name', ask ? 'rai' : undefined)
    const providersDatabase = flags['providers-database'] ?? (ask ? (await promptText('Providers database (empty for none)')) || undefined : undefined)
    const appUrl = flags['app-url'] ?? (ask ? (await promptText('App URL (empty for none)')) || undefined : undefined)
    return {name: name ?? '', engine, host, port, username, password, raiDatabase: raiDatabase ?? '', providersDatabase, appUrl, master: flags.master}
  }
}
