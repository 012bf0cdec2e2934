import type {Knex} from 'knex'

import type {RdsConnectionSpec, RdsEngine} from '../db/connection-spec.js'
import {describeDriverError} from '../db/driver-errors.js'
import {rowsOf, VERSION_SQL} from '../db/raw-rows.js'
import type {ConnectionRegistry} from '../db/registry.js'
import {withDeadline} from '../deadline.js'

export type ProbeResult =
  | {ok: true; latencyMs: number; serverVersion: string}
  | {
      ok: false
      /** The real cause in one line (refused, timed out, access denied…), never the password. */
      error: string
      /** True when the probe's own deadline (or the caller's signal) ended it. */
      timedOut: boolean
    }

export interface ProbeOptions {
  /** The whole probe (connect, version, round trip) ends by then. */
  deadlineMs: number
  /** Aborting it ends the probe at once (a fan-out deadline). */
  signal?: AbortSignal
}

async function serverVersionOf(db: Knex, engine: RdsEngine, timeoutMs: number): Promise<string> {
  const rows = rowsOf(await db.raw(VERSION_SQL[engine]).timeout(timeoutMs))
  const row = rows[0] ?? {}
  const value = row.version
  return value === undefined || value === null ? 'unknown' : String(value)
}

/**
 * Connects to one RDS, reads its server version and times a `SELECT 1` round
 * trip on the open connection. Never throws: a failure comes back as the real
 * cause in one line. Every query carries a timeout and the whole probe ends by
 * `deadlineMs`, whatever the server does.
 */
export async function testConnection(registry: ConnectionRegistry, spec: RdsConnectionSpec, options: ProbeOptions): Promise<ProbeResult> {
  const {deadlineMs, signal} = options
  const started = performance.now()
  const remaining = () => Math.max(1, Math.floor(deadlineMs - (performance.now() - started)))

  const work = async (): Promise<ProbeResult> => {
    const db = await registry.get(spec)
    // The first query pays for the connection (handshake, session setup).
    const serverVersion = await serverVersionOf(db, spec.engine, remaining())
    const roundTripStart = performance.now()
    await db.raw('SELECT 1').timeout(remaining())
    return {ok: true, latencyMs: Math.round(performance.now() - roundTripStart), serverVersion}
  }

  const timedOut = (why: string): ProbeResult => ({ok: false, error: why, timedOut: true})
  return withDeadline(() => work().catch((error: unknown): ProbeResult => ({ok: false, error: describeDriverError(error), timedOut: false})), {
    deadlineMs,
    onDeadline: () => timedOut(`timed out after ${deadlineMs} ms: no answer from the server`),
    signal,
    onAbort: (reason) => timedOut(reason instanceof Error ? reason.message : 'cancelled'),
  })
}
