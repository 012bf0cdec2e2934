import type {OpsContext} from '../context.js'
import {fanOut} from '../fleet/fan-out.js'
import {testConnection} from '../fleet/probe.js'
import {getRds, listRdsRows} from './repository.js'
import {connectionSpecFor} from './service.js'

export interface RdsTestResult {
  id: number
  name: string
  engine: string
  ok: boolean
  latencyMs: number | null
  serverVersion: string | null
  error: string | null
}

/** Connects to each RDS, runs SELECT 1 and reads the server version, concurrently with a deadline each. */
export async function testRds(ctx: OpsContext, input: {refs: string[]; all?: boolean; concurrency?: number; deadlineMs?: number}): Promise<RdsTestResult[]> {
  const {refs, ...options} = input
  const rows = options.all || refs.length === 0 ? await listRdsRows(ctx.db, {activeOnly: true}) : await Promise.all(refs.map((ref) => getRds(ctx.db, ref)))
  const deadlineMs = options.deadlineMs ?? ctx.fleetOptions.connectTimeoutMs + 2000
  // A wrong master key stops the run here; one unreadable secret only fails its own RDS, in its task.
  if (rows.some((row) => row.password_enc)) await ctx.keyring()
  const results = await fanOut(rows, async (row, signal) => testConnection(ctx.fleet, await connectionSpecFor(ctx, row), {deadlineMs, signal}), {
    concurrency: options.concurrency ?? 8,
    deadlineMs,
  })
  return results.map((r) => {
    const base = {id: Number(r.item.id), name: r.item.name, engine: r.item.engine}
    if (!r.ok) return {...base, ok: false, latencyMs: null, serverVersion: null, error: r.error}
    const probe = r.value
    return probe.ok
      ? {...base, ok: true, latencyMs: probe.latencyMs, serverVersion: probe.serverVersion, error: null}
      : {...base, ok: false, latencyMs: null, serverVersion: null, error: probe.error}
  })
}
