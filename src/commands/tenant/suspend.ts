import {statusChangeFlags, statusChangeInput} from '../../cli/flags/suspend.js'
import {tenantArg} from '../../cli/flags/tenant.js'
import {StatusChangeCommand} from '../../cli/status-change-command.js'
import type {StatusChange} from '../../lib/tenant/status-change.js'
import {suspendTenant} from '../../lib/tenant/suspend.js'

export default class TenantSuspend extends StatusChangeCommand {
  static override summary = "suspend a tenant on its RDS and in the master's routing directory"
  static override description = `Sets tenants.status to suspended on the tenant's RDS, then every routing entry of the tenant on the master (user_email_routing) to suspended, in batches, then tenant_master and raiops' routing cache. Each side changed is audited with the reason and the old and new values.

The plan (server, table, row ids or counts, old → new) is printed first; --dry-run stops there. At a terminal you are asked to confirm (default no); without one, or under --json, add --yes. When a server fails part-way the result says which side changed and the command exits 3: run it again, it changes only what is still out of step.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> main:17 --reason "unpaid since March, ticket BIL-204" --dry-run',
    '<%= config.bin %> <%= command.id %> "Harbor Bakery" --reason "unpaid since March, ticket BIL-204" --yes',
  ]

  static override permission = 'tenant.edit' as const
  static override args = {tenant: tenantArg}
  static override flags = statusChangeFlags

  async run(): Promise<StatusChange> {
    const {args, flags} = await this.parse(TenantSuspend)
    const result = await suspendTenant(await this.context(), {tenant: args.tenant, ...statusChangeInput(flags), confirm: this.confirmation(flags)})
    return this.report(result)
  }
}
