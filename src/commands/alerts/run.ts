import {BaseCommand} from '../../cli/base-command.js'
import {alertsRunFlags} from '../../cli/flags/alerts-run.js'
import {alertsRunExitCode, alertsRunText, type AlertsFailOn} from '../../cli/reporters/alerts-run.js'
import {runAlerts, type AlertRunResult} from '../../lib/alerts/engine.js'
import {seedDefaultRules} from '../../lib/alerts/rules.js'

export default class AlertsRun extends BaseCommand<AlertRunResult> {
  static override summary = 'evaluate every enabled alert rule and send the notifications (for cron, every five minutes)'
  static override description = `Evaluates every enabled rule, moves each alert through inactive → pending → firing → resolved, records every transition, writes the notifications to the outbox and sends them, all under the \`alerts\` lease (exit 6 when another run holds it). Run it from cron at --interval:

  */5 * * * * raiops alerts:run --json

A run that comes more than twice --interval after the previous one makes the alerts it does not see active unknown, never resolved. Exit 0 when it ran, firing alerts or not; 4 with --fail-on when an alert that is not silenced or inhibited fires at that level; 3 when some notifications could not be delivered (they stay in the outbox for the next run).

Sending is bounded: each message gets RAIOPS_ALERT_SEND_TIMEOUT_MS (default 10 s), and a run starts no message after six of those (60 s by default); the messages left are reported as deferred and stay in the outbox for the next run. Ctrl-C before the evaluation commits rolls it back: nothing changes.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --fail-on critical',
    '<%= config.bin %> <%= command.id %> --interval 1m',
  ]

  static override permission = 'alerts.run' as const
  static override flags = alertsRunFlags

  async run(): Promise<AlertRunResult> {
    const {flags} = await this.parse(AlertsRun)
    const ctx = await this.context()
    const run = runAlerts(ctx, {
      intervalMs: flags.interval,
      seed: seedDefaultRules,
      repeatIntervalMs: ctx.alerts?.repeatIntervalMs,
      deliveryTimeoutMs: ctx.alerts?.sendTimeoutMs,
      hang: ctx.alerts?.hang === 'mid-evaluation' ? 'mid-evaluation' : null,
      signal: this.stopSignal('the run stops before its evaluation is committed'),
    })
    // Stopped before its evaluation committed: rolled back, the run's row failed; the exit is the signal's.
    const result = await run.catch((error: unknown) => {
      this.exitIfInterrupted()
      throw error
    })
    this.exitIfInterrupted()
    this.print(alertsRunText(this.color, result))
    this.exitWith(alertsRunExitCode(result, flags['fail-on'] as AlertsFailOn | undefined))
    return result
  }
}
