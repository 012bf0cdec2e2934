import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode, UserError} from '../../lib/errors/index.js'
import {healthColumns, healthJunit, healthMetrics, healthSummary, historyColumns, historyHeading, type FailOn} from '../../cli/reporters/health.js'
import {DEFAULT_SLOW_MS, isAtOrBelow} from '../../lib/health/rules.js'
import {DEFAULT_HEALTH_CONCURRENCY, healthHistory, runHealth, type HealthHistory, type HealthReport} from '../../lib/rds/health.js'
import {parseDuration, parseSeconds} from '../../lib/time/duration.js'
import {renderJunit} from '../../cli/output/junit.js'
import {renderPrometheus} from '../../cli/output/prometheus.js'
import {renderList, renderNdjson, renderJson} from '../../cli/output/render.js'

const FORMATS = ['table', 'json', 'csv', 'ndjson', 'prometheus', 'junit'] as const
type HealthFormat = (typeof FORMATS)[number]
const FAIL_ON = ['down', 'degraded', 'never'] as const

export default class RdsHealth extends BaseCommand<HealthReport | HealthHistory> {
  static override summary = 'probe the health of every active RDS (or --rds) for operators, cron and CI'
  static override description = `Probes each RDS concurrently, each within --timeout, so the run lasts about as long as the slowest probe whatever the number of dead servers. A probe connects, times a SELECT 1 round trip, reads the server version, checks that the RAI tables exist (tenants, users, locations; user_email_routing on the master), that the providers database is reachable when one is set, and connection usage (MySQL/MariaDB Threads_connected / max_connections, PostgreSQL backends / max_connections). The outcome is stored on the RDS (rds:list, status) and appended to its history.

Status rules (every degraded or down RDS carries its reasons):
- down: the server cannot be connected to, authenticated against, or queried (every check) within --timeout.
- degraded: SELECT 1 took over --slow-ms, a required table is missing, the providers database is unreachable, a check failed, or connection usage is over 90 %.
- healthy: otherwise.
- unknown: never checked.

Exit codes: 4 when any probed RDS is at or below --fail-on (down by default; degraded also fails on degraded; never: never), 0 otherwise. The output is complete either way.

--format prometheus prints raiops_rds_up, raiops_rds_latency_seconds, raiops_rds_connections_used_ratio (and the status as raiops_rds_health_status) labelled by RDS name, for node_exporter's textfile collector; --format junit prints one test case per RDS, failed when at or below --fail-on. --output writes any format to a file, atomically.

--history shows the stored checks instead of probing: a latency sparkline per RDS (× marks a down check) and the uptime (checks not down) over --window.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rds main --rds eu-2 --timeout 2',
    '<%= config.bin %> <%= command.id %> --fail-on degraded --format junit --output health.xml',
    '<%= config.bin %> <%= command.id %> --format prometheus --output /var/lib/node_exporter/textfile/raiops.prom',
    '<%= config.bin %> <%= command.id %> --history --window 7d',
    '<%= config.bin %> <%= command.id %> --watch 10',
  ]

  static override permission = 'rds.view' as const
  static override flags = {
    rds: Flags.string({description: 'only these RDS (name or id; repeat or separate with commas); inactive ones too', multiple: true, delimiter: ','}),
    timeout: Flags.custom<number>({
      description: 'seconds each probe may take before the RDS is down (fractions allowed)',
      default: async () => 5000,
      defaultHelp: async () => '5',
      parse: async (input) => parseSeconds(input, '--timeout', 600),
    })(),
    'slow-ms': Flags.integer({description: 'a SELECT 1 round trip above this many ms is degraded', default: DEFAULT_SLOW_MS, min: 1}),
    'fail-on': Flags.option({options: FAIL_ON, default: 'down' as const, description: 'exit 4 when any RDS is at or below this status'})(),
    format: Flags.option({options: FORMATS, default: 'table' as HealthFormat, char: 'f', description: 'output format'})(),
    output: Flags.string({char: 'o', description: 'write the output to this file (atomically; mode 0600, 0644 for prometheus) instead of stdout'}),
    concurrency: Flags.integer({description: 'probes at once', default: DEFAULT_HEALTH_CONCURRENCY, min: 1, max: 1024}),
    history: Flags.boolean({description: 'show the stored checks and uptime instead of probing'}),
    window: Flags.custom<number>({
      description: 'with --history: how far back (e.g. 1h, 24h, 7d)',
      default: async () => 86_400_000,
      defaultHelp: async () => '24h',
      parse: async (input) => parseDuration(input, '--window'),
    })(),
    points: Flags.integer({description: 'with --history: most recent checks shown per RDS', default: 40, min: 1, max: 1000}),
    keep: Flags.custom<number>({
      description: 'checks older than this are deleted from the history as new ones are stored',
      default: async () => 30 * 86_400_000,
      defaultHelp: async () => '30d',
      parse: async (input) => parseDuration(input, '--keep'),
    })(),
    watch: Flags.custom<number>({
      description: 'probe again every N seconds on the terminal until Ctrl-C',
      parse: async (input) => parseSeconds(input, '--watch', 86_400),
    })(),
  }

  async run(): Promise<HealthReport | HealthHistory> {
    const {flags} = await this.parse(RdsHealth)
    const refs = flags.rds ?? []
    if (flags.history && (flags.format === 'prometheus' || flags.format === 'junit')) {
      throw new UserError(`--format ${flags.format} is for a probe, not --history`, {hint: 'use table, json, csv or ndjson with --history'})
    }
    if (flags.watch !== undefined && (this.jsonEnabled() || flags.output)) {
      throw new UserError('--watch redraws the terminal; it cannot be combined with --json or --output', {hint: 'run it from cron for files and machines'})
    }
    const format: HealthFormat = this.jsonEnabled() ? 'json' : flags.format
    const ctx = await this.context()

    if (flags.history) {
      const load = () => healthHistory(ctx, {refs, windowMs: flags.window, points: flags.points})
      const render = (history: HealthHistory): string =>
        format === 'table' ? `${this.color.dim(historyHeading(history))}\n${renderList(history.rds, historyColumns(this.color), 'table')}` : format === 'csv' || format === 'ndjson' ? renderList(history.rds, historyColumns(this.color), format) : renderJson(history)
      if (flags.watch !== undefined) {
        let last: HealthHistory | undefined
        await this.watch(flags.watch, async () => render((last = await load())))
        return last as HealthHistory
      }
      const history = await load()
      this.emitOutput(render(history), flags.output)
      return history
    }

    const probe = async (): Promise<HealthReport> => {
      const progress = await this.progress(`probing ${refs.length > 0 ? refs.join(', ') : 'every active RDS'}`)
      const report = await runHealth(ctx, {
        refs,
        timeoutMs: flags.timeout,
        slowMs: flags['slow-ms'],
        concurrency: flags.concurrency,
        keepMs: flags.keep,
        onResult: (result, done, total) => progress.update(`probed ${done}/${total} · last: ${result.name} ${result.status}`),
      })
      progress.stop()
      if (report.results.some((r) => isAtOrBelow(r.status, flags['fail-on'] as FailOn))) this.exitWith(ExitCode.unhealthy)
      else this.exitWith(ExitCode.ok)
      return report
    }
    const render = (report: HealthReport): string => {
      switch (format) {
        case 'prometheus':
          return renderPrometheus(healthMetrics(report))
        case 'junit':
          return renderJunit(healthJunit(report, flags['fail-on'] as FailOn))
        case 'ndjson':
          return renderNdjson(report.results)
        case 'json':
          return renderJson(report)
        case 'csv':
          return renderList(report.results, healthColumns(this.color), 'csv')
        default:
          return report.results.length === 0 ? '' : `${renderList(report.results, healthColumns(this.color), 'table')}${healthSummary(this.color, report)}\n`
      }
    }

    if (flags.watch !== undefined) {
      let last: HealthReport | undefined
      await this.watch(flags.watch, async () => render((last = await probe())))
      return last as HealthReport
    }
    const report = await probe()
    // node_exporter's textfile collector reads the metrics as its own user; they hold no personal data.
    this.emitOutput(render(report), flags.output, format === 'prometheus' ? {mode: 0o644} : {})
    if (report.results.length === 0) this.note('no active RDS to probe: register one with `raiops rds:add`')
    return report
  }
}
