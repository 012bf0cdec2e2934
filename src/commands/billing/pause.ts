import {BaseCommand} from '../../cli/base-command.js'
import {statusChangeFlags, statusChangeInput, tenantArg} from '../../cli/flags/billing.js'
import {renderSubscriptionChange} from '../../cli/reporters/billing.js'
import {pauseSubscription, type SubscriptionChangeResult} from '../../lib/billing/subscriptions.js'

export default class BillingPause extends BaseCommand<SubscriptionChangeResult> {
  static override summary = "pause a tenant's subscription"
  static override description =
    'Appends a `pause` event: from the effective date no period is billed and MRR counts 0 until billing:resume. The subscription keeps its plan, quantity and discount.'
  static override examples = ['<%= config.bin %> <%= command.id %> "Harbor Bakery" --reason "seasonal closure"']
  static override permission = 'billing.edit' as const
  static override args = {...tenantArg}
  static override flags = {...statusChangeFlags(false)}

  async run(): Promise<SubscriptionChangeResult> {
    const {args, flags} = await this.parse(BillingPause)
    const result = await pauseSubscription(await this.context(), statusChangeInput(args.tenant, flags, this.runtime.config))
    this.print(renderSubscriptionChange(this.color, result))
    return result
  }
}
