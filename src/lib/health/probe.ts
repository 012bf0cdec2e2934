import type {Knex} from 'knex'

import type {RdsConnectionSpec, RdsEngine} from '../db/connection-spec.js'
import {describeDriverError} from '../db/driver-errors.js'
import {rowsOf, VERSION_SQL} from '../db/raw-rows.js'
import type {ConnectionRegistry} from '../db/registry.js'
import {withDeadline} from '../deadline.js'

/** The tables of DESIGN.md §2 every RAI database holds; the master also holds `user_email_routing`. */
export const RAI_TABLES = ['tenants', 'users', 'locations'] as const
export const MASTER_TABLES = ['user_email_routing'] as const

/** The steps of a probe, in the order they run. */
export const PROBE_STEPS = ['connect', 'latency', 'schema', 'providers', 'connections'] as const
export type ProbeStep = (typeof PROBE_STEPS)[number]

/** What one probe of one RDS found: raw facts, judged by `assessHealth`. */
export interface HealthProbe {
  /** null when the server was never reached. */
  serverVersion: string | null
  /** `SELECT 1` round trip on the open connection, ms (fractional). */
  latencyMs: number | null
  /** Whether a connection was made and answered at all. */
  connected: boolean
  /** Set when the probe stopped early: the step it was in and why (never a password). */
  failure: {step: ProbeStep; error: string; timedOut: boolean} | null
  /** Required tables not found in the RAI database; null when the check did not run. */
  schema: {required: string[]; missing: string[]} | {error: string} | null
  /** null when no providers database is set, or the check did not run or does not apply. */
  providers: {name: string; ok: true} | {name: string; ok: false; error: string} | null
  /** null when the engine has no such limit (SQLite) or the check did not run. */
  connections: {used: number; max: number} | {error: string} | null
}

export interface HealthProbeTarget {
  spec: RdsConnectionSpec
  isMaster: boolean
  providersDatabase: string | null
}

export interface HealthProbeOptions {
  /** The whole probe ends by then: a server that has not answered every step is down. */
  deadlineMs: number
  /** Aborting it ends the probe at once. */
  signal?: AbortSignal
}

const TABLES_SQL: Record<RdsEngine, string> = {
  mysql: 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()',
  postgres: 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()',
  sqlite: "SELECT name FROM sqlite_master WHERE type = 'table'",
}

const PROVIDERS_SQL: Partial<Record<RdsEngine, string>> = {
  // Listed only when the user holds some privilege in it.
  mysql: 'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name = ?',
  postgres: "SELECT datname AS name FROM pg_database WHERE datname = ? AND has_database_privilege(datname, 'CONNECT')",
}

class StepTimeout extends Error {}

/**
 * Probes one RDS: connects, reads the server version, times a `SELECT 1` round
 * trip, checks the RAI schema, the providers database and connection usage.
 * Never throws and never outlives `deadlineMs`: a step that has not finished
 * by then ends the probe, reported as the step it was in.
 */
export async function probeHealth(registry: ConnectionRegistry, target: HealthProbeTarget, options: HealthProbeOptions): Promise<HealthProbe> {
  const {spec} = target
  const {deadlineMs, signal} = options
  const started = performance.now()
  const remaining = () => Math.max(1, Math.floor(deadlineMs - (performance.now() - started)))
  const probe: HealthProbe = {
    serverVersion: null,
    latencyMs: null,
    connected: false,
    failure: null,
    schema: null,
    providers: null,
    connections: null,
  }
  let step: ProbeStep = 'connect'
  let stopped = false

  const work = async (): Promise<void> => {
    const db = await registry.get(spec)
    const query = async (sql: string, bindings: readonly unknown[] = []) => {
      const rows = rowsOf(await db.raw(sql, bindings as Knex.RawBinding[]).timeout(remaining()))
      if (stopped) throw new StepTimeout()
      return rows
    }

    // The first query pays for the connection (handshake, session setup).
    const [version] = await query(VERSION_SQL[spec.engine])
    probe.connected = true
    probe.serverVersion = String(version?.version ?? 'unknown')

    step = 'latency'
    const roundTrip = performance.now()
    await query('SELECT 1')
    probe.latencyMs = Math.round((performance.now() - roundTrip) * 100) / 100

    // The checks below report their own failure and the probe goes on: only a timeout ends it.
    step = 'schema'
    const required = [...RAI_TABLES, ...(target.isMaster ? MASTER_TABLES : [])]
    probe.schema = await check(async () => {
      const present = new Set(
        (await query(TABLES_SQL[spec.engine])).map((row) => String(row.name ?? row.NAME ?? row.table_name ?? row.TABLE_NAME).toLowerCase()),
      )
      return {required, missing: required.filter((table) => !present.has(table))}
    })

    step = 'providers'
    const providersSql = PROVIDERS_SQL[spec.engine]
    if (target.providersDatabase && providersSql) {
      const name = target.providersDatabase
      probe.providers = await check(
        async () => {
          const rows = await query(providersSql, [name])
          return rows.length > 0
            ? {name, ok: true as const}
            : {name, ok: false as const, error: `providers database "${name}" does not exist or this user may not use it`}
        },
        (error) => ({name, ok: false as const, error}),
      )
    }

    step = 'connections'
    if (spec.engine === 'mysql') {
      probe.connections = await check(async () => {
        const [status] = await query("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        const [limit] = await query('SELECT @@max_connections AS max')
        return usage(status?.Value ?? status?.VALUE, limit?.max)
      })
    } else if (spec.engine === 'postgres') {
      probe.connections = await check(async () => {
        const [row] = await query("SELECT (SELECT sum(numbackends) FROM pg_stat_database) AS used, current_setting('max_connections') AS max")
        return usage(row?.used, row?.max)
      })
    }
  }

  const end = (why: string): void => {
    if (stopped) return
    stopped = true
    probe.failure = {step, error: why, timedOut: true}
  }
  const attempt = () =>
    work().catch((error: unknown) => {
      if (stopped || error instanceof StepTimeout) return
      stopped = true
      probe.failure = {step, error: describeDriverError(error), timedOut: isTimeout(error)}
    })
  await withDeadline(attempt, {
    deadlineMs,
    onDeadline: () =>
      end(
        `timed out after ${deadlineMs} ms ${step === 'connect' ? 'connecting: no answer from the server' : `in the ${step} check: the server stopped answering`}`,
      ),
    signal,
    onAbort: (reason) => end(reason instanceof Error ? reason.message : 'cancelled'),
  })
  return probe
}

/** Runs one check; a query error (not a timeout) becomes the check's own failure. */
async function check<T>(fn: () => Promise<T>, onError: (error: string) => T = (error) => ({error}) as T): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof StepTimeout || isTimeout(error)) throw error
    return onError(describeDriverError(error))
  }
}

function usage(used: unknown, max: unknown): {used: number; max: number} | {error: string} {
  const values = {used: Number(used), max: Number(max)}
  if (used === null || used === undefined || !Number.isFinite(values.used) || !Number.isFinite(values.max)) return {error: 'the server did not report it'}
  return values
}

function isTimeout(error: unknown): boolean {
  const name = (error as {name?: string} | null)?.name
  return name === 'KnexTimeoutError' || name === 'TimeoutError'
}
