import {hostname} from 'node:os'

import {insertReturningId, type Db} from '../db/control-db.js'
import {SYNC_RUNS_TABLE} from '../db/tables.js'
import type {SyncRunStatus, SyncRunRow} from '../db/tables.js'
import {toIso, toNumberOrNull} from '../db/values.js'

export const SYNC_KINDS = ['tenants', 'routing'] as const
export type SyncKind = (typeof SYNC_KINDS)[number]
/** What a sync_runs row records: the kinds sync:status reports, and the ghost-user sync. */
export type RunKind = SyncKind | 'ghost-users'

/** `running` while a run lives; a run whose process died is marked `failed` by the next run that takes its lease. */
export type {SyncRunStatus} from '../db/tables.js'

/** What a run did, by row. Every count is present (0 when nothing happened). */
export interface SyncCounts {
  inserted: number
  updated: number
  unchanged: number
  /** Tenants: vanished upstream (marked, kept). Routing: rows deleted from the cache by --full/--truncate. */
  missing: number
  skipped: number
  /** Fleet rows that break the contract, kept with a fallback or left out (the result's invalidRows says which and why). */
  invalid: number
}

export const ZERO_COUNTS: SyncCounts = {inserted: 0, updated: 0, unchanged: 0, missing: 0, skipped: 0, invalid: 0}

export interface SyncRunRecord {
  id: number
  kind: string
  rdsInstanceId: number | null
  startedAt: string
  finishedAt: string | null
  status: SyncRunStatus
  stats: (SyncCounts & Record<string, unknown>) | null
  error: string | null
  host: string | null
  durationMs: number | null
}

/** Opens a run record (status `running`). */
export async function startRun(db: Db, kind: RunKind, rdsInstanceId: number | null, startedAt: Date): Promise<number> {
  return insertReturningId(db, SYNC_RUNS_TABLE, {
    kind,
    rds_instance_id: rdsInstanceId,
    started_at: startedAt,
    status: 'running',
    host: hostname(),
  })
}

/** Closes a run record with its outcome, counts and error (one line, no secret). */
export async function finishRun(
  db: Db,
  id: number,
  outcome: {status: Exclude<SyncRunStatus, 'running'>; stats?: Record<string, unknown> | null; error?: string | null; finishedAt: Date},
): Promise<void> {
  await db(SYNC_RUNS_TABLE)
    .where({id})
    .update({
      status: outcome.status,
      stats: outcome.stats ? JSON.stringify(outcome.stats) : null,
      error: outcome.error ?? null,
      finished_at: outcome.finishedAt,
    })
}

/** Writes a finished run in one go (a skipped RDS). */
export async function recordRun(
  db: Db,
  kind: RunKind,
  rdsInstanceId: number | null,
  outcome: {
    status: Exclude<SyncRunStatus, 'running'>
    stats?: Record<string, unknown> | null
    error?: string | null
    startedAt: Date
    finishedAt: Date
  },
): Promise<number> {
  return insertReturningId(db, SYNC_RUNS_TABLE, {
    kind,
    rds_instance_id: rdsInstanceId,
    started_at: outcome.startedAt,
    finished_at: outcome.finishedAt,
    status: outcome.status,
    stats: outcome.stats ? JSON.stringify(outcome.stats) : null,
    error: outcome.error ?? null,
    host: hostname(),
  })
}

/**
 * Runs of `kind` left `running` by a process that died: called once the lease is
 * ours, so no live run can own them. `rdsIds` limits it to this run's RDS (a
 * shard's lease covers only its own); null: every run of the kind. Returns how
 * many were closed.
 */
export async function closeInterruptedRuns(db: Db, kind: RunKind, rdsIds: readonly number[] | null, now: Date): Promise<number> {
  const close: Partial<SyncRunRow> = {
    status: 'failed',
    error: 'interrupted: the run ended without finishing (killed or crashed)',
    finished_at: now,
  }
  if (rdsIds === null) return db(SYNC_RUNS_TABLE).where({kind, status: 'running'}).update(close)
  let closed = 0
  for (let i = 0; i < rdsIds.length; i += 500) {
    closed += await db(SYNC_RUNS_TABLE)
      .where({kind, status: 'running'})
      .whereIn('rds_instance_id', rdsIds.slice(i, i + 500))
      .update(close)
  }
  return closed
}

export function toRunRecord(row: SyncRunRow): SyncRunRecord {
  const startedAt = toIso(row.started_at) ?? ''
  const finishedAt = toIso(row.finished_at)
  let stats: SyncRunRecord['stats'] = null
  try {
    stats = row.stats ? (JSON.parse(row.stats) as SyncRunRecord['stats']) : null
  } catch {
    stats = null
  }
  return {
    id: Number(row.id),
    kind: row.kind,
    rdsInstanceId: toNumberOrNull(row.rds_instance_id),
    startedAt,
    finishedAt,
    status: row.status,
    stats,
    error: row.error,
    host: row.host,
    durationMs: finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
  }
}

/** When each RDS last synced `kind` successfully (status ok), by RDS id. */
export async function lastSuccessByRds(db: Db, kind: SyncKind, rdsIds: readonly number[]): Promise<Map<number, string>> {
  const result = new Map<number, string>()
  for (let i = 0; i < rdsIds.length; i += 500) {
    const rows = await db(SYNC_RUNS_TABLE)
      .select('rds_instance_id')
      .max({finished: 'finished_at'})
      .where({kind, status: 'ok'})
      .whereIn('rds_instance_id', rdsIds.slice(i, i + 500))
      .groupBy('rds_instance_id')
    for (const row of rows) {
      const at = toIso(row.finished)
      if (at) result.set(Number(row.rds_instance_id), at)
    }
  }
  return result
}

/** The newest run of each (kind, RDS) pair, plus the newest run of each kind. */
export async function latestRuns(db: Db): Promise<SyncRunRecord[]> {
  const latest = db(SYNC_RUNS_TABLE).select('kind', 'rds_instance_id').max({id: 'id'}).groupBy('kind', 'rds_instance_id')
  const rows = await db(SYNC_RUNS_TABLE)
    .join(latest.as('l'), `${SYNC_RUNS_TABLE}.id`, 'l.id')
    .select(`${SYNC_RUNS_TABLE}.*`)
    .orderBy([{column: `${SYNC_RUNS_TABLE}.kind`}, {column: `${SYNC_RUNS_TABLE}.rds_instance_id`}])
  return rows.map(toRunRecord)
}
