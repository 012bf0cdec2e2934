import type {OpsContext} from '../context.js'
import {SYNC_RUNS_TABLE} from '../db/tables.js'
import {toBool, toIso} from '../db/values.js'
import type {LeaseInfo} from '../lease/lease.js'
import {listRdsRows} from '../rds/repository.js'
import {runningSyncs} from './index.js'
import {latestRuns, SYNC_KINDS, type SyncKind, type SyncRunRecord} from './runs.js'

export interface SyncKindStatus {
  kind: SyncKind
  /** The newest run of the kind (for tenants: the whole run, across RDS). */
  lastRun: SyncRunRecord | null
  /** When the kind last finished ok. */
  lastOkAt: string | null
  /** How old the data is: now − lastOkAt, ms; null when it never succeeded. */
  staleMs: number | null
  /** The run holding the kind's lease right now, if any. */
  running: LeaseInfo | null
}

export interface RdsSyncStatus {
  id: number
  name: string
  active: boolean
  /** The newest tenant sync of this RDS. */
  lastRun: SyncRunRecord | null
  lastOkAt: string | null
  staleMs: number | null
}

export interface SyncStatusReport {
  generatedAt: string
  kinds: SyncKindStatus[]
  rds: RdsSyncStatus[]
}

/**
 * When each RDS (or, for the summary rows of the tenant sync, the run as a
 * whole) last refreshed its data: a run that refreshed some RDS (partial) counts
 * for the kind; the per-RDS rows say which.
 */
async function lastOk(ctx: Pick<OpsContext, 'db'>, kind: SyncKind, rdsScope: 'summary' | 'per-rds'): Promise<Map<number | null, string>> {
  const query = ctx.db(SYNC_RUNS_TABLE).select('rds_instance_id').max({at: 'finished_at'}).where({kind}).groupBy('rds_instance_id')
  if (rdsScope === 'summary') query.whereNull('rds_instance_id').whereIn('status', ['ok', 'partial'])
  else query.where({status: 'ok'})
  const rows = await query
  return new Map(rows.map((r) => [r.rds_instance_id === null ? null : Number(r.rds_instance_id), toIso(r.at) ?? '']))
}

/**
 * Per sync kind and per RDS: the last run, its outcome and counts, and how stale
 * the data is (time since the last successful run). Read from sync_runs and the
 * leases; nothing is contacted.
 */
export async function syncStatus(ctx: Pick<OpsContext, 'db' | 'now'>): Promise<SyncStatusReport> {
  const now = ctx.now()
  const [runs, running, rdsRows, tenantsOk, tenantsByRds, routingOk] = await Promise.all([
    latestRuns(ctx.db),
    runningSyncs(ctx),
    listRdsRows(ctx.db),
    lastOk(ctx, 'tenants', 'summary'),
    lastOk(ctx, 'tenants', 'per-rds'),
    lastOk(ctx, 'routing', 'per-rds'),
  ])
  const age = (at: string | null | undefined) => (at ? now.getTime() - Date.parse(at) : null)
  const newest = (list: SyncRunRecord[]) => list.reduce<SyncRunRecord | null>((a, b) => (a === null || b.id > a.id ? b : a), null)
  const kinds = SYNC_KINDS.map((kind): SyncKindStatus => {
    const ofKind = runs.filter((r) => r.kind === kind)
    const lastRun = kind === 'tenants' ? newest(ofKind.filter((r) => r.rdsInstanceId === null)) : newest(ofKind)
    const okTimes = kind === 'tenants' ? [tenantsOk.get(null)] : [...routingOk.values()]
    const lastOkAt =
      okTimes
        .filter((t): t is string => Boolean(t))
        .sort()
        .at(-1) ?? null
    return {kind, lastRun, lastOkAt, staleMs: age(lastOkAt), running: running[kind]}
  })
  const rds = rdsRows.map((row): RdsSyncStatus => {
    const id = Number(row.id)
    const lastOkAt = tenantsByRds.get(id) ?? null
    return {
      id,
      name: row.name,
      active: toBool(row.is_active),
      lastRun: runs.find((r) => r.kind === 'tenants' && r.rdsInstanceId === id) ?? null,
      lastOkAt,
      staleMs: age(lastOkAt),
    }
  })
  return {generatedAt: now.toISOString(), kinds, rds}
}
