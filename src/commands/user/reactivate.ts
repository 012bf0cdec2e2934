import {emailArg, statusChangeFlags, userStatusInput, userTenantFlags} from '../../cli/flags/suspend.js'
import {StatusChangeCommand} from '../../cli/status-change-command.js'
import type {StatusChange} from '../../lib/tenant/status-change.js'
import {reactivateUser} from '../../lib/user/suspend.js'

export default class UserReactivate extends StatusChangeCommand {
  static override summary = "reactivate a tenant's user on its RDS and in the master's routing directory"
  static override description = `Sets users.status to active for the user with this email (compared lower-cased) in the tenant given by --tenant, or with --all-tenants in every tenant the email has a user in. Then its routing entries on the master get the status they should have: active, unless the tenant itself is suspended (then they stay suspended until tenant:reactivate). raiops' routing cache follows; each side changed is audited with the reason and the old and new values.

The plan is printed first; --dry-run stops there. At a terminal you are asked to confirm (default no); without one, or under --json, add --yes. When a server fails part-way the command exits 3: run it again, it changes only what is still out of step.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com --tenant main:17 --reason "back from leave, ticket SUP-1299" --dry-run',
    '<%= config.bin %> <%= command.id %> ana@example.com --all-tenants --reason "account secured again, SEC-88" --yes',
  ]

  static override permission = 'user.edit' as const
  static override args = {email: emailArg}
  static override flags = {...userTenantFlags, ...statusChangeFlags}

  async run(): Promise<StatusChange> {
    const {args, flags} = await this.parse(UserReactivate)
    const result = await reactivateUser(await this.context(), {...userStatusInput(args.email, flags), confirm: this.confirmation(flags)})
    return this.report(result)
  }
}
