import {statusChangeFlags, statusChangeInput} from '../../cli/flags/suspend.js'
import {tenantArg} from '../../cli/flags/tenant.js'
import {StatusChangeCommand} from '../../cli/status-change-command.js'
import type {StatusChange} from '../../lib/tenant/status-change.js'
import {reactivateTenant} from '../../lib/tenant/suspend.js'

export default class TenantReactivate extends StatusChangeCommand {
  static override summary = "reactivate a tenant on its RDS and in the master's routing directory"
  static override description = `Sets tenants.status to active on the tenant's RDS, then gives each of its routing entries on the master its user's own status (a user suspended on their own stays suspended), in batches, then tenant_master and raiops' routing cache. Each side changed is audited with the reason and the old and new values.

The plan is printed first; --dry-run stops there. At a terminal you are asked to confirm (default no); without one, or under --json, add --yes. When a server fails part-way the command exits 3: run it again, it changes only what is still out of step.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> main:17 --reason "paid in full, ticket BIL-204" --dry-run',
    '<%= config.bin %> <%= command.id %> 42 --reason "paid in full, ticket BIL-204" --yes --json',
  ]

  static override permission = 'tenant.edit' as const
  static override args = {tenant: tenantArg}
  static override flags = statusChangeFlags

  async run(): Promise<StatusChange> {
    const {args, flags} = await this.parse(TenantReactivate)
    const result = await reactivateTenant(await this.context(), {tenant: args.tenant, ...statusChangeInput(flags), confirm: this.confirmation(flags)})
    return this.report(result)
  }
}
