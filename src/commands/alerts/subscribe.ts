import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {subscriptionLine} from '../../cli/reporters/alerts-subscriptions.js'
import {CHANNELS} from '../../lib/alerts/channels/target.js'
import {subscribe, type SubscriptionView} from '../../lib/alerts/subscriptions.js'

export default class AlertsSubscribe extends BaseCommand<SubscriptionView> {
  static override summary = 'have alert notifications sent by email or to a signed webhook'
  static override description = `Subscribes an operator (you, unless --operator) to the notifications alerts:run sends: one message per rule and run for the alerts that fire, resolve or still fire after the repeat interval, filtered by --severity, --rule and --matcher (all of them must match; none: every alert). Email goes to --target or the operator's own address through RAIOPS_SMTP_URL; a webhook is posted to --target, signed with RAIOPS_ALERT_WEBHOOK_SECRET as audit:serve checks it. Anyone with alerts.view may subscribe themselves by email; another operator, another address or a webhook needs alerts.manage-subscriptions. A token names the operator with --operator.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --channel email --severity critical,warning',
    '<%= config.bin %> <%= command.id %> --channel email --rule rds-down --matcher rds=eu-2 --no-resolved',
    '<%= config.bin %> <%= command.id %> --channel webhook --target https://ops.example.com/api/webhooks/rai/audit --operator oncall@example.com',
  ]

  static override permission = 'alerts.view' as const
  static override flags = {
    channel: Flags.option({options: CHANNELS, required: true, description: 'email or webhook'})(),
    target: Flags.string({description: "the email address (default: the operator's own) or the webhook URL (required for a webhook)"}),
    severity: Flags.string({description: 'only these severities, comma-separated: critical, warning, info (default: any)', multiple: true}),
    rule: Flags.string({description: 'only this rule, by name (repeatable; default: any)', multiple: true}),
    matcher: Flags.string({description: 'only alerts whose labels match: name=value, name!=value, name=~regex, name!~regex (repeatable)', multiple: true}),
    resolved: Flags.boolean({allowNo: true, default: true, description: 'also notify when the alerts resolve (--no-resolved: firing only)'}),
    operator: Flags.string({description: 'whose subscription it is, by email (default: you; required with a token)'}),
  }

  async run(): Promise<SubscriptionView> {
    const {flags} = await this.parse(AlertsSubscribe)
    const view = await subscribe(await this.context(), {
      channel: flags.channel,
      target: flags.target,
      severities: flags.severity,
      rules: flags.rule,
      matchers: flags.matcher,
      sendResolved: flags.resolved,
      operator: flags.operator,
    })
    this.print(subscriptionLine(view, 'created'))
    return view
  }
}
