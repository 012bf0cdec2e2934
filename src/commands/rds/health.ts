import {BaseCommand} from '../../cli/base-command.js'
import {checkHealthFlags, healthDescription, healthFlags, healthInput, type HealthFormat} from '../../cli/flags/health.js'
import {healthExitCode, healthReporter, historyReporter, showProbe, type FailOn} from '../../cli/reporters/health.js'
import {healthHistory, runHealth, type HealthHistory, type HealthReport} from '../../lib/rds/health.js'

export default class RdsHealth extends BaseCommand<HealthReport | HealthHistory> {
  static override summary = 'probe the health of every active RDS (or --rds) for operators, cron and CI'
  static override description = healthDescription
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rds main --rds eu-2 --timeout 2',
    '<%= config.bin %> <%= command.id %> --fail-on degraded --format junit --output health.xml',
    '<%= config.bin %> <%= command.id %> --format prometheus --output /var/lib/node_exporter/textfile/raiops.prom',
    '<%= config.bin %> <%= command.id %> --history --window 7d',
    '<%= config.bin %> <%= command.id %> --watch 10',
  ]

  static override permission = 'rds.view' as const
  static override flags = healthFlags

  async run(): Promise<HealthReport | HealthHistory> {
    const {flags} = await this.parse(RdsHealth)
    checkHealthFlags(flags, this.jsonEnabled())
    const format: HealthFormat = this.jsonEnabled() ? 'json' : flags.format
    const ctx = await this.context()
    const {refs, ...probeOptions} = healthInput(flags)
    if (flags.history && format !== 'prometheus' && format !== 'junit') {
      const load = () => healthHistory(ctx, {refs, windowMs: flags.window, points: flags.points})
      return this.showOrWatch(flags.watch, load, historyReporter(format, this.color, this.tableLayout(flags)), (text) => this.emitOutput(text, flags.output))
    }
    const probing = `probing ${refs.length > 0 ? refs.join(', ') : 'every active RDS'}`
    const probe = (signal?: AbortSignal) => this.withProgress(probing, (p) => runHealth(ctx, {refs, ...probeOptions, signal, onResult: showProbe(p)}))
    return this.showOrWatch(flags.watch, probe, healthReporter(format, this.color, flags['fail-on'] as FailOn, this.tableLayout(flags)), (text, report) => {
      this.exitWith(healthExitCode(report, flags['fail-on'] as FailOn))
      // node_exporter's textfile collector reads the metrics as its own user; they hold no personal data.
      this.emitOutput(text, flags.output, format === 'prometheus' ? {mode: 0o644} : {})
      if (report.results.length === 0) this.note('no active RDS to probe: register one with `raiops rds:add`')
    })
  }
}
