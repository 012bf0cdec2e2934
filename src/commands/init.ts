import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {startSession} from '../lib/auth/session.js'
import {UserError} from '../lib/errors/index.js'
import {promptSecret, promptText} from '../cli/prompts/prompt.js'
import {escapeControlDeep} from '../lib/text/escape.js'
import {readSecretFromStdin} from '../cli/prompts/stdin.js'
import {initRaiops, type AdminInput, type InitResult} from '../lib/setup/init.js'

export default class Init extends BaseCommand<InitResult> {
  static override summary = 'set up raiops on this machine: master key, control database, roles, first admin'
  static override description = `Creates RAIOPS_HOME, generates the master key file (mode 0600; an existing key is never overwritten), applies the control database migrations, seeds the four built-in roles and their permissions, and creates the first system_admin operator.

Run it once per machine (or once per shared control database). Running it again changes nothing and says so. Without a TTY, give the admin with --admin-email, --admin-name and --password-stdin.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    `printf '%s' "$ADMIN_PASSWORD" | <%= config.bin %> <%= command.id %> --admin-email ops@example.com --admin-name "Ops Admin" --password-stdin`,
    'RAIOPS_DATABASE_URL=mysql://raiops:secret@127.0.0.1:3306/raiops <%= config.bin %> <%= command.id %> --admin-email ops@example.com --admin-name Ops --password-stdin',
  ]

  static override permission = null

  static override flags = {
    'admin-email': Flags.string({description: 'email of the first system_admin operator'}),
    'admin-name': Flags.string({description: 'name of the first system_admin operator'}),
    'password-stdin': Flags.boolean({description: "read the first admin's password from standard input"}),
  }

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const runtime = this.runtime
    const db = await runtime.db({prepare: true})
    const result = await initRaiops({db, audit: runtime.audit, now: () => new Date()}, {
      target: runtime.target,
      home: runtime.config.home,
      masterKey: runtime.config.masterKey,
      masterKeyFile: runtime.config.masterKeyFile,
      admin: () => this.askAdmin(flags),
    })
    // The first admin stays signed in on this machine.
    if (result.admin.created) {
      const admin = (await db('operators').where({email: result.admin.email}).first('id', 'email')) as {id: number; email: string}
      await startSession({db, now: () => new Date()}, {home: runtime.config.home, operator: {id: Number(admin.id), email: admin.email}})
    }
    this.render(result)
    return result
  }

  private async askAdmin(flags: {'admin-email'?: string; 'admin-name'?: string; 'password-stdin': boolean}): Promise<AdminInput> {
    const interactive = this.interactive()
    const missing = (flag: string) =>
      new UserError(`${flag} is required to create the first admin`, {hint: 'pass --admin-email, --admin-name and --password-stdin, or run on a terminal'})
    const email = flags['admin-email'] ?? (interactive ? await promptText('Admin email') : undefined)
    if (!email) throw missing('--admin-email')
    const name = flags['admin-name'] ?? (interactive ? await promptText('Admin name') : undefined)
    if (!name) throw missing('--admin-name')
    let password: string | undefined
    if (flags['password-stdin']) password = await readSecretFromStdin()
    else if (interactive) password = await promptSecret('Admin password (10+ characters)', {confirm: true})
    if (!password) throw missing('--password-stdin')
    return {email, name, password}
  }

  private render(init: InitResult): void {
    // Paths and the admin's email as given: shown escaped.
    const result = escapeControlDeep(init)
    const ok = this.color.green('✓')
    if (!result.changed) {
      this.log(`raiops is already initialised in ${result.home} (${result.database}): nothing changed.`)
      return
    }
    this.log(`${ok} home        ${result.home}`)
    this.log(`${ok} master key  ${result.key.source === 'env' ? 'from RAIOPS_MASTER_KEY' : result.key.path} (key id ${result.key.kid}${result.key.created ? ', created' : ''})`)
    this.log(`${ok} database    ${result.database} (${result.migrationsApplied.length} migration(s) applied)`)
    this.log(`${ok} roles       ${result.roles.created.length > 0 ? result.roles.created.join(', ') : 'already present'}`)
    this.log(`${ok} admin       ${result.admin.email}${result.admin.created ? ' (created)' : ' (exists)'}`)
    if (result.key.created) this.note(this.color.yellow(`Back up ${result.key.path}: without it the stored RDS passwords cannot be read.`))
  }
}
