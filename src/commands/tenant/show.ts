import {BaseCommand} from '../../cli/base-command.js'
import {tenantShowDescription, tenantShowFlags, tenantShowInput} from '../../cli/flags/tenant-show.js'
import {tenantArg} from '../../cli/flags/tenant.js'
import {maskTenantShow, renderTenantShow, tenantShowWarnings} from '../../cli/reporters/tenant-show.js'
import {ExitCode} from '../../lib/errors/index.js'
import {showTenant, type TenantShow} from '../../lib/tenant/show.js'

export default class TenantShowCommand extends BaseCommand<TenantShow> {
  static override summary = 'one tenant: its registry row, live data from its RDS, routing, health score, billing and history'
  static override description = tenantShowDescription

  static override examples = [
    '<%= config.bin %> <%= command.id %> main:17',
    '<%= config.bin %> <%= command.id %> "Harbor Bakery" --timeout 2.5',
    '<%= config.bin %> <%= command.id %> 42 --no-live',
    '<%= config.bin %> <%= command.id %> 42 --json',
  ]

  static override permission = 'tenant.view' as const
  static override args = {tenant: tenantArg}
  static override flags = tenantShowFlags

  async run(): Promise<TenantShow> {
    const {args, flags} = await this.parse(TenantShowCommand)
    const ctx = await this.context()
    const result = await showTenant(ctx, tenantShowInput(args.tenant, flags, this.runtime.resolvedIdentity?.permissions))
    const shown = maskTenantShow(result, this.pii.bind(this), this.piiAudit.bind(this))
    this.print(renderTenantShow(this.color, shown, ctx.now(), this.tableLayout(flags)))
    for (const warning of tenantShowWarnings(shown)) this.warn(warning)
    if (shown.partial) this.exitWith(ExitCode.partial)
    return shown
  }
}
