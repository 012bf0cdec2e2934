import type {OpsContext} from '../context.js'
import {RDS_TABLE, HEALTH_CHECKS_TABLE} from '../db/tables.js'
import {toBool, toIso, toNumberOrNull} from '../db/values.js'
import {fanOut} from '../fleet/fan-out.js'
import {probeHealth, type HealthProbe} from '../health/probe.js'
import {assessHealth, DEFAULT_MAX_CONNECTIONS_RATIO, type HealthCheck} from '../health/rules.js'
import {listRdsRows, selectRds, toRdsView} from './repository.js'
import {connectionSpecFor} from './service.js'
import type {HealthStatus, RdsEngine, RdsInstanceRow, RdsState} from './types.js'

/** One RDS after one probe. */
export interface RdsHealthResult {
  id: number
  name: string
  engine: RdsEngine
  host: string | null
  port: number | null
  state: RdsState
  isMaster: boolean
  status: Exclude<HealthStatus, 'unknown'>
  /** Why it is degraded or down (empty when healthy). */
  reasons: string[]
  /** `SELECT 1` round trip, ms; null when the server did not answer it. */
  latencyMs: number | null
  serverVersion: string | null
  /** Connections in use over the server's limit (0…1); null when unknown or not applicable. */
  connectionsUsedRatio: number | null
  checks: HealthCheck[]
  /** How long the whole probe took, ms. */
  durationMs: number
  checkedAt: string
}

export interface HealthReport {
  checkedAt: string
  /** Wall time of the whole run, ms. */
  durationMs: number
  timeoutMs: number
  slowMs: number
  counts: Record<'healthy' | 'degraded' | 'down', number>
  results: RdsHealthResult[]
}

export interface HealthRunOptions {
  /** RDS names or ids; empty or absent: every active RDS. */
  refs?: readonly string[]
  /** Each probe's deadline: a server that has not answered every step by then is down. */
  timeoutMs: number
  slowMs: number
  maxConnectionsRatio?: number
  /** Probes at once (default 64): dead servers cost their deadline in parallel, not one after another. */
  concurrency?: number
  /** Checks older than this are deleted from health_checks as new ones are stored (default 30 days). */
  keepMs?: number
  /** Called as each probe ends (progress display). */
  onResult?: (result: RdsHealthResult, done: number, total: number) => void
  /** Stops the run (Ctrl-C during a watch): the probes in progress are abandoned, nothing is recorded, the reason is thrown. */
  signal?: AbortSignal
}

export const DEFAULT_HEALTH_CONCURRENCY = 64
export const DEFAULT_HEALTH_KEEP_MS = 30 * 86_400_000

/**
 * Probes every active RDS (or the named ones) concurrently, each within its own
 * deadline, so the run lasts about as long as its slowest probe whatever the
 * number of dead servers; then stores each outcome on `rds_instances` and in
 * `health_checks`. Failures are results (status down), never thrown.
 */
export async function runHealth(ctx: OpsContext, options: HealthRunOptions): Promise<HealthReport> {
  const started = performance.now()
  const rows = await selectRds(ctx.db, options.refs)
  // A wrong master key stops the run here; one unreadable secret only fails its own RDS.
  if (rows.some((row) => row.password_enc)) await ctx.keyring()
  const thresholds = {slowMs: options.slowMs, maxConnectionsRatio: options.maxConnectionsRatio ?? DEFAULT_MAX_CONNECTIONS_RATIO}
  const results: RdsHealthResult[] = new Array(rows.length)
  let done = 0

  await fanOut(
    rows,
    async (row, signal) => {
      const spec = await connectionSpecFor(ctx, row)
      const probe = await probeHealth(
        ctx.fleet,
        {spec, isMaster: toBool(row.is_master), providersDatabase: row.providers_database},
        {deadlineMs: options.timeoutMs, signal},
      )
      // A server that did not answer in time is given up: its sockets are cut now, not at exit.
      if (probe.failure?.timedOut) ctx.fleet.abandon(spec.id)
      return probe
    },
    {
      signal: options.signal,
      concurrency: options.concurrency ?? DEFAULT_HEALTH_CONCURRENCY,
      // The probe ends itself at its deadline; this only backs it up.
      deadlineMs: options.timeoutMs + 1000,
      onResult: (outcome, index) => {
        const probe: HealthProbe = outcome.ok
          ? outcome.value
          : {
              serverVersion: null,
              latencyMs: null,
              connected: false,
              failure: {step: 'connect', error: outcome.error, timedOut: outcome.timedOut},
              schema: null,
              providers: null,
              connections: null,
            }
        if (!outcome.ok && outcome.timedOut) ctx.fleet.abandon(Number(outcome.item.id))
        const result = toResult(outcome.item, probe, thresholds, outcome.ms, ctx.now())
        results[index] = result
        done++
        options.onResult?.(result, done, rows.length)
      },
    },
  )
  const now = ctx.now()
  // The run's own instant: the checks are dated with it, and the window kept is counted from it.
  await recordHealth({db: ctx.db, now: () => now}, {results, keepMs: options.keepMs ?? DEFAULT_HEALTH_KEEP_MS})
  const counts = {healthy: 0, degraded: 0, down: 0}
  for (const result of results) counts[result.status]++
  return {
    checkedAt: now.toISOString(),
    durationMs: Math.round(performance.now() - started),
    timeoutMs: options.timeoutMs,
    slowMs: options.slowMs,
    counts,
    results,
  }
}

function toResult(row: RdsInstanceRow, probe: HealthProbe, thresholds: Parameters<typeof assessHealth>[1], ms: number, now: Date): RdsHealthResult {
  const assessment = assessHealth(probe, thresholds)
  const usage = assessment.checks.find((c) => c.name === 'connections')
  const {id, name, engine, host, port, state, isMaster} = toRdsView(row)
  return {
    id,
    name,
    engine,
    host,
    port,
    state,
    isMaster,
    status: assessment.status,
    reasons: assessment.reasons,
    latencyMs: probe.latencyMs,
    serverVersion: probe.serverVersion,
    connectionsUsedRatio: typeof usage?.value === 'number' ? usage.value : null,
    checks: assessment.checks,
    durationMs: ms,
    checkedAt: now.toISOString(),
  }
}

/**
 * Stores the outcome of a run in one transaction: the current health on each
 * `rds_instances` row, one `health_checks` row per probe, and drops checks
 * older than `keepMs`. An RDS removed meanwhile is skipped.
 */
export async function recordHealth(ctx: Pick<OpsContext, 'db' | 'now'>, input: {results: readonly RdsHealthResult[]; keepMs: number}): Promise<void> {
  const {results, keepMs} = input
  if (results.length === 0) return
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    const ids = results.map((r) => r.id)
    const existing = new Set((await tx(RDS_TABLE).whereIn('id', ids).pluck('id')).map(Number))
    const stored = results.filter((r) => existing.has(r.id))
    for (const result of stored) {
      await tx(RDS_TABLE)
        .where({id: result.id})
        .update({
          health_status: result.status,
          health_checked_at: new Date(result.checkedAt),
          health_latency_ms: result.latencyMs,
          health_error: result.reasons.length > 0 ? result.reasons.join('; ') : null,
        })
    }
    const rows = stored.map((r) => ({
      rds_instance_id: r.id,
      status: r.status,
      latency_ms: r.latencyMs,
      details: JSON.stringify({
        reasons: r.reasons,
        serverVersion: r.serverVersion,
        connectionsUsedRatio: r.connectionsUsedRatio,
        checks: r.checks,
      }),
      checked_at: new Date(r.checkedAt),
    }))
    for (let i = 0; i < rows.length; i += 200) await tx(HEALTH_CHECKS_TABLE).insert(rows.slice(i, i + 200))
    await tx(HEALTH_CHECKS_TABLE)
      .where('checked_at', '<', new Date(now.getTime() - keepMs))
      .delete()
  })
}

/** One stored check, as the history shows it. */
export interface HealthPoint {
  checkedAt: string
  status: HealthStatus
  latencyMs: number | null
}

export interface RdsHealthHistory {
  id: number
  name: string
  /** The current health on the registry row. */
  status: HealthStatus
  /** Checks in the window, oldest first (at most `points`, the most recent). */
  checks: HealthPoint[]
  /** All checks in the window. */
  total: number
  /** Checks in the window that were not down. */
  up: number
  /** up / total; null with no checks in the window. */
  uptime: number | null
  latency: {min: number; avg: number; max: number} | null
}

export interface HealthHistory {
  since: string
  until: string
  rds: RdsHealthHistory[]
}

export interface HealthHistoryOptions {
  refs?: readonly string[]
  /** The window: checks since now − windowMs. */
  windowMs: number
  /** Most recent checks listed per RDS (default 40). */
  points?: number
}

/** The recent checks per RDS, with uptime (share of checks not down) and latency over the window. */
export async function healthHistory(ctx: Pick<OpsContext, 'db' | 'now'>, options: HealthHistoryOptions): Promise<HealthHistory> {
  const rows = options.refs && options.refs.length > 0 ? await selectRds(ctx.db, options.refs) : await listRdsRows(ctx.db)
  const until = ctx.now()
  const since = new Date(until.getTime() - options.windowMs)
  const points = options.points ?? 40
  const byRds = new Map<number, HealthPoint[]>()
  const ids = rows.map((r) => Number(r.id))
  for (let i = 0; i < ids.length; i += 500) {
    const checks = await ctx
      .db(HEALTH_CHECKS_TABLE)
      .select('rds_instance_id', 'status', 'latency_ms', 'checked_at')
      .whereIn('rds_instance_id', ids.slice(i, i + 500))
      .where('checked_at', '>=', since)
      .orderBy([{column: 'rds_instance_id'}, {column: 'checked_at'}, {column: 'id'}])
    for (const check of checks) {
      const id = Number(check.rds_instance_id)
      const list = byRds.get(id) ?? []
      list.push({checkedAt: toIso(check.checked_at) ?? '', status: check.status, latencyMs: toNumberOrNull(check.latency_ms)})
      byRds.set(id, list)
    }
  }
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    rds: rows.map((row) => {
      const all = byRds.get(Number(row.id)) ?? []
      const up = all.filter((c) => c.status !== 'down').length
      const latencies = all.map((c) => c.latencyMs).filter((v): v is number => v !== null)
      return {
        id: Number(row.id),
        name: row.name,
        status: row.health_status,
        checks: all.slice(-points),
        total: all.length,
        up,
        uptime: all.length === 0 ? null : up / all.length,
        latency:
          latencies.length === 0
            ? null
            : {
                min: latencies.reduce((a, b) => Math.min(a, b)),
                avg: Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 100) / 100,
                max: latencies.reduce((a, b) => Math.max(a, b)),
              },
      }
    }),
  }
}
