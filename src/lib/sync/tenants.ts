import {billingStatuses} from '../billing/billing-status.js'
import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {describeDriverError} from '../db/driver-errors.js'
import {retryOnDeadlock} from '../db/retry.js'
import {TENANT_MASTER_TABLE} from '../db/tables.js'
import type {HealthStatus, TenantMasterRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {DeadlineError} from '../deadline.js'
import {fanOut, inShard, type FanOutResult, type Shard} from '../fleet/fan-out.js'
import {selectRds} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {rescoreUnread, tenantRefresh} from '../tenant/refresh.js'
import type {InvalidRows} from './invalid.js'
import {finishRun, lastSuccessByRds, recordRun, startRun, ZERO_COUNTS, type SyncCounts} from './runs.js'
import {readUpstreamTenants, type UpstreamTenant} from './upstream-tenants.js'

export interface TenantSyncOptions {
  /** RDS names or ids (active or not); absent: every active RDS. */
  refs?: readonly string[]
  /** Only the RDS of this cron worker's shard. */
  shard?: Shard
  /** Sync even an RDS whose last successful sync is younger than maxAgeMs. */
  force?: boolean
  maxAgeMs: number
  /** Servers synced at once. */
  concurrency: number
  /** Each RDS's limit, ms: reading it and writing its tenants. */
  deadlineMs: number
  /** Rows per write statement. Default 500. */
  batchSize?: number
  /** Aborting it (Ctrl-C, lost lease) stops the run: each RDS's transaction is rolled back. */
  signal?: AbortSignal
  onEvent?: (event: TenantSyncEvent) => void
}

export type RdsSyncStatus = 'ok' | 'failed' | 'skipped'

/** One RDS of a tenant sync. */
export interface RdsTenantSync {
  id: number
  name: string
  status: RdsSyncStatus
  /** Tenants read from the RDS (null when it was not read). */
  tenants: number | null
  counts: SyncCounts
  durationMs: number
  error: string | null
  /** For a skipped RDS: when it last synced successfully. */
  lastSyncedAt: string | null
  /** Its tenant rows that break the contract, by reason, with a few ids. */
  invalidRows: InvalidRows[]
}

export type TenantSyncEvent =
  | {type: 'start'; rds: {id: number; name: string}; index: number; total: number}
  | {type: 'progress'; rds: {id: number; name: string}; phase: 'reading' | 'writing'; done: number; total: number}
  | {type: 'done'; result: RdsTenantSync; done: number; total: number}

export type SyncStatus = 'ok' | 'partial' | 'failed' | 'skipped'

export interface TenantSyncReport {
  kind: 'tenants'
  status: SyncStatus
  startedAt: string
  finishedAt: string
  durationMs: number
  totals: SyncCounts
  rds: RdsTenantSync[]
}

const CACHED_COLUMNS = [
  'id',
  'remote_tenant_id',
  'name',
  'primary_contact_name',
  'primary_contact_email',
  'status',
  'cached_user_count',
  'cached_location_count',
  'remote_missing_at',
  'active_user_count',
  'ghost_user_count',
  'last_user_activity_at',
  'health_score',
  'health_signals',
  'search_text',
] as const
type CachedTenant = Pick<TenantMasterRow, (typeof CACHED_COLUMNS)[number]>

/** The RDS a sync covers: the named ones, else every active one; then the shard. */
export async function syncTargets(db: Db, refs: readonly string[] | undefined, shard: Shard | undefined): Promise<RdsInstanceRow[]> {
  const rows = await selectRds(db, refs)
  return shard ? rows.filter((row) => inShard(Number(row.id), shard)) : rows
}

type Refresh = ReturnType<typeof tenantRefresh>

function differs(cached: CachedTenant, fresh: Refresh): boolean {
  return (
    cached.name !== fresh.name ||
    (cached.primary_contact_name ?? null) !== fresh.primary_contact_name ||
    (cached.primary_contact_email ?? null) !== fresh.primary_contact_email ||
    (cached.status ?? null) !== fresh.status ||
    Number(cached.cached_user_count) !== fresh.cached_user_count ||
    Number(cached.cached_location_count) !== fresh.cached_location_count ||
    toIso(cached.remote_missing_at) !== null ||
    cached.active_user_count === null ||
    Number(cached.active_user_count) !== fresh.active_user_count ||
    Number(cached.ghost_user_count) !== fresh.ghost_user_count ||
    toIso(cached.last_user_activity_at) !== toIso(fresh.last_user_activity_at) ||
    cached.health_score === null ||
    Number(cached.health_score) !== fresh.health_score ||
    cached.health_signals !== fresh.health_signals ||
    cached.search_text !== fresh.search_text
  )
}

/**
 * Writes one RDS's tenants to tenant_master in one transaction: new and changed
 * tenants upserted in batches keyed on (rds_instance_id, remote_tenant_id),
 * cache_refreshed_at set on every tenant still upstream, tenants gone upstream
 * marked with remote_missing_at (kept), tenants back upstream cleared.
 */
async function writeTenants(
  ctx: OpsContext,
  rdsId: number,
  upstream: UpstreamTenant[],
  options: {batchSize: number; signal: AbortSignal; rdsHealth: HealthStatus; onBatch: (done: number, total: number) => void},
): Promise<SyncCounts> {
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    const cached = await tx(TENANT_MASTER_TABLE)
      .select(...CACHED_COLUMNS)
      .where({rds_instance_id: rdsId})
    const byRemoteId = new Map(cached.map((row) => [Number(row.remote_tenant_id), row]))
    // The subscriptions of this RDS's tenants, for their scores: one query.
    const billing = new Map((await billingStatuses(tx, {rdsId}, now, ctx.billingGraceDays)).map((b) => [b.remoteTenantId, b.status]))
    const counts: SyncCounts = {...ZERO_COUNTS}
    const writes: Array<Omit<TenantMasterRow, 'id'>> = []
    const seen = new Set<number>()
    for (const tenant of upstream) {
      seen.add(tenant.id)
      const existing = byRemoteId.get(tenant.id)
      const fresh = tenantRefresh(tenant, options.rdsHealth, now, billing.get(tenant.id) ?? null)
      if (existing && !differs(existing, fresh)) {
        counts.unchanged++
        continue
      }
      if (existing) counts.updated++
      else counts.inserted++
      writes.push({rds_instance_id: rdsId, remote_tenant_id: tenant.id, ...fresh, created_at: now, updated_at: now})
    }
    const vanished = cached.filter((row) => !seen.has(Number(row.remote_tenant_id)) && toIso(row.remote_missing_at) === null).map((row) => Number(row.id))
    counts.missing = vanished.length

    options.signal.throwIfAborted()
    // Every tenant still upstream was verified now, changed or not.
    if (counts.unchanged > 0) await tx(TENANT_MASTER_TABLE).where({rds_instance_id: rdsId}).whereNull('remote_missing_at').update({cache_refreshed_at: now})
    const merge: Array<keyof TenantMasterRow> = [
      'name',
      'primary_contact_name',
      'primary_contact_email',
      'status',
      'cached_user_count',
      'cached_location_count',
      'cache_refreshed_at',
      'remote_missing_at',
      'active_user_count',
      'ghost_user_count',
      'last_user_activity_at',
      'health_score',
      'health_signals',
      'search_text',
      'updated_at',
    ]
    for (let i = 0; i < writes.length; i += options.batchSize) {
      options.signal.throwIfAborted()
      await tx(TENANT_MASTER_TABLE)
        .insert(writes.slice(i, i + options.batchSize))
        .onConflict(['rds_instance_id', 'remote_tenant_id'])
        .merge(merge)
      options.onBatch(Math.min(i + options.batchSize, writes.length), writes.length)
    }
    for (let i = 0; i < vanished.length; i += options.batchSize) {
      options.signal.throwIfAborted()
      await tx(TENANT_MASTER_TABLE)
        .whereIn('id', vanished.slice(i, i + options.batchSize))
        .update({remote_missing_at: now, updated_at: now})
    }
    // The last moment to give up: past it, the transaction commits.
    options.signal.throwIfAborted()
    return counts
  })
}

type Synced = {tenants: number; counts: SyncCounts; durationMs: number; invalidRows: InvalidRows[]}

function toRdsResult(outcome: FanOutResult<RdsInstanceRow, Synced>): RdsTenantSync {
  const base = {id: Number(outcome.item.id), name: outcome.item.name, lastSyncedAt: null}
  return outcome.ok
    ? {
        ...base,
        status: 'ok',
        tenants: outcome.value.tenants,
        counts: outcome.value.counts,
        durationMs: outcome.value.durationMs,
        error: null,
        invalidRows: outcome.value.invalidRows,
      }
    : {...base, status: 'failed', tenants: null, counts: {...ZERO_COUNTS}, durationMs: outcome.ms, error: outcome.error, invalidRows: []}
}

/**
 * The run as a whole: `failed` only when every RDS failed; some failed and the
 * others synced or skipped as fresh is `partial` (their tenants are current).
 */
export function overallStatus(results: readonly RdsTenantSync[]): SyncStatus {
  if (results.length === 0 || results.every((r) => r.status === 'skipped')) return 'skipped'
  const failed = results.filter((r) => r.status === 'failed').length
  return failed === 0 ? 'ok' : failed === results.length ? 'failed' : 'partial'
}

export function addCounts(a: SyncCounts, b: SyncCounts): SyncCounts {
  return {
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    missing: a.missing + b.missing,
    skipped: a.skipped + b.skipped,
    invalid: a.invalid + b.invalid,
  }
}

/**
 * Syncs tenant_master from every active RDS (or the named ones, or a shard),
 * several servers at once, each within its deadline and in its own transaction:
 * a server that fails leaves its tenants as they were and the others' work is
 * kept. An RDS synced successfully within maxAgeMs is skipped unless forced.
 * Writes a sync_runs row per RDS and one for the whole run. The caller holds the
 * `tenants` lease.
 */
export async function syncTenants(ctx: OpsContext, options: TenantSyncOptions): Promise<TenantSyncReport> {
  const started = ctx.now()
  const startedMs = performance.now()
  const rows = await syncTargets(ctx.db, options.refs, options.shard)
  if (rows.some((row) => row.password_enc)) await ctx.keyring()
  const lastOk = options.force
    ? new Map<number, string>()
    : await lastSuccessByRds(
        ctx.db,
        'tenants',
        rows.map((r) => Number(r.id)),
      )
  const results: RdsTenantSync[] = []
  const due: RdsInstanceRow[] = []
  for (const row of rows) {
    const last = lastOk.get(Number(row.id))
    if (last && started.getTime() - Date.parse(last) < options.maxAgeMs) {
      results.push({
        id: Number(row.id),
        name: row.name,
        status: 'skipped',
        tenants: null,
        counts: {...ZERO_COUNTS, skipped: 1},
        durationMs: 0,
        error: null,
        lastSyncedAt: last,
        invalidRows: [],
      })
    } else {
      due.push(row)
    }
  }
  const total = due.length
  let done = 0
  const emit = (event: TenantSyncEvent) => {
    try {
      options.onEvent?.(event)
    } catch {
      // progress display only
    }
  }
  for (const skipped of results) emit({type: 'done', result: skipped, done: 0, total})

  const settled = await fanOut(
    due,
    async (row, deadline): Promise<Synced> => {
      const rds = {id: Number(row.id), name: row.name}
      const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
      const t0 = performance.now()
      const remaining = () => Math.max(1, Math.floor(options.deadlineMs - (performance.now() - t0)))
      emit({type: 'start', rds, index: due.indexOf(row), total})
      const runId = await startRun(ctx.db, 'tenants', rds.id, ctx.now())
      try {
        signal.throwIfAborted()
        emit({type: 'progress', rds, phase: 'reading', done: 0, total: 0})
        const db = await ctx.fleet.get(await connectionSpecFor(ctx, row))
        const {tenants: upstream, invalidRows} = await readUpstreamTenants(db, remaining)
        signal.throwIfAborted()
        const written = await retryOnDeadlock(() =>
          writeTenants(ctx, rds.id, upstream, {
            batchSize: options.batchSize ?? 500,
            signal,
            rdsHealth: row.health_status,
            onBatch: (n, of) => emit({type: 'progress', rds, phase: 'writing', done: n, total: of}),
          }),
        )
        const counts = {...written, invalid: invalidRows.reduce((sum, group) => sum + group.rows, 0)}
        const durationMs = Math.round(performance.now() - t0)
        const stats = {...counts, tenants: upstream.length, durationMs, ...(invalidRows.length > 0 ? {invalidRows} : {})}
        await finishRun(ctx.db, runId, {status: 'ok', stats, finishedAt: ctx.now()})
        return {tenants: upstream.length, counts, durationMs, invalidRows}
      } catch (error) {
        // Stopped (Ctrl-C, a lost lease) says so; a failure or the deadline says what the server was doing.
        const stopped = signal.aborted && signal.reason instanceof Error && !(signal.reason instanceof DeadlineError) ? signal.reason : null
        const message = stopped
          ? stopped.message
          : describeDriverError(signal.aborted ? signal.reason : error, {quietMs: ctx.fleet.quietMs(rds.id), rds: rds.name})
        await finishRun(ctx.db, runId, {
          status: 'failed',
          stats: {...ZERO_COUNTS, durationMs: Math.round(performance.now() - t0)},
          error: message,
          finishedAt: ctx.now(),
        }).catch(() => undefined)
        // Its tenants could not be read: their scores count the stale cache (and a down RDS). Not when the run was stopped.
        if (!stopped) await rescoreUnread(ctx.db, rds.id, row.health_status, ctx.now(), ctx.billingGraceDays).catch(() => undefined)
        throw new Error(message)
      }
    },
    {
      concurrency: options.concurrency,
      deadlineMs: options.deadlineMs,
      onResult: (outcome) => {
        done++
        emit({type: 'done', result: toRdsResult(outcome), done, total})
      },
    },
  )
  results.push(...settled.map(toRdsResult))
  results.sort((a, b) => a.id - b.id)
  const totals = results.reduce((sum, r) => addCounts(sum, r.counts), {...ZERO_COUNTS})
  const status = overallStatus(results)
  const finished = ctx.now()
  const failures = results.filter((r) => r.status === 'failed')
  await recordRun(ctx.db, 'tenants', null, {
    status,
    stats: {...totals, rds: results.length, failed: failures.length, durationMs: Math.round(performance.now() - startedMs)},
    error: failures.length > 0 ? failures.map((f) => `${f.name}: ${f.error}`).join('; ') : null,
    startedAt: started,
    finishedAt: finished,
  })
  return {
    kind: 'tenants',
    status,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.round(performance.now() - startedMs),
    totals,
    rds: results,
  }
}
