import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {subscriptionLine} from '../../cli/reporters/alerts-subscriptions.js'
import {parseSubscriptionId, unsubscribe, type SubscriptionView} from '../../lib/alerts/subscriptions.js'

export default class AlertsUnsubscribe extends BaseCommand<SubscriptionView> {
  static override summary = 'remove an alert subscription'
  static override description =
    "Removes a subscription by its id (see alerts:subscriptions): nothing more is sent for it, and its messages not yet delivered are dropped. Your own needs alerts.view; anyone else's alerts.manage-subscriptions."
  static override examples = ['<%= config.bin %> <%= command.id %> 3', '<%= config.bin %> <%= command.id %> 3 --json']
  static override permission = 'alerts.view' as const
  static override args = {id: Args.string({description: 'the subscription id', required: true})}

  async run(): Promise<SubscriptionView> {
    const {args} = await this.parse(AlertsUnsubscribe)
    const view = await unsubscribe(await this.context(), {id: parseSubscriptionId(args.id)})
    this.print(subscriptionLine(view, 'removed'))
    return view
  }
}
