import type {Knex} from 'knex'

import {JOBS_TABLE} from '../db/tables.js'
import {toIsoRequired} from '../db/values.js'
import type {JobState} from './kind.js'
import {jobHolderGone} from './lease.js'
import {JOB_STATES} from './store.js'

/** A queued job not started this long after it was due is stuck: no worker is running. */
export const QUEUED_STALE_MS = 10 * 60 * 1000

export interface StuckJob {
  id: number
  kind: string
  tenantName: string | null
  state: JobState
  /** Why it is stuck: its worker died (lease expired, or its process proven gone on this machine), it waits for a worker, or a compensation failed. */
  reason: 'lease-expired' | 'worker-gone' | 'not-picked-up' | 'compensation-failed'
  since: string
}

export type JobsOverview = {
  byState: Record<JobState, number>
  /** The failed jobs, newest first (at most 10). */
  failed: Array<{id: number; kind: string; tenantName: string | null; error: string | null; at: string}>
  stuck: StuckJob[]
}

/** Jobs for the `status` overview: how many in each state, the failed ones, and those stuck. */
export async function jobsOverview(ctx: {db: Knex; now(): Date}, input: {queuedStaleMs?: number} = {}): Promise<JobsOverview> {
  const now = ctx.now()
  const counts = (await ctx.db(JOBS_TABLE).select('state').count({n: '*'}).groupBy('state')) as Array<{state: JobState; n: number | string}>
  const byState = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>
  for (const row of counts) byState[row.state] = Number(row.n)
  const failed = await ctx.db(JOBS_TABLE).where({state: 'failed'}).orderBy('id', 'desc').limit(10).select('id', 'kind', 'tenant_name', 'error', 'updated_at')
  const queuedBefore = new Date(now.getTime() - (input.queuedStaleMs ?? QUEUED_STALE_MS))
  const stuckRows = await ctx
    .db(JOBS_TABLE)
    .where((w) => void w.where({state: 'running'}).andWhere('lease_expires_at', '<', now))
    .orWhere((w) => void w.where({state: 'queued'}).andWhere('run_after', '<', queuedBefore))
    .orWhere((w) => void w.where({state: 'canceling'}).andWhere((lease) => void lease.whereNull('locked_by').orWhere('lease_expires_at', '<', now)))
    .orderBy('id')
    .limit(50)
    .select('id', 'kind', 'tenant_name', 'state', 'locked_by', 'run_after', 'lease_expires_at', 'updated_at')
  // Running or canceling under a live lease, but held by a process of this machine that is gone (killed -9 in the foreground).
  const goneRows = (
    await ctx
      .db(JOBS_TABLE)
      .whereIn('state', ['running', 'canceling'])
      .andWhere('lease_expires_at', '>=', now)
      .orderBy('id')
      .limit(50)
      .select('id', 'kind', 'tenant_name', 'state', 'locked_by', 'heartbeat_at', 'updated_at')
  ).filter((r) => jobHolderGone(r.locked_by))
  const stuck: StuckJob[] = [
    ...stuckRows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      tenantName: r.tenant_name,
      state: r.state,
      reason: (r.state === 'queued'
        ? 'not-picked-up'
        : r.state === 'canceling' && r.locked_by === null
          ? 'compensation-failed'
          : 'lease-expired') as StuckJob['reason'],
      since: toIsoRequired(r.state === 'queued' ? r.run_after : r.locked_by !== null ? r.lease_expires_at : r.updated_at),
    })),
    ...goneRows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      tenantName: r.tenant_name,
      state: r.state,
      reason: 'worker-gone' as const,
      since: toIsoRequired(r.heartbeat_at ?? r.updated_at),
    })),
  ].sort((a, b) => a.id - b.id)
  return {
    byState,
    failed: failed.map((r) => ({id: Number(r.id), kind: r.kind, tenantName: r.tenant_name, error: r.error, at: toIsoRequired(r.updated_at)})),
    stuck,
  }
}
