import type {OpsContext} from '../context.js'
import {RDS_TABLE, ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {NotFoundError} from '../errors/index.js'
import type {RdsConnectionRow} from '../rds/service.js'
import {idOf, normaliseEmail, onEachRds, toFleetUser, USER_COLUMNS, whereEmail, type FleetUser} from './fleet-users.js'

export interface FindUserInput {
  email: string
  /** Also read each RDS the cache names, each within timeoutMs. */
  live?: boolean
  timeoutMs?: number
}

/**
 * What the RDS holds for an entry, with --live:
 * - `ok`: the user is there, in that tenant, with that email;
 * - `missing`: the RDS has no user with that id;
 * - `email differs`: the user is there under another email;
 * - `other tenant`: the user is there, in another tenant;
 * - `not in cache`: a user with this email the routing cache does not list;
 * - `unavailable`: the RDS could not be read (`detail` says why).
 */
export type LiveVerdict = 'ok' | 'missing' | 'email differs' | 'other tenant' | 'not in cache' | 'unavailable'

export interface LiveCheck {
  verdict: LiveVerdict
  /** One line for a verdict other than ok. */
  detail: string | null
  /** The user as the RDS holds it now; null when missing or unavailable. */
  user: FleetUser | null
}

/** One user of one tenant with this email. */
export interface UserLocation {
  /** `cache`: an entry of the routing cache; `live`: found on an RDS only (with --live). */
  source: 'cache' | 'live'
  email: string
  /** The tenant_master id; null when the registry does not know the tenant. */
  tenantId: number | null
  /** The tenant as RDS:REMOTE_TENANT_ID. */
  tenant: string
  tenantName: string | null
  remoteTenantId: number | null
  rdsId: number | null
  rdsName: string | null
  remoteUserId: number | null
  /** The routing entry's status (user_email_routing.status). */
  routingStatus: string | null
  sourceUpdatedAt: string | null
  syncedAt: string | null
  /** How old the entry's sync is, ms. */
  cacheAgeMs: number | null
  /** What is off about the entry itself (a tenant unknown to the registry, gone upstream, an unknown RDS). */
  problems: string[]
  /** With --live. */
  live: LiveCheck | null
}

/** How one RDS answered, with --live. */
export interface LiveRds {
  id: number
  name: string
  ok: boolean
  /** Why it could not be read (describeDriverError: no secret). */
  error: string | null
  ms: number
  /** Users with this email (or a listed id) it returned. */
  rows: number
}

export interface UserFindResult {
  email: string
  locations: UserLocation[]
  /** How old the oldest entry's sync is, ms. */
  cacheAgeMs: number | null
  /** With --live: each RDS asked; null without. */
  live: LiveRds[] | null
  /** Entries whose RDS could not be read: the command exits 3. */
  unavailable: number
  /** Entries the RDS contradicts (missing, email differs, other tenant) and users the cache lacks. */
  flagged: number
}

/** The RDS columns the cache lookup joined in, as a connection is made from them. */
function connectionRow(id: number, r: Record<string, unknown>): RdsConnectionRow {
  return {
    id,
    name: String(r.rds_name),
    engine: r.engine as RdsConnectionRow['engine'],
    host: (r.host as string | null) ?? null,
    port: r.port === null || r.port === undefined ? null : Number(r.port),
    username: (r.username as string | null) ?? null,
    password_enc: (r.password_enc as string | null) ?? null,
    rai_database: String(r.rai_database),
  }
}

const tenantKey = (rdsId: number | null, remoteTenantId: number | null): string => `${rdsId ?? '?'}:${remoteTenantId ?? '?'}`

/**
 * Every tenant and RDS where an email has a user, from the routing cache (the
 * email compared lower-cased); with `live`, confirmed on each RDS concurrently,
 * one query per RDS within `timeoutMs`. An email the cache does not have is
 * NotFoundError: the cache is what says which RDS to ask.
 */
export async function findUser(ctx: OpsContext, input: FindUserInput): Promise<UserFindResult> {
  const email = normaliseEmail(input.email)
  const rows = (await ctx
    .db(`${ROUTING_CACHE_TABLE} as c`)
    .leftJoin(`${TENANT_MASTER_TABLE} as t`, 't.id', 'c.tenant_master_id')
    .leftJoin(`${RDS_TABLE} as r`, 'r.id', 'c.rds_instance_id')
    .select(
      'c.source_id',
      'c.tenant_master_id',
      'c.remote_tenant_id',
      'c.remote_user_id',
      'c.rds_instance_id',
      'c.status',
      'c.source_updated_at',
      'c.synced_at',
      't.id as t_id',
      't.name as tenant_name',
      't.remote_missing_at',
      'r.id as r_id',
      'r.name as rds_name',
      'r.engine',
      'r.host',
      'r.port',
      'r.username',
      'r.password_enc',
      'r.rai_database',
    )
    .where('c.email', email)
    .orderBy('c.source_id')) as Array<Record<string, unknown>>
  if (rows.length === 0)
    throw new NotFoundError(`no user with email ${email} in the routing cache`, {
      hint: `\`raiops sync:routing\` brings in new users; \`raiops routing:lookup ${email} --live\` asks the master RDS (user:find --live asks only the RDS the cache names)`,
    })
  const now = ctx.now().getTime()
  const servers = new Map<number, RdsConnectionRow>()
  const locations = rows.map((r): UserLocation => {
    const rdsId = idOf(r.rds_instance_id)
    const remoteTenantId = idOf(r.remote_tenant_id)
    const known = r.r_id !== null && r.r_id !== undefined
    const rdsName = known ? String(r.rds_name) : null
    if (known && rdsId !== null && !servers.has(rdsId)) servers.set(rdsId, connectionRow(rdsId, r))
    const problems: string[] = []
    if (!known) problems.push(rdsId === null ? 'no RDS in the routing entry' : `RDS ${rdsId} is not registered`)
    const tenantKnown = r.t_id !== null && r.t_id !== undefined
    if (!tenantKnown) problems.push('tenant not in the registry (run `raiops sync:tenants`)')
    const missingAt = toIso(r.remote_missing_at)
    if (missingAt) problems.push(`tenant gone upstream since ${missingAt}`)
    const syncedAt = toIso(r.synced_at)
    return {
      source: 'cache',
      email,
      tenantId: tenantKnown ? Number(r.t_id) : null,
      tenant: `${rdsName ?? rdsId ?? '?'}:${remoteTenantId ?? '?'}`,
      tenantName: tenantKnown ? ((r.tenant_name as string | null) ?? null) : null,
      remoteTenantId,
      rdsId,
      rdsName,
      remoteUserId: idOf(r.remote_user_id),
      routingStatus: (r.status as string | null) ?? null,
      sourceUpdatedAt: toIso(r.source_updated_at),
      syncedAt,
      cacheAgeMs: syncedAt ? now - Date.parse(syncedAt) : null,
      problems,
      live: null,
    }
  })
  const ages = locations.map((l) => l.cacheAgeMs).filter((age): age is number => age !== null)
  const cacheAgeMs = ages.length > 0 ? Math.max(...ages) : null
  if (!input.live) return {email, locations, cacheAgeMs, live: null, unavailable: 0, flagged: 0}
  return confirmLive(ctx, email, locations, [...servers.values()], input.timeoutMs ?? 5000, cacheAgeMs)
}

async function confirmLive(
  ctx: OpsContext,
  email: string,
  cached: UserLocation[],
  servers: RdsConnectionRow[],
  timeoutMs: number,
  cacheAgeMs: number | null,
): Promise<UserFindResult> {
  const idsByRds = new Map<number, number[]>()
  for (const l of cached) {
    if (l.rdsId === null || l.remoteUserId === null) continue
    idsByRds.set(l.rdsId, [...(idsByRds.get(l.rdsId) ?? []), l.remoteUserId])
  }
  // One query per RDS: the users with this email, and those with an id the cache lists there (to tell a deleted user from a changed email).
  const outcomes = await onEachRds(ctx, servers, timeoutMs, async (db, rds, queryTimeoutMs) => {
    const ids = idsByRds.get(Number(rds.id)) ?? []
    const query = db('users')
      .select(...USER_COLUMNS)
      .where((q) => {
        whereEmail(db, q, email)
        if (ids.length > 0) q.orWhereIn('id', ids)
      })
      .orderBy('id')
      .timeout(queryTimeoutMs)
    return ((await query) as Array<Record<string, unknown>>).map(toFleetUser)
  })
  const byRds = new Map(outcomes.map((o) => [Number(o.rds.id), o]))
  const claimed = new Set<string>()
  const locations = cached.map((l): UserLocation => {
    const outcome = l.rdsId === null ? undefined : byRds.get(l.rdsId)
    if (!outcome) return {...l, live: {verdict: 'unavailable', detail: `unavailable: ${l.problems[0] ?? 'no RDS to ask'}`, user: null}}
    if (!outcome.ok) return {...l, live: {verdict: 'unavailable', detail: `unavailable: ${outcome.error}`, user: null}}
    const user = outcome.value.find((u) => u.id === l.remoteUserId) ?? null
    if (user) claimed.add(`${l.rdsId}:${user.id}`)
    return {...l, live: verdictOf(l, user, email)}
  })
  // Users with this email on an RDS asked that the cache does not list (a ghost user, a user not synced yet).
  const extra: UserLocation[] = []
  for (const outcome of outcomes) {
    if (!outcome.ok) continue
    const rdsId = Number(outcome.rds.id)
    for (const user of outcome.value) {
      if (claimed.has(`${rdsId}:${user.id}`) || user.email?.toLowerCase() !== email) continue
      extra.push({
        source: 'live',
        email,
        tenantId: null,
        tenant: `${outcome.rds.name}:${user.tenantId ?? '?'}`,
        tenantName: null,
        remoteTenantId: user.tenantId,
        rdsId,
        rdsName: outcome.rds.name,
        remoteUserId: user.id,
        routingStatus: null,
        sourceUpdatedAt: null,
        syncedAt: null,
        cacheAgeMs: null,
        problems: [],
        live: {verdict: 'not in cache', detail: user.ghost ? 'a ghost user (never routed)' : 'a user the routing cache does not list', user},
      })
    }
  }
  if (extra.length > 0) await nameTenants(ctx, extra, cached)
  const all = [...locations, ...extra]
  return {
    email,
    locations: all,
    cacheAgeMs,
    live: outcomes.map((o) => ({
      id: Number(o.rds.id),
      name: o.rds.name,
      ok: o.ok,
      error: o.ok ? null : o.error,
      ms: Math.round(o.ms),
      rows: o.ok ? o.value.length : 0,
    })),
    unavailable: all.filter((l) => l.live?.verdict === 'unavailable').length,
    flagged: all.filter((l) => l.live !== null && l.live.verdict !== 'ok' && l.live.verdict !== 'unavailable').length,
  }
}

function verdictOf(entry: UserLocation, user: FleetUser | null, email: string): LiveCheck {
  if (!user) return {verdict: 'missing', detail: `no user ${entry.remoteUserId} on RDS ${entry.rdsName}: the routing entry points at nobody`, user: null}
  if (user.tenantId !== entry.remoteTenantId)
    return {verdict: 'other tenant', detail: `user ${user.id} belongs to tenant ${user.tenantId ?? 'NULL'}, not ${entry.remoteTenantId}`, user}
  if (user.email?.toLowerCase() !== email)
    return {
      verdict: 'email differs',
      detail: user.email === null ? `user ${user.id} has a NULL email` : `user ${user.id} now has the email ${user.email}`,
      user,
    }
  return {verdict: 'ok', detail: user.problems.length > 0 ? user.problems.join(', ') : null, user}
}

/** Names the tenants of users found live only: from the cache's own entries, else the registry (one query). */
async function nameTenants(ctx: OpsContext, extra: UserLocation[], cached: UserLocation[]): Promise<void> {
  const known = new Map(cached.filter((l) => l.tenantId !== null).map((l) => [tenantKey(l.rdsId, l.remoteTenantId), l]))
  const unknown = extra.filter((l) => !known.has(tenantKey(l.rdsId, l.remoteTenantId)) && l.remoteTenantId !== null)
  const rows =
    unknown.length === 0
      ? []
      : await ctx
          .db(TENANT_MASTER_TABLE)
          .select('id', 'name', 'rds_instance_id', 'remote_tenant_id', 'remote_missing_at')
          .whereIn('rds_instance_id', [...new Set(unknown.map((l) => l.rdsId as number))])
          .whereIn('remote_tenant_id', [...new Set(unknown.map((l) => l.remoteTenantId as number))])
  const registry = new Map(rows.map((r) => [tenantKey(Number(r.rds_instance_id), Number(r.remote_tenant_id)), r]))
  for (const l of extra) {
    const key = tenantKey(l.rdsId, l.remoteTenantId)
    const fromCache = known.get(key)
    const row = registry.get(key)
    if (fromCache) {
      l.tenantId = fromCache.tenantId
      l.tenantName = fromCache.tenantName
    } else if (row) {
      l.tenantId = Number(row.id)
      l.tenantName = row.name
      const missingAt = toIso(row.remote_missing_at)
      if (missingAt) l.problems.push(`tenant gone upstream since ${missingAt}`)
    } else {
      l.problems.push(l.remoteTenantId === null ? 'the user has no tenant (tenant_id is NULL)' : 'tenant not in the registry (run `raiops sync:tenants`)')
    }
  }
}
