import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {alertHistoryFlags} from '../../cli/flags/alerts-ops.js'
import {transitionColumns} from '../../cli/reporters/alerts-ops.js'
import {alertHistory, type AlertTransitionView} from '../../lib/alerts/query.js'

export default class AlertsHistory extends BaseCommand<AlertTransitionView[]> {
  static override summary = 'list the changes of state of alerts, newest first'
  static override description = `Every change alerts:run recorded (inactive → pending → firing → resolved, and unknown across a gap in the runs), with the alert's labels and summary then, and what kept it from being notified (a silence or an inhibiting RDS-down alert). Filters combine.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rule rds-down --since 24h',
    '<%= config.bin %> <%= command.id %> --matcher rds=eu-2 --limit 20 --json',
  ]

  static override permission = 'alerts.view' as const
  static override flags = {...alertHistoryFlags, ...listFlags}

  async run(): Promise<AlertTransitionView[]> {
    const {flags} = await this.parse(AlertsHistory)
    const ctx = await this.context()
    const changes = await alertHistory(ctx, {rule: flags.rule, matchers: flags.matcher, since: flags.since, limit: flags.limit})
    this.renderList(changes, transitionColumns(this.color), flags, ctx.now())
    return changes
  }
}
