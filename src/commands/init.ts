import {BaseCommand} from '../cli/base-command.js'
import {adminFlags, askAdmin} from '../cli/prompts/admin.js'
import {initNotes, renderInit} from '../cli/reporters/init.js'
import {initRaiops, type InitResult} from '../lib/setup/init.js'

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
  static override flags = adminFlags

  async run(): Promise<InitResult> {
    const {flags} = await this.parse(Init)
    const runtime = this.runtime
    const db = await runtime.db({prepare: true})
    const ctx = {db, audit: runtime.audit, now: () => new Date()}
    const result = await initRaiops(ctx, {
      target: runtime.target,
      home: runtime.config.home,
      masterKey: runtime.config.masterKey,
      masterKeyFile: runtime.config.masterKeyFile,
      admin: () => askAdmin(flags, this.interactive()),
      signInAdmin: true,
    })
    this.print(renderInit(this.color, result))
    for (const note of initNotes(this.color, result)) this.note(note)
    return result
  }
}
