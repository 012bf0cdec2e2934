import type {OpsContext} from '../context.js'
import {acquireLease, LEASE_TTL_MS, leaseName, readLease, type LeaseInfo} from '../lease/lease.js'
import {syncGhostUsers, type GhostSyncOptions, type GhostSyncReport} from './ghost-users.js'
import {syncRouting, type RoutingMode, type RoutingSyncReport} from './routing/index.js'
import {closeInterruptedRuns, type SyncKind} from './runs.js'
import {syncTargets, syncTenants, type TenantSyncOptions, type TenantSyncReport} from './tenants.js'

export type {GhostSyncEvent, GhostSyncReport} from './ghost-users.js'
export type {RoutingSyncReport} from './routing/index.js'
export type {TenantSyncEvent, TenantSyncReport} from './tenants.js'

export interface LeaseOptions {
  /** Wait up to this long for a running sync of the same kind to finish. Default 0: exit 6 at once. */
  waitMs?: number
  /** Aborting it (Ctrl-C, SIGTERM) stops the run cleanly. */
  signal?: AbortSignal
}

/**
 * Runs `work` holding the lease of a sync kind: exits busy (6) when another run
 * holds it (or waits for it), closes the records of runs that died holding it,
 * and hands `work` a signal that aborts on Ctrl-C/SIGTERM or when the lease is lost.
 */
async function withLease<T>(ctx: OpsContext, name: string, options: LeaseOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const lease = await acquireLease(ctx.db, name, {ttlMs: LEASE_TTL_MS, waitMs: options.waitMs ?? 0})
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal
    return await work(signal)
  } finally {
    await lease.release()
  }
}

export interface TenantSyncRequest extends LeaseOptions, Omit<TenantSyncOptions, 'signal'> {}

/** `sync:tenants`: the tenant registry from every active RDS, under the `tenants` lease. */
export async function runTenantSync(ctx: OpsContext, request: TenantSyncRequest): Promise<TenantSyncReport> {
  return withLease(ctx, leaseName('tenants', request.shard), request, async (signal) => {
    const ids = (await syncTargets(ctx.db, request.refs, request.shard)).map((row) => Number(row.id))
    await closeInterruptedRuns(ctx.db, 'tenants', ids, ctx.now())
    return syncTenants(ctx, {...request, signal})
  })
}

export interface RoutingSyncRequest extends LeaseOptions {
  mode: RoutingMode
  batchSize?: number
  onProgress?: (progress: {read: number; written: number}) => void
}

/** `sync:routing`: the email routing directory from the master RDS, under the `routing` lease. */
export async function runRoutingSync(ctx: OpsContext, request: RoutingSyncRequest): Promise<RoutingSyncReport> {
  return withLease(ctx, leaseName('routing'), request, async (signal) => {
    await closeInterruptedRuns(ctx.db, 'routing', null, ctx.now())
    return syncRouting(ctx, {
      mode: request.mode,
      batchSize: request.batchSize,
      queryTimeoutMs: ctx.fleetOptions.queryTimeoutMs || 30_000,
      signal,
      onProgress: request.onProgress,
    })
  })
}

export interface GhostSyncRequest extends LeaseOptions, Omit<GhostSyncOptions, 'signal'> {}

/** `sync:ghost-users`: every tenant's ghost users, under the `ghost-users` lease (a dry run takes it too: it reads what a run would change). */
export async function runGhostUserSync(ctx: OpsContext, request: GhostSyncRequest): Promise<GhostSyncReport> {
  return withLease(ctx, leaseName('ghost-users', request.shard), request, async (signal) => {
    const ids = (await syncTargets(ctx.db, request.refs, request.shard)).map((row) => Number(row.id))
    await closeInterruptedRuns(ctx.db, 'ghost-users', ids, ctx.now())
    return syncGhostUsers(ctx, {...request, signal})
  })
}

export interface AllSyncReport {
  status: 'ok' | 'partial' | 'failed'
  tenants: TenantSyncReport
  routing: RoutingSyncReport | null
  /** Why routing did not run (the master RDS failed its tenant sync is no reason: it runs anyway). */
  routingError: string | null
  /** With --with-ghosts: the ghost-user sync, run after the other two (null when not asked, or stopped before it). */
  ghosts?: GhostSyncReport | null
}

/** `sync:all`: tenants, then routing (linked to the tenants just synced), one report. */
export async function runAllSyncs(
  ctx: OpsContext,
  request: TenantSyncRequest & {
    mode: RoutingMode
    onProgress?: RoutingSyncRequest['onProgress']
    /** Also sync the ghost users, after tenants and routing. */
    ghosts?: Pick<GhostSyncOptions, 'domain' | 'prune' | 'onEvent'>
  },
): Promise<AllSyncReport> {
  const tenants = await runTenantSync(ctx, request)
  if (request.signal?.aborted) return {status: 'failed', tenants, routing: null, routingError: 'stopped before the routing sync'}
  const routing = await runRoutingSync(ctx, {
    mode: request.mode,
    waitMs: request.waitMs,
    signal: request.signal,
    onProgress: request.onProgress,
  })
  const failed = (tenants.status === 'failed' || tenants.status === 'partial' ? 1 : 0) + (routing.status === 'failed' ? 1 : 0)
  const status = failed === 0 ? 'ok' : tenants.status === 'failed' && routing.status === 'failed' ? 'failed' : 'partial'
  if (!request.ghosts) return {status, tenants, routing, routingError: null}
  if (request.signal?.aborted) return {status: 'failed', tenants, routing, routingError: null, ghosts: null}
  const ghosts = await runGhostUserSync(ctx, {
    refs: request.refs,
    shard: request.shard,
    dryRun: false,
    concurrency: request.concurrency,
    deadlineMs: request.deadlineMs,
    waitMs: request.waitMs,
    signal: request.signal,
    ...request.ghosts,
  })
  const ghostsFailed = ghosts.status === 'failed' || ghosts.status === 'partial'
  return {status: status === 'ok' && ghostsFailed ? 'partial' : status, tenants, routing, routingError: null, ghosts}
}

/** Who holds the lease of each sync kind right now, if anyone. */
export async function runningSyncs(ctx: Pick<OpsContext, 'db'>): Promise<Record<SyncKind, LeaseInfo | null>> {
  const [tenants, routing] = await Promise.all([readLease(ctx.db, leaseName('tenants')), readLease(ctx.db, leaseName('routing'))])
  return {tenants, routing}
}
