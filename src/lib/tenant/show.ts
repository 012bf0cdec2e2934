import type {AuditView} from '../audit/read.js'
import {billingStatuses} from '../billing/billing-status.js'
import type {OpsContext} from '../context.js'
import {describeDriverError} from '../db/driver-errors.js'
import {RDS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {DeadlineError, withDeadline} from '../deadline.js'
import {findMaster} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'
import type {HealthSignal} from './health-score.js'
import {getTenant} from './reference.js'
import {tenantRefresh} from './refresh.js'
import {
  compareRouting,
  readingOf,
  readTenantOnRds,
  readTenantRouting,
  type LiveTenantRow,
  type LiveUsers,
  type RdsRead,
  type RoutingCheck,
  type RoutingRead,
} from './show-live.js'
import {
  parseSignals,
  readBilling,
  readImpersonations,
  readRecentAudit,
  readRegistry,
  type ImpersonationView,
  type StoredHealth,
  type TenantBillingView,
  type TenantRegistryView,
} from './show-records.js'

export type {ImpersonationView, TenantBillingView, TenantRegistryView} from './show-records.js'
export type {LiveTenantRow, LiveUsers, RoutedWithoutUser, RoutingCheck, UserWithoutRouting} from './show-live.js'

/** --timeout's default, ms: the live read of the tenant's RDS and of the master, each. */
export const DEFAULT_SHOW_TIMEOUT_MS = 10_000

export interface TenantShowInput {
  /** The tenant as named on the command line (see TENANT_REF_HELP). */
  tenant: string
  /** Read the tenant's RDS and the master (and refresh tenant_master); false: the control database only. */
  live: boolean
  /** Limit of each live read (the tenant's RDS, the master), ms. */
  timeoutMs: number
  /** Sections the caller may see: audit entries need audit.view, billing billing.view (both shown when absent). */
  include?: {audit?: boolean; billing?: boolean}
}

/** The tenant as its RDS (and the master's routing) has it now. */
export interface TenantLive {
  /** `ok`: read; `unavailable`: its RDS failed or did not answer in time (see reason); `gone`: the RDS has no tenants row for it any more. */
  status: 'ok' | 'unavailable' | 'gone'
  reason: string | null
  readAt: string
  durationMs: number
  /** Statements sent to the tenant's RDS and to the master, as knex sent them. */
  queries: {rds: number; master: number}
  tenant: LiveTenantRow | null
  users: LiveUsers | null
  locations: number | null
  routing: RoutingCheck
  /** Rows of the RDS that break the fleet contract, said as such. */
  contractIssues: string[]
  /** Whether tenant_master was updated from this read (counts, contact, score; or marked gone). */
  refreshed: boolean
}

export interface TenantHealthView {
  /** Null: never scored. */
  score: number | null
  signals: HealthSignal[]
  /** `live`: scored from this read; `stored`: as of the last refresh; `none`: never scored. */
  source: 'live' | 'stored' | 'none'
  /** When the read it was scored from was made. */
  asOf: string | null
}

export interface TenantShow {
  /** The registry row as it was before this read. */
  tenant: TenantRegistryView
  /** Null with --no-live. */
  live: TenantLive | null
  health: TenantHealthView
  /** Null when the tenant has no billing row (or the caller may not see billing: see hidden). */
  billing: TenantBillingView | null
  /** Newest first; null when the caller may not see the audit trail (see hidden). */
  audit: AuditView[] | null
  /** Newest first. */
  impersonations: ImpersonationView[]
  /** Sections left out for want of a permission. */
  hidden: Array<{section: 'audit' | 'billing'; permission: string}>
  /** True when the live read or the routing comparison could not be made (a server failed): the command exits 3. */
  partial: boolean
}

type Outcome<T> = {ok: true; value: T} | {ok: false; error: string; timedOut: boolean}

/** `work` on an RDS within `timeoutMs`: a failure or the deadline becomes one line naming the cause; a server past it is abandoned. */
async function onRds<T>(ctx: OpsContext, row: RdsInstanceRow, timeoutMs: number, work: (db: Awaited<ReturnType<OpsContext['fleet']['get']>>) => Promise<T>) {
  const id = Number(row.id)
  const outcome = await withDeadline<Outcome<T>>(
    async () => {
      try {
        return {ok: true, value: await work(await ctx.fleet.get(await connectionSpecFor(ctx, row)))}
      } catch (error) {
        return {ok: false, error: describeDriverError(error, {quietMs: ctx.fleet.quietMs(id), rds: row.name}), timedOut: false}
      }
    },
    {
      deadlineMs: timeoutMs,
      onDeadline: () => ({ok: false, error: describeDriverError(new DeadlineError(timeoutMs), {quietMs: ctx.fleet.quietMs(id)}), timedOut: true}),
    },
  )
  // Its connect or query never ends: cut now, so that neither this run's end nor a later read waits on it.
  if (!outcome.ok && outcome.timedOut) ctx.fleet.abandon(id)
  return outcome
}

function routingCheck(master: RdsInstanceRow | undefined, rds: Outcome<RdsRead>, routing: Outcome<RoutingRead> | null): RoutingCheck {
  const none = {entries: null, routedWithoutUser: null, usersWithoutRouting: null}
  if (!master || !routing) return {status: 'skipped', reason: 'no master RDS is registered', master: null, ...none}
  const ref = {id: Number(master.id), name: master.name}
  if (!routing.ok) return {status: 'unavailable', reason: `the master ${master.name}: ${routing.error}`, master: ref, ...none}
  if (!rds.ok) return {status: 'skipped', reason: "the tenant's users could not be read", master: ref, ...none, entries: routing.value.length}
  return {status: 'ok', reason: null, master: ref, entries: routing.value.length, ...compareRouting(rds.value.userList, routing.value)}
}

function contractIssues(read: RdsRead, remoteTenantId: number): string[] {
  const issues: string[] = []
  if (read.tenant && read.tenant.name === null) issues.push(`tenant ${remoteTenantId} has a NULL name`)
  if (!read.tenant && read.userList.length > 0) {
    const {total, ghosts} = read.users
    issues.push(`${total + ghosts} user(s) (${ghosts} ghost) have tenant_id ${remoteTenantId}, which has no tenants row`)
  }
  if (read.users.withoutEmail > 0) issues.push(`${read.users.withoutEmail} user(s) have a NULL email`)
  return issues
}

/**
 * Reads the tenant's RDS and the master at once, each within timeoutMs; then
 * writes what was read to tenant_master in one UPDATE (a read: not audited).
 */
async function readLive(
  ctx: OpsContext,
  registry: TenantRegistryView,
  timeoutMs: number,
  now: Date,
): Promise<{live: TenantLive; fresh: ReturnType<typeof tenantRefresh> | null}> {
  const started = performance.now()
  const remaining = () => Math.max(1, Math.round(timeoutMs - (performance.now() - started)))
  const queries = {rds: 0, master: 0}
  const [row, master] = await Promise.all([ctx.db(RDS_TABLE).where({id: registry.rds.id}).first(), findMaster(ctx.db)])
  const rdsRow = row as RdsInstanceRow
  const [rds, routing] = await Promise.all([
    onRds(ctx, rdsRow, timeoutMs, (db) => readTenantOnRds(db, registry.remoteTenantId, {timeoutMs: remaining, onQuery: () => queries.rds++})),
    master
      ? onRds(ctx, master, timeoutMs, (db) =>
          readTenantRouting(
            db,
            {remoteTenantId: registry.remoteTenantId, rdsInstanceId: registry.rds.id},
            {timeoutMs: remaining, onQuery: () => queries.master++},
          ),
        )
      : null,
  ])
  const base = {readAt: now.toISOString(), durationMs: Math.round(performance.now() - started), queries, routing: routingCheck(master, rds, routing)}
  if (!rds.ok) {
    const live: TenantLive = {
      ...base,
      status: 'unavailable',
      reason: `${rdsRow.name}: ${rds.error}`,
      tenant: null,
      users: null,
      locations: null,
      contractIssues: [],
      refreshed: false,
    }
    return {live, fresh: null}
  }
  const read = rds.value
  const shared = {...base, users: read.users, locations: read.locations, contractIssues: contractIssues(read, registry.remoteTenantId)}
  if (!read.tenant) {
    // Gone upstream: recorded as a sync records it, the row kept.
    const marked = await ctx.db(TENANT_MASTER_TABLE).where({id: registry.id}).whereNull('remote_missing_at').update({remote_missing_at: now, updated_at: now})
    const reason = `${rdsRow.name} has no tenant ${registry.remoteTenantId} any more`
    return {live: {...shared, status: 'gone', reason, tenant: null, refreshed: marked > 0}, fresh: null}
  }
  const [billing] = await billingStatuses(ctx.db, {tenantIds: [registry.id]}, now, ctx.billingGraceDays)
  const fresh = tenantRefresh(readingOf({...read, tenant: read.tenant}), rdsRow.health_status, now, billing?.status ?? null)
  await ctx
    .db(TENANT_MASTER_TABLE)
    .where({id: registry.id})
    .update({...fresh, updated_at: now})
  return {live: {...shared, status: 'ok', reason: null, tenant: read.tenant, refreshed: true}, fresh}
}

function storedHealth(stored: StoredHealth, registry: TenantRegistryView): TenantHealthView {
  if (stored.score === null) return {score: null, signals: [], source: 'none', asOf: null}
  return {score: stored.score, signals: stored.signals, source: 'stored', asOf: registry.refreshedAt}
}

/**
 * `tenant:show`: the tenant's registry row; with `live`, what its RDS holds now
 * (a constant number of statements to it and one to the master, whatever its
 * number of users), its routing compared with its users, and tenant_master
 * refreshed from it; its health score with each signal's points; its billing,
 * recent audit entries and impersonations. A server that fails or stays silent
 * past timeoutMs is said in the result (partial), never thrown.
 */
export async function showTenant(ctx: OpsContext, input: TenantShowInput): Promise<TenantShow> {
  const now = ctx.now()
  const ref = await getTenant(ctx.db, input.tenant)
  const {registry, stored} = await readRegistry(ctx, ref.id)
  const include = {audit: input.include?.audit ?? true, billing: input.include?.billing ?? true}
  const [billing, audit, impersonations, read] = await Promise.all([
    include.billing ? readBilling(ctx, ref.id) : null,
    include.audit ? readRecentAudit(ctx, ref.id) : null,
    readImpersonations(ctx, ref.id),
    input.live ? readLive(ctx, registry, input.timeoutMs, now) : null,
  ])
  const health: TenantHealthView = read?.fresh
    ? {score: read.fresh.health_score, signals: parseSignals(read.fresh.health_signals), source: 'live', asOf: now.toISOString()}
    : storedHealth(stored, registry)
  const hidden: TenantShow['hidden'] = []
  if (!include.audit) hidden.push({section: 'audit', permission: 'audit.view'})
  if (!include.billing) hidden.push({section: 'billing', permission: 'billing.view'})
  const live = read?.live ?? null
  const partial = live !== null && (live.status === 'unavailable' || live.routing.status === 'unavailable')
  return {tenant: registry, live, health, billing, audit, impersonations, hidden, partial}
}
