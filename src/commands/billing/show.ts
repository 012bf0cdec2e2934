import {BaseCommand} from '../../cli/base-command.js'
import {tenantArg} from '../../cli/flags/billing.js'
import {renderBillingShow} from '../../cli/reporters/billing.js'
import {showBilling, type BillingShow} from '../../lib/billing/payments.js'

export default class BillingShowCommand extends BaseCommand<BillingShow> {
  static override summary = "show a tenant's subscription, billing periods, events and payments"
  static override description =
    "Computes the subscription from the tenant's billing ledger as of now: status (trialing, active, past_due, paused, canceled), plan, quantity, discount, MRR, next billing date, what is paid through and the balance of the current period; then every billing period with what was due, paid and refunded, the events in effective order (backdated ones marked) and the payments. A period unpaid RAIOPS_BILLING_GRACE_DAYS (default 7) after it ends makes the subscription past due until it is paid."
  static override examples = ['<%= config.bin %> <%= command.id %> "Harbor Bakery"', '<%= config.bin %> <%= command.id %> main:17 --json']
  static override permission = 'billing.view' as const
  static override args = {...tenantArg}

  async run(): Promise<BillingShow> {
    const {args} = await this.parse(BillingShowCommand)
    const shown = await showBilling(await this.context(), {tenant: args.tenant, graceDays: this.runtime.config.billingGraceDays})
    this.print(renderBillingShow(this.color, shown))
    return shown
  }
}
