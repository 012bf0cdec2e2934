import {BaseCommand} from '../../cli/base-command.js'
import {setFlags, subscriptionTerms, tenantArg} from '../../cli/flags/billing.js'
import {renderSubscriptionChange} from '../../cli/reporters/billing.js'
import {setSubscription, type SubscriptionChangeResult} from '../../lib/billing/subscriptions.js'

export default class BillingSet extends BaseCommand<SubscriptionChangeResult> {
  static override summary = 'put a tenant on a plan, or change its quantity, discount or trial'
  static override description =
    "Appends a `set` event to the tenant's billing ledger and recomputes its subscription from every event in effective order. The plan's price is the version in effect at the effective date (or --plan-version); the tenant keeps that version until changed. The quantity is given, or the tenant's locations or users counted now, else kept; a discount and a trial carry over unless given (--discount none removes one). A past --effective is a backdated change: every later state is recomputed and the audit trail says so."
  static override examples = [
    '<%= config.bin %> <%= command.id %> "Harbor Bakery" --plan starter --quantity-from locations --trial-until 2027-01-15 --reason "signed, ticket S-12"',
    '<%= config.bin %> <%= command.id %> main:17 --plan starter --quantity 5 --discount 10% --discount-until 2027-06-30 --reason "launch offer"',
    '<%= config.bin %> <%= command.id %> 42 --plan pro-yearly --effective 2026-11-01 --reason "upgrade agreed on Nov 1, entered late"',
  ]
  static override permission = 'billing.edit' as const
  static override args = {...tenantArg}
  static override flags = {...setFlags}

  async run(): Promise<SubscriptionChangeResult> {
    const {args, flags} = await this.parse(BillingSet)
    const result = await setSubscription(await this.context(), {
      tenant: args.tenant,
      plan: flags.plan,
      ...subscriptionTerms(flags),
      effective: flags.effective,
      reason: flags.reason,
      graceDays: this.runtime.config.billingGraceDays,
    })
    this.print(renderSubscriptionChange(this.color, result))
    return result
  }
}
