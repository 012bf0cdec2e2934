import {BaseCommand} from '../../cli/base-command.js'
import {silenceFlags} from '../../cli/flags/alerts-ops.js'
import {silenceLine} from '../../cli/reporters/alerts-ops.js'
import {createSilence, type SilenceView} from '../../lib/alerts/silences.js'

export default class AlertsSilence extends BaseCommand<SilenceView> {
  static override summary = 'silence the alerts whose labels match, for a while, with a reason'
  static override description = `From now until --for or --until (at most 30 days), the alerts whose labels every --matcher matches are not notified, nor their resolution; their changes are still recorded and alerts:list shows them muted. Matchers are name=value, name!=value, name=~regex, name!~regex over an alert's labels (alertname is the rule's name, severity, and the rule's own such as rds); at least one must name something (a silence of everything is refused). Audited. Lift it early with alerts:unsilence.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --matcher rds=eu-2 --reason "eu-2 maintenance" --for 2h',
    '<%= config.bin %> <%= command.id %> --matcher alertname=billing-overdue --matcher tenant=~"acme.*" --reason "collections on it" --until 2026-12-01T18:00:00Z',
  ]

  static override permission = 'alerts.silence' as const
  static override flags = silenceFlags

  async run(): Promise<SilenceView> {
    const {flags} = await this.parse(AlertsSilence)
    const ctx = await this.context()
    const silence = await createSilence(ctx, {matchers: flags.matcher ?? [], reason: flags.reason, for: flags.for, until: flags.until})
    this.print(silenceLine(silence))
    return silence
  }
}
