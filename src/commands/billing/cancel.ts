import {BaseCommand} from '../../cli/base-command.js'
import {statusChangeFlags, statusChangeInput, tenantArg} from '../../cli/flags/billing.js'
import {renderSubscriptionChange} from '../../cli/reporters/billing.js'
import {cancelSubscription, type SubscriptionChangeResult} from '../../lib/billing/subscriptions.js'

export default class BillingCancel extends BaseCommand<SubscriptionChangeResult> {
  static override summary = "end a tenant's subscription"
  static override description =
    'Appends a `cancel` event: from the effective date the subscription bills nothing and counts no MRR. Reports place the churn at the end of the period already paid for (or at the cancellation, as their policy says). A past --effective is a backdated change, audited as such.'
  static override examples = ['<%= config.bin %> <%= command.id %> "Harbor Bakery" --effective 2026-12-31 --reason "closing the restaurant"']
  static override permission = 'billing.edit' as const
  static override args = {...tenantArg}
  static override flags = {...statusChangeFlags(true)}

  async run(): Promise<SubscriptionChangeResult> {
    const {args, flags} = await this.parse(BillingCancel)
    const result = await cancelSubscription(await this.context(), statusChangeInput(args.tenant, flags, this.runtime.config))
    this.print(renderSubscriptionChange(this.color, result))
    return result
  }
}
