import type {HealthStatus} from '../db/tables.js'
import type {HealthProbe, ProbeStep} from './probe.js'

export {HEALTH_STATUSES, type HealthStatus} from '../db/tables.js'

/** The thresholds of the status rules (README "Health status rules", `rds:health --help`). */
export interface HealthThresholds {
  /** A `SELECT 1` round trip above this is slow: degraded. */
  slowMs: number
  /** Connection usage above this ratio is degraded. */
  maxConnectionsRatio: number
}

export const DEFAULT_SLOW_MS = 250
export const DEFAULT_MAX_CONNECTIONS_RATIO = 0.9

export type CheckOutcome = 'ok' | 'degraded' | 'down' | 'skipped'

/** One check of a probe, with its own result and, when it is not ok, its reason. */
export interface HealthCheck {
  name: ProbeStep
  outcome: CheckOutcome
  /** The measured value where there is one: latency ms, usage ratio, missing tables… */
  value: number | string | string[] | null
  reason: string | null
}

export interface HealthAssessment {
  status: Exclude<HealthStatus, 'unknown'>
  /** Why it is degraded or down; empty when healthy. */
  reasons: string[]
  checks: HealthCheck[]
}

/** The order of the statuses, worst first: `down` < `degraded` < `healthy`. */
const RANK: Record<HealthStatus, number> = {down: 0, degraded: 1, unknown: 1, healthy: 2}

/** Whether `status` is at or below `threshold` (`never`: nothing is). */
export function isAtOrBelow(status: HealthStatus, threshold: HealthStatus | 'never'): boolean {
  if (threshold === 'never') return false
  return RANK[status] <= RANK[threshold]
}

/**
 * The status rules:
 * - down: the server could not be connected to, authenticated against, or
 *   queried within the probe's deadline;
 * - degraded: the round trip is over `slowMs`, a required table is missing, a
 *   check failed (schema, providers database, connection usage), or connection
 *   usage is over `maxConnectionsRatio`;
 * - healthy otherwise.
 */
export function assessHealth(probe: HealthProbe, thresholds: HealthThresholds): HealthAssessment {
  const checks: HealthCheck[] = []
  const add = (name: ProbeStep, outcome: CheckOutcome, value: HealthCheck['value'], reason: string | null) => checks.push({name, outcome, value, reason})
  const failure = probe.failure

  if (!probe.connected) {
    add('connect', 'down', null, failure?.error ?? 'no connection')
  } else {
    add('connect', 'ok', probe.serverVersion, null)
  }

  if (probe.latencyMs !== null) {
    const slow = probe.latencyMs > thresholds.slowMs
    add(
      'latency',
      slow ? 'degraded' : 'ok',
      probe.latencyMs,
      slow ? `slow: SELECT 1 took ${formatMs(probe.latencyMs)} ms (over ${thresholds.slowMs} ms)` : null,
    )
  } else if (probe.connected) {
    add('latency', 'down', null, failure?.error ?? 'no answer to SELECT 1')
  }

  const schema = probe.schema
  if (schema && 'error' in schema) add('schema', 'degraded', null, `schema check failed: ${schema.error}`)
  else if (schema && schema.missing.length > 0) {
    add('schema', 'degraded', schema.missing, `missing table${schema.missing.length > 1 ? 's' : ''} ${schema.missing.join(', ')} in the RAI database`)
  } else if (schema) add('schema', 'ok', [], null)

  const providers = probe.providers
  if (providers) add('providers', providers.ok ? 'ok' : 'degraded', providers.name, providers.ok ? null : providers.error)

  const connections = probe.connections
  if (connections && 'error' in connections) add('connections', 'degraded', null, `connection usage unreadable: ${connections.error}`)
  else if (connections) {
    const ratio = connections.max > 0 ? connections.used / connections.max : null
    const high = ratio !== null && ratio > thresholds.maxConnectionsRatio
    add(
      'connections',
      high ? 'degraded' : ratio === null ? 'skipped' : 'ok',
      ratio === null ? null : Math.round(ratio * 10_000) / 10_000,
      high ? `connections ${connections.used}/${connections.max} in use (over ${Math.round(thresholds.maxConnectionsRatio * 100)} %)` : null,
    )
  }

  // A step cut short by the deadline after the connection was made is down too.
  if (probe.connected && failure && !checks.some((c) => c.name === failure.step && c.outcome === 'down')) {
    add(failure.step, 'down', null, failure.error)
  }

  const reasons = checks.filter((c) => c.outcome === 'down' || c.outcome === 'degraded').map((c) => c.reason ?? c.name)
  const status = checks.some((c) => c.outcome === 'down') ? 'down' : reasons.length > 0 ? 'degraded' : 'healthy'
  return {status, reasons, checks}
}

function formatMs(ms: number): string {
  return ms >= 10 ? String(Math.round(ms)) : ms.toFixed(1)
}
