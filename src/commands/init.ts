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
    '<%= config.bin %> <%= command.id %> --admin-email ops@example.com --admin-name "Ops Admin" --password-stdin < admin-password.txt',
    '<%= config.bin %> <%= command.id %> --admin-email ops@example.com --admin-name Ops --password-stdin < admin-password.txt   # a shared control database: RAIOPS_DATABASE_URL=mysql://…',
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
    runtime.keepCreatedControlDb()
    this.print(renderInit(this.color, result))
    for (const note of initNotes(this.color, result)) this.note(note)
    return result
  }
}
