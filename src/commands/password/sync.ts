import {passwordSyncFlags, passwordSyncInput, passwordSyncMode} from '../../cli/flags/password.js'
import {emailArg} from '../../cli/flags/suspend.js'
import {PasswordSyncCommand} from '../../cli/password-sync-command.js'
import {syncPassword, type PasswordSync} from '../../lib/password/sync.js'

export default class PasswordSyncRun extends PasswordSyncCommand {
  static override summary = 'write one password hash to every user row and routing entry of a person, across tenants and RDS'
  static override description = `Every tenant the email has a user in (the master's user_email_routing; raiops' routing cache when the master cannot be read) gets one bcrypt hash ($2y$, at the cost most of the person's hashes have, else 12): the user row on the tenant's RDS and the routing entry on the master. Choose the password in exactly one way: --reset (a new one), --current-stdin (the person's current password must match one of their hashes first; a mismatch is audited and exits 5), or --from-tenant TENANT (that tenant's hash is copied; no password at all). Passwords are read from standard input or asked hidden, never from a flag; over 72 bytes is refused.

The plan (server, table, row id, whether the hash differs; never a hash) is printed first; --dry-run stops there. At a terminal you are asked to confirm; without one, or under --json, add --yes. Each RDS's rows are written concurrently, then the master's, each row only while it holds the hash the plan read; each server changed is audited. When a server fails the others are written, the tenants still on another hash are listed, and the command exits 3: run it again with the same password, it writes only what is left (the hash the first run wrote, which already verifies it). --timeout bounds each server's reads and writes.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com --reset --reason "locked out, ticket SUP-1234" --dry-run',
    '<%= config.bin %> <%= command.id %> ana@example.com --reset --reason "locked out, ticket SUP-1234"',
    `<%= config.bin %> <%= command.id %> ana@example.com --current-stdin --password-stdin --reason "one password everywhere, SUP-77" --yes <<< "$(printf '%s\\n' "$CURRENT" "$NEW")"`,
    '<%= config.bin %> <%= command.id %> ana@example.com --from-tenant main:17 --reason "passwords drifted apart, SUP-88" --yes --json',
  ]

  static override permission = 'user.password-reset' as const
  static override args = {email: emailArg}
  static override flags = passwordSyncFlags

  async run(): Promise<PasswordSync> {
    const {args, flags} = await this.parse(PasswordSyncRun)
    const mode = await passwordSyncMode(flags, this.interactive())
    const result = await syncPassword(await this.context(), {...passwordSyncInput(args.email, flags), mode, confirm: this.confirmation(flags)})
    return this.report(result)
  }
}
