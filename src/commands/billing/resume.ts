import {BaseCommand} from '../../cli/base-command.js'
import {statusChangeFlags, statusChangeInput, tenantArg} from '../../cli/flags/billing.js'
import {renderSubscriptionChange} from '../../cli/reporters/billing.js'
import {resumeSubscription, type SubscriptionChangeResult} from '../../lib/billing/subscriptions.js'

export default class BillingResume extends BaseCommand<SubscriptionChangeResult> {
  static override summary = 'resume a paused subscription'
  static override description = 'Appends a `resume` event: the subscription is active again from the effective date, and a new billing period starts then.'
  static override examples = ['<%= config.bin %> <%= command.id %> "Harbor Bakery" --effective 2027-03-01']
  static override permission = 'billing.edit' as const
  static override args = {...tenantArg}
  static override flags = {...statusChangeFlags(false)}

  async run(): Promise<SubscriptionChangeResult> {
    const {args, flags} = await this.parse(BillingResume)
    const result = await resumeSubscription(await this.context(), statusChangeInput(args.tenant, flags, this.runtime.config))
    this.print(renderSubscriptionChange(this.color, result))
    return result
  }
}
