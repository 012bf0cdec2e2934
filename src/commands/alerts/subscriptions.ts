import {Flags} from '@oclif/core'

import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {subscriptionColumns} from '../../cli/reporters/alerts-subscriptions.js'
import {listSubscriptions, type SubscriptionView} from '../../lib/alerts/subscriptions.js'

export default class AlertsSubscriptions extends BaseCommand<SubscriptionView[]> {
  static override summary = 'list alert subscriptions: who gets which alerts, by email or webhook'
  static override description =
    "Shows every subscription with its operator, channel, target (an email subscription without one goes to the operator's own address; a webhook URL is shown without its credentials and query), and its filters. Remove one with alerts:unsubscribe."
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --operator oncall@example.com --json']
  static override permission = 'alerts.view' as const
  static override flags = {...listFlags, operator: Flags.string({description: "only this operator's subscriptions, by email"})}

  async run(): Promise<SubscriptionView[]> {
    const {flags} = await this.parse(AlertsSubscriptions)
    const rows = await listSubscriptions(await this.context(), {operator: flags.operator})
    this.renderList(rows, subscriptionColumns, flags)
    return rows
  }
}
