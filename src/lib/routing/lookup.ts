import type {OpsContext} from '../context.js'
import {RDS_TABLE, ROUTING_CACHE_TABLE} from '../db/tables.js'
import {toIso, toNumberOrNull} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {findMaster} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'

/** Where an email routes: one user of one tenant on one RDS. */
export interface RoutingEntry {
  sourceId: number
  email: string
  tenantMasterId: number | null
  tenantName: string | null
  remoteTenantId: number
  remoteUserId: number
  rdsInstanceId: number
  rdsName: string | null
  status: string | null
  sourceUpdatedAt: string | null
  /** Cache entries only: when the row was synced. */
  syncedAt: string | null
}

export interface RoutingDifference {
  sourceId: number
  /** `missing from cache`, `not upstream any more`, or the fields that differ. */
  difference: string
}

export interface RoutingLookup {
  email: string
  cache: RoutingEntry[]
  /** How old the oldest cache entry is, ms; null with none. */
  cacheAgeMs: number | null
  /** With --live: what the master RDS holds now, and how the cache differs. */
  live: RoutingEntry[] | null
  differences: RoutingDifference[] | null
}

const EMAIL = /^[^\s@]+@[^\s@]+$/

/** The routing directory entries of an email, from the cache, and with `live` from the master RDS too. */
export async function lookupRouting(ctx: OpsContext, input: {email: string; live?: boolean}): Promise<RoutingLookup> {
  const {email: emailInput, ...options} = input
  const email = emailInput.trim().toLowerCase()
  if (!EMAIL.test(email)) throw new UserError(`"${emailInput}" is not an email address`, {hint: 'give the full address, as ana@example.com'})
  const rows = (await ctx
    .db(`${ROUTING_CACHE_TABLE} as c`)
    .leftJoin('tenant_master as t', 't.id', 'c.tenant_master_id')
    .leftJoin(`${RDS_TABLE} as r`, 'r.id', 'c.rds_instance_id')
    .select(
      'c.source_id',
      'c.email',
      'c.tenant_master_id',
      't.name as tenant_name',
      'c.remote_tenant_id',
      'c.remote_user_id',
      'c.rds_instance_id',
      'r.name as rds_name',
      'c.status',
      'c.source_updated_at',
      'c.synced_at',
    )
    .where('c.email', email)
    .orderBy('c.source_id')) as Array<Record<string, unknown>>
  const cache = rows.map((r): RoutingEntry => ({
    sourceId: Number(r.source_id),
    email: String(r.email),
    tenantMasterId: toNumberOrNull(r.tenant_master_id),
    tenantName: (r.tenant_name as string | null) ?? null,
    remoteTenantId: Number(r.remote_tenant_id),
    remoteUserId: Number(r.remote_user_id),
    rdsInstanceId: Number(r.rds_instance_id),
    rdsName: (r.rds_name as string | null) ?? null,
    status: (r.status as string | null) ?? null,
    sourceUpdatedAt: toIso(r.source_updated_at),
    syncedAt: toIso(r.synced_at),
  }))
  const oldest = cache
    .map((e) => e.syncedAt)
    .filter((t): t is string => t !== null)
    .sort()[0]
  const cacheAgeMs = oldest ? ctx.now().getTime() - Date.parse(oldest) : null
  if (!options.live) return {email, cache, cacheAgeMs, live: null, differences: null}

  const master = await findMaster(ctx.db)
  if (!master) throw new NotFoundError('no master RDS to ask', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  const source = await ctx.fleet.get(await connectionSpecFor(ctx, master))
  const liveRows = (await source('user_email_routing')
    .select('id', 'email', 'tenant_id', 'rds_instance_id', 'user_id', 'status', 'updated_at')
    .whereRaw('LOWER(email) = ?', [email])
    .orderBy('id')
    .timeout(ctx.fleetOptions.queryTimeoutMs || 30_000)) as Array<Record<string, unknown>>
  const names = new Map((await ctx.db(RDS_TABLE).select('id', 'name')).map((r) => [Number(r.id), r.name]))
  const tenants = new Map<string, {id: number; name: string}>()
  for (const row of await ctx
    .db('tenant_master')
    .select('id', 'name', 'rds_instance_id', 'remote_tenant_id')
    .whereIn(
      'remote_tenant_id',
      liveRows.map((r) => Number(r.tenant_id)),
    )) {
    tenants.set(`${Number(row.rds_instance_id)}:${Number(row.remote_tenant_id)}`, {id: Number(row.id), name: String(row.name)})
  }
  const live = liveRows.map((r): RoutingEntry => {
    const tenant = tenants.get(`${Number(r.rds_instance_id)}:${Number(r.tenant_id)}`)
    return {
      sourceId: Number(r.id),
      email: String(r.email).toLowerCase(),
      tenantMasterId: tenant?.id ?? null,
      tenantName: tenant?.name ?? null,
      remoteTenantId: Number(r.tenant_id),
      remoteUserId: Number(r.user_id),
      rdsInstanceId: Number(r.rds_instance_id),
      rdsName: names.get(Number(r.rds_instance_id)) ?? null,
      status: (r.status as string | null) ?? null,
      sourceUpdatedAt: r.updated_at instanceof Date ? r.updated_at.toISOString() : toIso(r.updated_at),
      syncedAt: null,
    }
  })
  return {email, cache, cacheAgeMs, live, differences: compare(cache, live)}
}

function compare(cache: RoutingEntry[], live: RoutingEntry[]): RoutingDifference[] {
  const differences: RoutingDifference[] = []
  const cached = new Map(cache.map((e) => [e.sourceId, e]))
  for (const entry of live) {
    const old = cached.get(entry.sourceId)
    cached.delete(entry.sourceId)
    if (!old) {
      differences.push({sourceId: entry.sourceId, difference: 'missing from the cache'})
      continue
    }
    const fields = (['remoteTenantId', 'remoteUserId', 'rdsInstanceId', 'status', 'sourceUpdatedAt'] as const).filter((f) => old[f] !== entry[f])
    if (fields.length > 0)
      differences.push({
        sourceId: entry.sourceId,
        difference: `differs: ${fields.map((f) => `${f} ${String(old[f])} → ${String(entry[f])}`).join(', ')}`,
      })
  }
  for (const gone of cached.values()) differences.push({sourceId: gone.sourceId, difference: 'in the cache, no longer on the master'})
  return differences
}
