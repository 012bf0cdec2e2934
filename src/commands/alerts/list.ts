import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {alertListFlags} from '../../cli/flags/alerts-ops.js'
import {alertColumns} from '../../cli/reporters/alerts-ops.js'
import {type AlertListItem, listAlerts} from '../../lib/alerts/query.js'

export default class AlertsList extends BaseCommand<AlertListItem[]> {
  static override summary = 'list the alerts pending, firing or unknown, firing and critical first'
  static override description = `Reads the alert engine's state as the last alerts:run left it: each alert (a rule and its labels) with its state (pending: true, waiting out its rule's for; firing; unknown: not evaluated across a gap in the runs), since when, its labels, what mutes it now (a silence, or an RDS-down alert inhibiting the RDS's sync and health alerts) and who acknowledged it. --all adds those resolved or gone inactive since --since (default 24h). Filters combine; --matcher takes label matchers as alerts:silence does.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --severity critical',
    '<%= config.bin %> <%= command.id %> --matcher rds=eu-2 --all --since 7d',
    '<%= config.bin %> <%= command.id %> --format csv --output alerts.csv',
  ]

  static override permission = 'alerts.view' as const
  static override flags = {...alertListFlags, ...listFlags}

  async run(): Promise<AlertListItem[]> {
    const {flags} = await this.parse(AlertsList)
    const ctx = await this.context()
    const alerts = await listAlerts(ctx, {
      all: flags.all,
      since: flags.since,
      rule: flags.rule,
      severity: flags.severity,
      matchers: flags.matcher,
      limit: flags.limit,
    })
    this.renderList(alerts, alertColumns(this.color), flags, ctx.now())
    return alerts
  }
}
