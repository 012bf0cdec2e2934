import type {ChalkInstance} from 'chalk'

import {ExitCode} from '../../lib/errors/index.js'
import {isAtOrBelow} from '../../lib/health/rules.js'
import type {HealthHistory, HealthReport, RdsHealthHistory, RdsHealthResult} from '../../lib/rds/health.js'
import type {HealthStatus} from '../../lib/rds/types.js'
import type {HealthFormat} from '../flags/health.js'
import {renderJunit, type JunitSuite} from '../output/junit.js'
import {renderPrometheus, type MetricFamily} from '../output/prometheus.js'
import {renderJson, renderList, renderNdjson, type Column, type TableLayout} from '../output/render.js'
import type {Progress} from '../output/spinner.js'
import {colourHealth} from './rds.js'

export type FailOn = HealthStatus | 'never'

const ms = (value: number | null): string => (value === null ? '' : value >= 10 ? String(Math.round(value)) : value.toFixed(1))
const percent = (ratio: number | null): string => (ratio === null ? '' : `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)} %`)

export function healthColumns(c: ChalkInstance): Column<RdsHealthResult>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'name', cell: (r) => (r.isMaster ? `${r.name} ${c.cyan('(master)')}` : r.name), plain: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'engine', cell: (r) => r.engine, priority: 4},
    {header: 'status', cell: (r) => colourHealth(c, r.status), plain: (r) => r.status},
    {header: 'latency ms', cell: (r) => ms(r.latencyMs), plain: (r) => r.latencyMs, priority: 2},
    {header: 'connections', cell: (r) => percent(r.connectionsUsedRatio), plain: (r) => r.connectionsUsedRatio, priority: 3},
    {header: 'server', cell: (r) => r.serverVersion ?? '', plain: (r) => r.serverVersion, overflow: 'truncate', priority: 4},
    {header: 'reasons', cell: (r) => r.reasons.join('; '), plain: (r) => r.reasons.join('; '), overflow: 'wrap', minWidth: 20},
  ]
}

/** One line under the table: how many of each status, and how long it took. */
export function healthSummary(c: ChalkInstance, report: HealthReport): string {
  const {healthy, degraded, down} = report.counts
  const parts = [
    c.green(`${healthy} healthy`),
    degraded > 0 ? c.yellow(`${degraded} degraded`) : `${degraded} degraded`,
    down > 0 ? c.red(`${down} down`) : `${down} down`,
  ]
  return `${parts.join(', ')} · ${report.results.length} probed in ${(report.durationMs / 1000).toFixed(1)} s`
}

/**
 * A measurement to `decimals` places, as a number that prints without float
 * noise: 0.84 ms is 0.00084 s, not 0.0008399999999999999.
 */
const rounded = (value: number, decimals: number): number => Number(value.toFixed(decimals))

/** The metrics of a health run for Prometheus (node_exporter's textfile collector); seconds to the microsecond, ratios to 4 places. */
export function healthMetrics(report: HealthReport): MetricFamily[] {
  const label = (r: RdsHealthResult) => ({rds: r.name})
  const statuses: Array<Exclude<HealthStatus, 'unknown'>> = ['healthy', 'degraded', 'down']
  return [
    {
      name: 'raiops_rds_up',
      help: 'Whether the RDS answered its health probe within the timeout (1) or is down (0).',
      type: 'gauge',
      samples: report.results.map((r) => ({labels: label(r), value: r.status === 'down' ? 0 : 1})),
    },
    {
      name: 'raiops_rds_latency_seconds',
      help: 'Round trip of SELECT 1 on an open connection, in seconds.',
      type: 'gauge',
      samples: report.results.filter((r) => r.latencyMs !== null).map((r) => ({labels: label(r), value: rounded((r.latencyMs as number) / 1000, 6)})),
    },
    {
      name: 'raiops_rds_connections_used_ratio',
      help: 'Connections in use over the server limit (MySQL Threads_connected / max_connections, PostgreSQL backends / max_connections).',
      type: 'gauge',
      samples: report.results
        .filter((r) => r.connectionsUsedRatio !== null)
        .map((r) => ({labels: label(r), value: rounded(r.connectionsUsedRatio as number, 4)})),
    },
    {
      name: 'raiops_rds_health_status',
      help: 'The health status of the RDS: 1 for its current status, 0 for the others.',
      type: 'gauge',
      samples: report.results.flatMap((r) => statuses.map((status) => ({labels: {...label(r), status}, value: r.status === status ? 1 : 0}))),
    },
    {
      name: 'raiops_rds_health_checked_timestamp_seconds',
      help: 'When the RDS was probed, as a Unix time in seconds.',
      type: 'gauge',
      samples: report.results.map((r) => ({labels: label(r), value: Math.floor(Date.parse(r.checkedAt) / 1000)})),
    },
  ]
}

/** A JUnit report: one test case per RDS, failed when its status is at or below `failOn`. */
export function healthJunit(report: HealthReport, failOn: FailOn): JunitSuite {
  return {
    name: 'raiops rds:health',
    timestamp: report.checkedAt,
    time: report.durationMs / 1000,
    cases: report.results.map((r) => {
      const lines = [
        `status: ${r.status}`,
        ...(r.latencyMs === null ? [] : [`latency: ${ms(r.latencyMs)} ms`]),
        ...(r.serverVersion ? [`server: ${r.serverVersion}`] : []),
        ...r.reasons.map((reason) => `- ${reason}`),
      ]
      return {
        classname: `raiops.rds.${r.engine}`,
        name: r.name,
        time: r.durationMs / 1000,
        output: lines.join('\n'),
        ...(isAtOrBelow(r.status, failOn)
          ? {failure: {type: r.status, message: `${r.name} is ${r.status}: ${r.reasons.join('; ')}`, body: lines.join('\n')}}
          : {}),
      }
    }),
  }
}

const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const

/** Latency as a sparkline from zero to the RDS's own maximum; a down check is a red ×, a missing latency a space. */
export function sparkline(c: ChalkInstance, checks: RdsHealthHistory['checks']): string {
  const values = checks.map((p) => p.latencyMs).filter((v): v is number => v !== null)
  // Scaled from zero, so jitter of a fraction of a millisecond stays flat.
  const max = values.length > 0 ? values.reduce((a, b) => Math.max(a, b)) : 0
  return checks
    .map((p) => {
      if (p.status === 'down') return c.red('×')
      if (p.latencyMs === null) return ' '
      const level = max === 0 ? 0 : Math.round((p.latencyMs / max) * (SPARKS.length - 1))
      const spark = SPARKS[level]
      return p.status === 'degraded' ? c.yellow(spark) : spark
    })
    .join('')
}

export function historyColumns(c: ChalkInstance): Column<RdsHealthHistory>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'now', cell: (r) => colourHealth(c, r.status), plain: (r) => r.status},
    {header: 'checks', cell: (r) => String(r.total), plain: (r) => r.total, priority: 3},
    {header: 'uptime', cell: (r) => (r.uptime === null ? c.dim('no checks') : colourUptime(c, r.uptime)), plain: (r) => r.uptime, priority: 2},
    {
      header: 'latency ms (min/avg/max)',
      cell: (r) => (r.latency ? `${ms(r.latency.min)}/${ms(r.latency.avg)}/${ms(r.latency.max)}` : ''),
      plain: (r) => (r.latency ? `${r.latency.min}/${r.latency.avg}/${r.latency.max}` : null),
      priority: 3,
    },
    // Cut from the start: the newest checks are the ones kept.
    {
      header: 'recent (oldest → newest)',
      cell: (r) => sparkline(c, r.checks),
      plain: (r) => r.checks.map((p) => p.status).join(' '),
      overflow: 'truncate-start',
      minWidth: 12,
      priority: 2,
    },
  ]
}

function colourUptime(c: ChalkInstance, uptime: number): string {
  const text = `${(uptime * 100).toFixed(uptime === 1 || uptime === 0 ? 0 : 2)} %`
  return uptime >= 0.999 ? c.green(text) : uptime >= 0.95 ? c.yellow(text) : c.red(text)
}

export function historyHeading(history: HealthHistory): string {
  return `health checks from ${history.since} to ${history.until}`
}

/** A probe's report in one --format; `failOn` decides the failed JUnit cases, `layout` the table's. */
export function healthReporter(format: HealthFormat, c: ChalkInstance, failOn: FailOn, layout: TableLayout = {}): (report: HealthReport) => string {
  const reporters: Record<HealthFormat, (report: HealthReport) => string> = {
    prometheus: (report) => renderPrometheus(healthMetrics(report)),
    junit: (report) => renderJunit(healthJunit(report, failOn)),
    ndjson: (report) => renderNdjson(report.results),
    json: (report) => renderJson(report),
    csv: (report) => renderList(report.results, healthColumns(c), 'csv', layout),
    table: (report) => (report.results.length === 0 ? '' : `${renderList(report.results, healthColumns(c), 'table', layout)}${healthSummary(c, report)}\n`),
  }
  return reporters[format]
}

/** The stored checks in one --format (prometheus and junit are for a probe), a table laid out as `layout` says. */
export function historyReporter(
  format: Exclude<HealthFormat, 'prometheus' | 'junit'>,
  c: ChalkInstance,
  layout: TableLayout = {},
): (history: HealthHistory) => string {
  const reporters: Record<typeof format, (history: HealthHistory) => string> = {
    table: (history) => `${c.dim(historyHeading(history))}\n${renderList(history.rds, historyColumns(c), 'table', layout)}`,
    csv: (history) => renderList(history.rds, historyColumns(c), 'csv', layout),
    ndjson: (history) => renderList(history.rds, historyColumns(c), 'ndjson'),
    json: (history) => renderJson(history),
  }
  return reporters[format]
}

/** Exit 4 when any probed RDS is at or below `failOn`, else 0. */
export function healthExitCode(report: HealthReport, failOn: FailOn): ExitCode {
  return report.results.some((r) => isAtOrBelow(r.status, failOn)) ? ExitCode.unhealthy : ExitCode.ok
}

/** Each probe's end as the spinner's text. */
export const showProbe =
  (progress: Progress) =>
  (result: RdsHealthResult, done: number, total: number): void =>
    progress.update(`probed ${done}/${total} · last: ${result.name} ${result.status}`)
