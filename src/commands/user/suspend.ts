import {emailArg, statusChangeFlags, userStatusInput, userTenantFlags} from '../../cli/flags/suspend.js'
import {StatusChangeCommand} from '../../cli/status-change-command.js'
import type {StatusChange} from '../../lib/tenant/status-change.js'
import {suspendUser} from '../../lib/user/suspend.js'

export default class UserSuspend extends StatusChangeCommand {
  static override summary = "suspend a tenant's user on its RDS and in the master's routing directory"
  static override description = `Sets users.status to suspended for the user with this email (compared lower-cased) in the tenant given by --tenant, or with --all-tenants in every tenant the email has a user in (the master's user_email_routing, or raiops' routing cache when the master cannot be read, as said). Then the user's routing entries on the master are suspended, and raiops' routing cache follows; each side changed is audited with the reason and the old and new values.

The plan (server, table, row ids, old → new) is printed first; --dry-run stops there. At a terminal you are asked to confirm (default no); without one, or under --json, add --yes. When a server fails part-way the result says which side changed and the command exits 3: run it again, it changes only what is still out of step.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com --tenant main:17 --reason "left the company, ticket SUP-1234" --dry-run',
    '<%= config.bin %> <%= command.id %> ana@example.com --tenant "Harbor Bakery" --reason "left the company, ticket SUP-1234"',
    '<%= config.bin %> <%= command.id %> ana@example.com --all-tenants --reason "account compromised, SEC-88" --yes --json',
  ]

  static override permission = 'user.edit' as const
  static override args = {email: emailArg}
  static override flags = {...userTenantFlags, ...statusChangeFlags}

  async run(): Promise<StatusChange> {
    const {args, flags} = await this.parse(UserSuspend)
    const result = await suspendUser(await this.context(), {...userStatusInput(args.email, flags), confirm: this.confirmation(flags)})
    return this.report(result)
  }
}
