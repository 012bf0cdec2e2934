/**
 * What the sync tests share: set-up that is undone after each test (control
 * databases, contexts, fault proxies, fixtures), and the oracles — the control
 * database as stored and the fleet as it really is. A test file calls
 * `useSyncHarness()` once at its top.
 */
import type {Knex} from 'knex'
import {afterAll, afterEach} from 'vitest'

import {openControlDb, type ControlDbTarget} from '../../src/lib/db/control-db.js'
import {ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../../src/lib/db/tables.js'
import {toBool, toIso} from '../../src/lib/db/values.js'
import {addRds} from '../../src/lib/rds/service.js'
import type {RdsFields} from '../../src/lib/rds/validation.js'
import type {TenantSyncRequest} from '../../src/lib/sync/index.js'
import {type RdsTenantSync} from '../../src/lib/sync/tenants.js'
import {makeContext} from './context.js'
import {createControlDb, type ControlEngineName, type TestControlDb} from './control-db.js'
import {type FaultMode, type FaultProxy, startFaultProxy} from './fault-proxy.js'
import {createRaiFixture, type RaiFixture, type RaiFixtureOptions} from './rai-fixture.js'

/** Undoes, after each test, what it set up; drops the 2,000-tenant fleet after the file. */
export function useSyncHarness(): void {
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
    await Promise.all(stores.splice(0).map((drop) => drop()))
  })
  afterAll(async () => {
    await (await big)?.drop()
  })
}

let big: Promise<RaiFixture> | undefined

/** 2,000 tenants, made once per file and shared (read only) by its tests on every control engine. */
export function bigFleet(): Promise<RaiFixture> {
  big ??= createRaiFixture({engine: 'mysql', tenants: 2000, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 1})
  return big
}

/**
 * The upper bounds on elapsed time below are hang checks, not benchmarks: each is
 * the time the behaviour should take plus this margin, so a slow, loaded CI
 * machine cannot fail them, and each stays well below the time the broken
 * behaviour would take (a longer timeout, or forever).
 */
export const HANG_MARGIN_MS = 5000

/** A tenant sync as cron runs it: every active RDS, 15 min max age, a generous deadline. */
export const TENANTS: TenantSyncRequest = {maxAgeMs: 15 * 60_000, concurrency: 4, deadlineMs: 30_000}
export const ZERO = {inserted: 0, updated: 0, unchanged: 0, missing: 0, skipped: 0, invalid: 0}
export const WATERMARK_NAME = 'routing.watermark'

export type Ctx = ReturnType<typeof makeContext>

/** Undone after each test: contexts and pools first, then proxies, then the databases. */
export const closers: Array<() => Promise<unknown>> = []
export const proxies: FaultProxy[] = []
export const stores: Array<() => Promise<unknown>> = []

// ---------------------------------------------------------------------------
// Set-up helpers

export async function control(engine: ControlEngineName): Promise<TestControlDb> {
  const created = await createControlDb(engine)
  stores.push(() => created.drop())
  return created
}

export function context(db: Knex, options: {connectTimeoutMs?: number; queryTimeoutMs?: number} = {}): Ctx {
  const ctx = makeContext(db, options)
  closers.push(() => ctx.close())
  return ctx
}

/** Another pool on the same control database: for the database, another process. */
export async function otherPool(target: ControlDbTarget): Promise<Knex> {
  const db = await openControlDb(target)
  closers.push(() => db.destroy())
  return db
}

export async function fixture(options: RaiFixtureOptions): Promise<RaiFixture> {
  const created = await createRaiFixture(options)
  stores.push(() => created.drop())
  return created
}

export async function proxyTo(target: RaiFixture, mode: FaultMode = 'pass'): Promise<FaultProxy> {
  const proxy = await startFaultProxy({targetHost: target.host ?? '127.0.0.1', targetPort: target.port ?? 0, mode})
  proxies.push(proxy)
  return proxy
}

/** Registers an RDS (through `via` when given) without testing it; returns its raiops id. */
export async function register(ctx: Ctx, target: RaiFixture, name: string, options: {master?: boolean; via?: FaultProxy} = {}): Promise<number> {
  const fields: RdsFields = {
    name,
    engine: target.engine,
    host: options.via ? options.via.host : target.host,
    port: options.via ? options.via.port : target.port,
    username: target.user,
    password: target.password || null,
    raiDatabase: target.database,
    master: options.master ?? false,
  }
  const {rds} = await addRds(ctx, {...fields, test: false})
  return rds.id
}

/**
 * Registers the master RDS. Its routing rows name the RDS holding their tenant by
 * raiops id: the fixture writes 1, so they are pointed at the real id if it differs.
 */
export async function registerMaster(ctx: Ctx, target: RaiFixture, name: string, via?: FaultProxy): Promise<number> {
  const id = await register(ctx, target, name, {master: true, via})
  if (id !== 1) await onFixture(target, (db) => db('user_email_routing').update({rds_instance_id: id}))
  return id
}

/** Runs `work` on a direct connection to the fixture (the way RAI itself changes its data). */
export async function onFixture<T>(target: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> {
  const db = await target.knex()
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as Laravel writes timestamps. */
export function sqlTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}

/** The start of the next whole second: later than every timestamp a fixture made. */
export function nextSecond(): number {
  return (Math.floor(Date.now() / 1000) + 1) * 1000
}

export function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`)
  return value
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export async function until(condition: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${limitMs} ms`)
    await sleep(10)
  }
}

// ---------------------------------------------------------------------------
// The control database as stored, and the fleet as it really is (the oracles)

export interface TenantFields {
  rdsId: number
  remoteId: number
  name: string
  contactName: string | null
  contactEmail: string | null
  status: string | null
  users: number
  locations: number
}

export interface CachedTenant extends TenantFields {
  id: number
  refreshedAt: string | null
  missingAt: string | null
}

export async function cachedTenants(db: Knex, rdsId?: number): Promise<CachedTenant[]> {
  const query = db(TENANT_MASTER_TABLE).orderBy([{column: 'rds_instance_id'}, {column: 'remote_tenant_id'}])
  if (rdsId !== undefined) query.where({rds_instance_id: rdsId})
  const rows = await query
  return rows.map((r) => ({
    id: Number(r.id),
    rdsId: Number(r.rds_instance_id),
    remoteId: Number(r.remote_tenant_id),
    name: r.name as string,
    contactName: (r.primary_contact_name as string | null) ?? null,
    contactEmail: (r.primary_contact_email as string | null) ?? null,
    status: (r.status as string | null) ?? null,
    users: Number(r.cached_user_count),
    locations: Number(r.cached_location_count),
    refreshedAt: toIso(r.cache_refreshed_at),
    missingAt: toIso(r.remote_missing_at),
  }))
}

/** What a cached tenant says about the fleet (no raiops id, no sync times). */
export function fieldsOf(row: CachedTenant): TenantFields {
  const {id: _id, refreshedAt: _refreshed, missingAt: _missing, ...fields} = row
  return fields
}

/** The tenants of a fixture with their counts, computed here row by row (ghost users not counted). */
export async function upstreamTenants(target: RaiFixture, rdsId: number): Promise<TenantFields[]> {
  return onFixture(target, async (db) => {
    const tenants = (await db('tenants').orderBy('id')) as Array<Record<string, unknown>>
    const users = (await db('users').select('tenant_id', 'is_ghost')) as Array<{tenant_id: unknown; is_ghost: unknown}>
    const locations = (await db('locations').select('tenant_id')) as Array<{tenant_id: unknown}>
    return tenants.map((t) => ({
      rdsId,
      remoteId: Number(t.id),
      name: t.name as string,
      contactName: (t.primary_contact_name as string | null) ?? null,
      contactEmail: (t.primary_contact_email as string | null) ?? null,
      status: (t.status as string | null) ?? null,
      users: users.filter((u) => Number(u.tenant_id) === Number(t.id) && !toBool(u.is_ghost)).length,
      locations: locations.filter((l) => Number(l.tenant_id) === Number(t.id)).length,
    }))
  })
}

export interface CacheEntry {
  sourceId: number
  email: string
  tenantMasterId: number | null
  remoteTenantId: number
  remoteUserId: number
  rdsId: number
  status: string | null
  sourceUpdatedAt: string | null
}

export async function cachedRouting(db: Knex): Promise<CacheEntry[]> {
  const rows = await db(ROUTING_CACHE_TABLE).orderBy('source_id')
  return rows.map((r) => ({
    sourceId: Number(r.source_id),
    email: r.email as string,
    tenantMasterId: r.tenant_master_id === null ? null : Number(r.tenant_master_id),
    remoteTenantId: Number(r.remote_tenant_id),
    remoteUserId: Number(r.remote_user_id),
    rdsId: Number(r.rds_instance_id),
    status: (r.status as string | null) ?? null,
    sourceUpdatedAt: toIso(r.source_updated_at),
  }))
}

export interface SourceRow {
  id: number
  email: string
  tenantId: number
  rdsId: number
  userId: number
  status: string
  updatedAt: string
}

export async function upstreamRouting(master: RaiFixture): Promise<SourceRow[]> {
  return onFixture(master, async (db) => {
    const rows = (await db('user_email_routing').orderBy('id')) as Array<Record<string, unknown>>
    return rows.map((r) => ({
      id: Number(r.id),
      email: r.email as string,
      tenantId: Number(r.tenant_id),
      rdsId: Number(r.rds_instance_id),
      userId: Number(r.user_id),
      status: r.status as string,
      updatedAt: must(toIso(r.updated_at), 'an updated_at'),
    }))
  })
}

/** The cache a sync must produce from these source rows: emails lower-cased, linked to tenant_master where the tenant is known. */
export function expectedCache(source: readonly SourceRow[], tenants: readonly CachedTenant[]): CacheEntry[] {
  return source.map((row) => ({
    sourceId: row.id,
    email: row.email.toLowerCase(),
    tenantMasterId: tenants.find((t) => t.rdsId === row.rdsId && t.remoteId === row.tenantId)?.id ?? null,
    remoteTenantId: row.tenantId,
    remoteUserId: row.userId,
    rdsId: row.rdsId,
    status: row.status,
    sourceUpdatedAt: row.updatedAt,
  }))
}

/** The newest (updated_at, id) of the source: where the watermark must stand. */
export function newestOf(source: readonly SourceRow[]): {updatedAt: string; id: number} {
  const sorted = [...source].sort((a, b) => (a.updatedAt === b.updatedAt ? a.id - b.id : a.updatedAt < b.updatedAt ? -1 : 1))
  const last = must(sorted.at(-1), 'a source row')
  return {updatedAt: last.updatedAt, id: last.id}
}

export async function storedWatermark(db: Knex): Promise<unknown> {
  const row = (await db('sync_state').where({name: WATERMARK_NAME}).first()) as {value: string} | undefined
  return row ? JSON.parse(row.value) : null
}

export interface StoredRun {
  id: number
  kind: string
  rdsId: number | null
  status: string
  stats: Record<string, unknown> | null
  error: string | null
  startedAt: string | null
  finishedAt: string | null
}

export async function storedRuns(db: Knex, kind?: 'tenants' | 'routing'): Promise<StoredRun[]> {
  const query = db('sync_runs').orderBy('id')
  if (kind) query.where({kind})
  const rows = await query
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind as string,
    rdsId: r.rds_instance_id === null ? null : Number(r.rds_instance_id),
    status: r.status as string,
    stats: r.stats ? (JSON.parse(r.stats as string) as Record<string, unknown>) : null,
    error: (r.error as string | null) ?? null,
    startedAt: toIso(r.started_at),
    finishedAt: toIso(r.finished_at),
  }))
}

/** A tenant sync's result for one RDS, without its duration and (when there are none) its invalid rows. */
export function brief(
  result: RdsTenantSync,
): Omit<RdsTenantSync, 'durationMs' | 'lastSyncedAt' | 'invalidRows'> & {invalidRows?: RdsTenantSync['invalidRows']} {
  const {durationMs: _duration, lastSyncedAt: _last, invalidRows, ...rest} = result
  return invalidRows.length > 0 ? {...rest, invalidRows} : rest
}

export function resultFor(results: readonly RdsTenantSync[], name: string): RdsTenantSync {
  return must(
    results.find((r) => r.name === name),
    `a result for ${name}`,
  )
}

export function within(at: string | null, report: {startedAt: string; finishedAt: string}): boolean {
  return at !== null && at >= report.startedAt && at <= report.finishedAt
}

// ---------------------------------------------------------------------------
