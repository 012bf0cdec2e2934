import {ROUTING_CACHE_TABLE} from '../../src/lib/db/tables.js'
import {hostname} from 'node:os'
import type {Knex} from 'knex'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {migrateDownAll, migrateLatest, openControlDb, type ControlDbTarget} from '../../src/lib/db/control-db.js'
import {toBool, toIso} from '../../src/lib/db/values.js'
import {BusyError, UserError} from '../../src/lib/errors/index.js'
import {getRds} from '../../src/lib/rds/repository.js'
import {addRds, connectionSpecFor} from '../../src/lib/rds/service.js'
import type {RdsFields} from '../../src/lib/rds/validation.js'
import {LEASE_TTL_MS, leaseName} from '../../src/lib/lease/lease.js'
import {runAllSyncs, runRoutingSync, runTenantSync, type TenantSyncRequest} from '../../src/lib/sync/index.js'
import {lookupRouting} from '../../src/lib/routing/lookup.js'
import {WATERMARK_OVERLAP_MS, type RoutingMode, type RoutingSyncReport} from '../../src/lib/sync/routing.js'
import {syncStatus} from '../../src/lib/sync/status.js'
import {readUpstreamTenants, syncTenants, TENANT_MASTER_TABLE, type RdsTenantSync} from '../../src/lib/sync/tenants.js'
import {makeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type ControlEngineName, type TestControlDb} from '../support/control-db.js'
import {type FaultMode, type FaultProxy, startFaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture, type RaiFixtureOptions} from '../support/rai-fixture.js'

/**
 * The upper bounds on elapsed time below are hang checks, not benchmarks: each is
 * the time the behaviour should take plus this margin, so a slow, loaded CI
 * machine cannot fail them, and each stays well below the time the broken
 * behaviour would take (a longer timeout, or forever).
 */
const HANG_MARGIN_MS = 5000

/** A tenant sync as cron runs it: every active RDS, 15 min max age, a generous deadline. */
const TENANTS: TenantSyncRequest = {maxAgeMs: 15 * 60_000, concurrency: 4, deadlineMs: 30_000}
const ZERO = {inserted: 0, updated: 0, unchanged: 0, missing: 0, skipped: 0, invalid: 0}
const WATERMARK_NAME = 'routing.watermark'

type Ctx = ReturnType<typeof makeContext>

/** Undone after each test: contexts and pools first, then proxies, then the databases. */
const closers: Array<() => Promise<unknown>> = []
const proxies: FaultProxy[] = []
const stores: Array<() => Promise<unknown>> = []

/** 2,000 tenants, shared (read only) by the tests of every control engine. */
let bigFleet: RaiFixture

beforeAll(async () => {
  bigFleet = await createRaiFixture({engine: 'mysql', tenants: 2000, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 1})
})

afterAll(async () => {
  await bigFleet?.drop()
})

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
  await Promise.all(stores.splice(0).map((drop) => drop()))
})

// ---------------------------------------------------------------------------
// Set-up helpers

async function control(engine: ControlEngineName): Promise<TestControlDb> {
  const created = await createControlDb(engine)
  stores.push(() => created.drop())
  return created
}

function context(db: Knex, options: {connectTimeoutMs?: number; queryTimeoutMs?: number} = {}): Ctx {
  const ctx = makeContext(db, options)
  closers.push(() => ctx.close())
  return ctx
}

/** Another pool on the same control database: for the database, another process. */
async function otherPool(target: ControlDbTarget): Promise<Knex> {
  const db = await openControlDb(target)
  closers.push(() => db.destroy())
  return db
}

async function fixture(options: RaiFixtureOptions): Promise<RaiFixture> {
  const created = await createRaiFixture(options)
  stores.push(() => created.drop())
  return created
}

async function proxyTo(target: RaiFixture, mode: FaultMode = 'pass'): Promise<FaultProxy> {
  const proxy = await startFaultProxy({targetHost: target.host ?? '127.0.0.1', targetPort: target.port ?? 0, mode})
  proxies.push(proxy)
  return proxy
}

/** Registers an RDS (through `via` when given) without testing it; returns its raiops id. */
async function register(ctx: Ctx, target: RaiFixture, name: string, options: {master?: boolean; via?: FaultProxy} = {}): Promise<number> {
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
  const {rds} = await addRds(ctx, fields, {test: false})
  return rds.id
}

/**
 * Registers the master RDS. Its routing rows name the RDS holding their tenant by
 * raiops id: the fixture writes 1, so they are pointed at the real id if it differs.
 */
async function registerMaster(ctx: Ctx, target: RaiFixture, name: string, via?: FaultProxy): Promise<number> {
  const id = await register(ctx, target, name, {master: true, via})
  if (id !== 1) await onFixture(target, (db) => db('user_email_routing').update({rds_instance_id: id}))
  return id
}

/** Runs `work` on a direct connection to the fixture (the way RAI itself changes its data). */
async function onFixture<T>(target: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> {
  const db = await target.knex()
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as Laravel writes timestamps. */
function sqlTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ')
}

/** The start of the next whole second: later than every timestamp a fixture made. */
function nextSecond(): number {
  return (Math.floor(Date.now() / 1000) + 1) * 1000
}

function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`)
  return value
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function until(condition: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${limitMs} ms`)
    await sleep(10)
  }
}

// ---------------------------------------------------------------------------
// The control database as stored, and the fleet as it really is (the oracles)

interface TenantFields {
  rdsId: number
  remoteId: number
  name: string
  contactName: string | null
  contactEmail: string | null
  status: string | null
  users: number
  locations: number
}

interface CachedTenant extends TenantFields {
  id: number
  refreshedAt: string | null
  missingAt: string | null
}

async function cachedTenants(db: Knex, rdsId?: number): Promise<CachedTenant[]> {
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
function fieldsOf(row: CachedTenant): TenantFields {
  const {id: _id, refreshedAt: _refreshed, missingAt: _missing, ...fields} = row
  return fields
}

/** The tenants of a fixture with their counts, computed here row by row (ghost users not counted). */
async function upstreamTenants(target: RaiFixture, rdsId: number): Promise<TenantFields[]> {
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

interface CacheEntry {
  sourceId: number
  email: string
  tenantMasterId: number | null
  remoteTenantId: number
  remoteUserId: number
  rdsId: number
  status: string | null
  sourceUpdatedAt: string | null
}

async function cachedRouting(db: Knex): Promise<CacheEntry[]> {
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

interface SourceRow {
  id: number
  email: string
  tenantId: number
  rdsId: number
  userId: number
  status: string
  updatedAt: string
}

async function upstreamRouting(master: RaiFixture): Promise<SourceRow[]> {
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
function expectedCache(source: readonly SourceRow[], tenants: readonly CachedTenant[]): CacheEntry[] {
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
function newestOf(source: readonly SourceRow[]): {updatedAt: string; id: number} {
  const sorted = [...source].sort((a, b) => (a.updatedAt === b.updatedAt ? a.id - b.id : a.updatedAt < b.updatedAt ? -1 : 1))
  const last = must(sorted.at(-1), 'a source row')
  return {updatedAt: last.updatedAt, id: last.id}
}

async function storedWatermark(db: Knex): Promise<unknown> {
  const row = (await db('sync_state').where({name: WATERMARK_NAME}).first()) as {value: string} | undefined
  return row ? JSON.parse(row.value) : null
}

interface StoredRun {
  id: number
  kind: string
  rdsId: number | null
  status: string
  stats: Record<string, unknown> | null
  error: string | null
  startedAt: string | null
  finishedAt: string | null
}

async function storedRuns(db: Knex, kind?: 'tenants' | 'routing'): Promise<StoredRun[]> {
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
function brief(result: RdsTenantSync): Omit<RdsTenantSync, 'durationMs' | 'lastSyncedAt' | 'invalidRows'> & {invalidRows?: RdsTenantSync['invalidRows']} {
  const {durationMs: _duration, lastSyncedAt: _last, invalidRows, ...rest} = result
  return invalidRows.length > 0 ? {...rest, invalidRows} : rest
}

function resultFor(results: readonly RdsTenantSync[], name: string): RdsTenantSync {
  return must(
    results.find((r) => r.name === name),
    `a result for ${name}`,
  )
}

function within(at: string | null, report: {startedAt: string; finishedAt: string}): boolean {
  return at !== null && at >= report.startedAt && at <= report.finishedAt
}

// ---------------------------------------------------------------------------

describe.each(CONTROL_ENGINES)('sync on a %s control database', (engine) => {
  it('tenants: exactly the upstream tenants with their counts (ghosts not counted); then unchanged, updated, missing (kept) and back', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const [main, second] = await Promise.all([
      fixture({engine: 'mysql', master: true, tenants: 3, usersPerTenant: 3, ghostUsersPerTenant: 2, locationsPerTenant: 2}),
      fixture({engine: 'postgres', tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 3}),
    ])
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second')
    expect(mainId).toBeLessThan(secondId)

    const first = await runTenantSync(ctx, TENANTS)
    expect(first).toMatchObject({kind: 'tenants', status: 'ok', totals: {...ZERO, inserted: 5}})
    expect(first.rds.map(brief)).toEqual([
      {id: mainId, name: 'main', status: 'ok', tenants: 3, counts: {...ZERO, inserted: 3}, error: null},
      {id: secondId, name: 'second', status: 'ok', tenants: 2, counts: {...ZERO, inserted: 2}, error: null},
    ])
    const upstream = [...(await upstreamTenants(main, mainId)), ...(await upstreamTenants(second, secondId))]
    // The oracle itself: 3 + 2 ghosts and 2 + 1 ghost per tenant count as 3 and 2.
    expect(upstream.map((t) => [t.users, t.locations])).toEqual([[3, 2], [3, 2], [3, 2], [2, 3], [2, 3]])
    const synced = await cachedTenants(db)
    expect(synced.map(fieldsOf)).toEqual(upstream)
    for (const row of synced) {
      expect(row.missingAt).toBeNull()
      expect(within(row.refreshedAt, first), `${row.refreshedAt} within ${first.startedAt}…${first.finishedAt}`).toBe(true)
    }
    const runs = await storedRuns(db, 'tenants')
    expect(runs).toHaveLength(3)
    expect(runs.filter((r) => r.rdsId !== null).map((r) => ({rdsId: r.rdsId, status: r.status, error: r.error, stats: r.stats}))).toEqual(
      expect.arrayContaining([
        {rdsId: mainId, status: 'ok', error: null, stats: expect.objectContaining({...ZERO, inserted: 3, tenants: 3})},
        {rdsId: secondId, status: 'ok', error: null, stats: expect.objectContaining({...ZERO, inserted: 2, tenants: 2})},
      ]),
    )
    expect(runs.filter((r) => r.rdsId === null)).toEqual([
      expect.objectContaining({status: 'ok', error: null, stats: expect.objectContaining({...ZERO, inserted: 5, rds: 2, failed: 0})}),
    ])
    for (const run of runs) expect(run.finishedAt).not.toBeNull()

    // Forced again, nothing changed: every tenant unchanged, and verified now.
    const again = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(again).toMatchObject({status: 'ok', totals: {...ZERO, unchanged: 5}})
    const verified = await cachedTenants(db)
    expect(verified.map(fieldsOf)).toEqual(upstream)
    expect(verified.map((t) => t.id)).toEqual(synced.map((t) => t.id))
    for (const row of verified) expect(within(row.refreshedAt, again), `${row.refreshedAt} within ${again.startedAt}…${again.finishedAt}`).toBe(true)

    // Tenant 2 renamed and one of its users deleted: one tenant updated.
    await onFixture(main, async (fdb) => {
      await fdb('tenants').where({id: 2}).update({name: 'Renamed & Co "2"'})
      const user = must((await fdb('users').where({tenant_id: 2, is_ghost: false}).orderBy('id').first()) as {id: number} | undefined, 'a user')
      await fdb('users').where({id: user.id}).delete()
    })
    const changed = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(changed.totals).toEqual({...ZERO, updated: 1, unchanged: 4})
    expect(resultFor(changed.rds, 'main').counts).toEqual({...ZERO, updated: 1, unchanged: 2})
    const afterChange = await cachedTenants(db)
    expect(afterChange.find((t) => t.rdsId === mainId && t.remoteId === 2)).toMatchObject({name: 'Renamed & Co "2"', users: 2, locations: 2, missingAt: null})
    expect(afterChange.map(fieldsOf)).toEqual([...(await upstreamTenants(main, mainId)), ...(await upstreamTenants(second, secondId))])
    expect(afterChange.map((t) => t.id)).toEqual(synced.map((t) => t.id))

    // Tenant 3 deleted upstream: kept, marked missing, counted once.
    const gone = await onFixture(main, async (fdb) => {
      const row = (await fdb('tenants').where({id: 3}).first()) as Record<string, unknown>
      await fdb('tenants').where({id: 3}).delete()
      return row
    })
    const missing = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(missing.totals).toEqual({...ZERO, unchanged: 4, missing: 1})
    expect(resultFor(missing.rds, 'main')).toMatchObject({status: 'ok', tenants: 2, counts: {...ZERO, unchanged: 2, missing: 1}})
    const marked = await cachedTenants(db)
    expect(marked).toHaveLength(5)
    const tenant3 = must(
      marked.find((t) => t.rdsId === mainId && t.remoteId === 3),
      'tenant 3 kept',
    )
    expect(within(tenant3.missingAt, missing)).toBe(true)
    expect(fieldsOf(tenant3)).toEqual(fieldsOf(must(afterChange.find((t) => t.remoteId === 3 && t.rdsId === mainId), 'tenant 3 before')))
    expect(marked.filter((t) => t !== tenant3).every((t) => t.missingAt === null)).toBe(true)

    const stillMissing = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(stillMissing.totals).toEqual({...ZERO, unchanged: 4})
    expect((await cachedTenants(db)).find((t) => t.id === tenant3.id)).toEqual(tenant3)

    // Back upstream: cleared, same row.
    await onFixture(main, (fdb) => fdb('tenants').insert(gone))
    const back = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(back.totals).toEqual({...ZERO, updated: 1, unchanged: 4})
    const restored = must(
      (await cachedTenants(db)).find((t) => t.id === tenant3.id),
      'tenant 3',
    )
    expect(restored).toMatchObject({remoteId: 3, missingAt: null})
    expect(within(restored.refreshedAt, back)).toBe(true)
    expect((await cachedTenants(db)).map(fieldsOf)).toEqual([...(await upstreamTenants(main, mainId)), ...(await upstreamTenants(second, secondId))])
  })

  it('--max-age: an RDS synced within maxAgeMs is skipped and nothing is written; an older sync is due again', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const [one, two] = await Promise.all([fixture({engine: 'sqlite', tenants: 2}), fixture({engine: 'sqlite', tenants: 3})])
    const oneId = await register(ctx, one, 'one')
    const twoId = await register(ctx, two, 'two')
    const hour = 60 * 60_000

    // No earlier success: due, max age or not (syncTenants directly, as runTenantSync does under its lease).
    const first = await syncTenants(ctx, {...TENANTS, maxAgeMs: hour})
    expect(first).toMatchObject({status: 'ok', totals: {...ZERO, inserted: 5}})
    const snapshot = await cachedTenants(db)
    const okRuns = (await storedRuns(db, 'tenants')).filter((r) => r.rdsId !== null)
    expect(okRuns.map((r) => r.status)).toEqual(['ok', 'ok'])

    // Changed upstream, but synced well within the hour: skipped.
    await onFixture(one, (fdb) => fdb('tenants').where({id: 1}).update({name: 'Changed meanwhile'}))
    const skipped = await runTenantSync(ctx, {...TENANTS, maxAgeMs: hour})
    expect(skipped).toMatchObject({status: 'skipped', totals: {...ZERO, skipped: 2}})
    expect(skipped.rds).toEqual([
      {id: oneId, name: 'one', status: 'skipped', tenants: null, counts: {...ZERO, skipped: 1}, durationMs: 0, error: null, lastSyncedAt: okRuns.find((r) => r.rdsId === oneId)?.finishedAt, invalidRows: []},
      {id: twoId, name: 'two', status: 'skipped', tenants: null, counts: {...ZERO, skipped: 1}, durationMs: 0, error: null, lastSyncedAt: okRuns.find((r) => r.rdsId === twoId)?.finishedAt, invalidRows: []},
    ])
    expect(await cachedTenants(db)).toEqual(snapshot)
    const runs = await storedRuns(db, 'tenants')
    expect(runs.filter((r) => r.rdsId !== null)).toHaveLength(2)
    expect(runs.at(-1)).toMatchObject({rdsId: null, status: 'skipped', stats: expect.objectContaining({...ZERO, skipped: 2})})

    // A max age shorter than the time since the last sync: due again, without force.
    const due = await runTenantSync(ctx, {...TENANTS, maxAgeMs: 0})
    expect(due).toMatchObject({status: 'ok', totals: {...ZERO, updated: 1, unchanged: 4}})
    expect((await cachedTenants(db, oneId)).find((t) => t.remoteId === 1)?.name).toBe('Changed meanwhile')
  })

  it('one RDS refused and one silent: the healthy one syncs, the failed ones keep their rows untouched; partial, each failure named with its cause', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const [healthy, refused, silent] = await Promise.all([
      fixture({engine: 'sqlite', tenants: 2}),
      fixture({engine: 'mysql', tenants: 3}),
      fixture({engine: 'postgres', tenants: 2}),
    ])
    const [refusedProxy, silentProxy] = await Promise.all([proxyTo(refused), proxyTo(silent)])
    const healthyId = await register(ctx, healthy, 'healthy')
    const refusedId = await register(ctx, refused, 'refused-rds', {via: refusedProxy})
    const silentId = await register(ctx, silent, 'silent-rds', {via: silentProxy})

    const first = await runTenantSync(ctx, TENANTS)
    expect(first).toMatchObject({status: 'ok', totals: {...ZERO, inserted: 7}})
    const before = {refused: await cachedTenants(db, refusedId), silent: await cachedTenants(db, silentId)}
    expect(before.refused).toHaveLength(3)
    expect(before.silent).toHaveLength(2)

    // Upstream changes everywhere: only the reachable RDS's may show. A tenant deleted
    // on each unreachable one: were the failure read as "no tenants", it would be marked missing.
    await onFixture(healthy, (fdb) => fdb('tenants').where({id: 1}).update({name: 'Healthy renamed'}))
    await onFixture(refused, (fdb) => fdb('tenants').where({id: 1}).delete())
    await onFixture(silent, (fdb) => fdb('tenants').where({id: 1}).delete())
    await refusedProxy.setMode('refuse')
    await silentProxy.setMode('blackhole')

    const faulty = context(db, {connectTimeoutMs: 1000})
    const started = performance.now()
    const report = await runTenantSync(faulty, {...TENANTS, force: true, deadlineMs: 2000})
    expect(performance.now() - started).toBeLessThan(2000 + HANG_MARGIN_MS)

    expect(report.status).toBe('partial')
    expect(report.totals).toEqual({...ZERO, updated: 1, unchanged: 1})
    expect(brief(resultFor(report.rds, 'healthy'))).toEqual({id: healthyId, name: 'healthy', status: 'ok', tenants: 2, counts: {...ZERO, updated: 1, unchanged: 1}, error: null})
    const refusedResult = resultFor(report.rds, 'refused-rds')
    const silentResult = resultFor(report.rds, 'silent-rds')
    expect(refusedResult).toMatchObject({id: refusedId, status: 'failed', tenants: null, counts: ZERO})
    expect(silentResult).toMatchObject({id: silentId, status: 'failed', tenants: null, counts: ZERO})
    expect(refusedResult.error).toMatch(/refused/)
    expect(silentResult.error).toMatch(/timed out/)

    expect(await cachedTenants(db, refusedId)).toEqual(before.refused)
    expect(await cachedTenants(db, silentId)).toEqual(before.silent)
    expect((await cachedTenants(db, healthyId)).map(fieldsOf)).toEqual(await upstreamTenants(healthy, healthyId))

    const runs = await storedRuns(db, 'tenants')
    const latest = (rdsId: number | null) => must(runs.filter((r) => r.rdsId === rdsId).at(-1), `a run of ${rdsId}`)
    expect(latest(healthyId)).toMatchObject({status: 'ok', error: null})
    expect(latest(refusedId)).toMatchObject({status: 'failed', error: refusedResult.error})
    expect(latest(silentId)).toMatchObject({status: 'failed', error: silentResult.error})
    const summary = latest(null)
    expect(summary).toMatchObject({status: 'partial', stats: expect.objectContaining({rds: 3, failed: 2, updated: 1, unchanged: 1})})
    expect(summary.error).toContain(`refused-rds: ${refusedResult.error}`)
    expect(summary.error).toContain(`silent-rds: ${silentResult.error}`)
  })

  it('2,000 tenants: every one synced with its counts, in the same three queries per server as 3 tenants', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const small = await fixture({engine: 'sqlite', tenants: 3})
    const bigId = await register(ctx, bigFleet, 'big')
    const smallId = await register(ctx, small, 'small')
    // The knex each RDS is read through, as the sync will get it from the registry: its queries are counted.
    const queries = new Map<number, string[]>()
    for (const id of [bigId, smallId]) {
      const fleetDb = await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(db, id)))
      const seen: string[] = []
      queries.set(id, seen)
      fleetDb.on('query', (query: {sql: string}) => seen.push(query.sql))
    }

    const report = await runTenantSync(ctx, TENANTS)
    expect(report.status).toBe('ok')
    expect(brief(resultFor(report.rds, 'big'))).toEqual({id: bigId, name: 'big', status: 'ok', tenants: 2000, counts: {...ZERO, inserted: 2000}, error: null})
    expect(resultFor(report.rds, 'small')).toMatchObject({status: 'ok', tenants: 3})
    expect(queries.get(bigId)).toHaveLength(3)
    expect(queries.get(smallId)).toHaveLength(3)

    const rows = await cachedTenants(db, bigId)
    expect(rows).toHaveLength(2000)
    expect(rows.every((t) => t.users === 2 && t.locations === 1 && t.missingAt === null)).toBe(true)
    expect(rows.map(fieldsOf)).toEqual(await upstreamTenants(bigFleet, bigId))

    const again = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(resultFor(again.rds, 'big').counts).toEqual({...ZERO, unchanged: 2000})
    expect(queries.get(bigId)).toHaveLength(6)
    const verified = await cachedTenants(db, bigId)
    expect(verified.every((t) => within(t.refreshedAt, again))).toBe(true)
  })

  it('names and emails with quotes, backslashes, emoji, mixed case and trailing spaces round-trip exactly (emails lower-cased)', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const names = [`O'Brien "Quoted" Ltd`, 'Back\\slash \\N Tenant', 'Emoji 🚀 Café ✓ 日本', 'MiXeD CaSe GmbH', 'Trailing spaces   ']
    const emails = [`"O'Quote"@Example.COM`, 'back\\slash\\N@example.com', 'Emoji🚀@Café.Example.com', 'MiXeD.CaSe@EXAMPLE.com', 'trailing@example.com   ', 'tab\tin@example.com']
    const main = await fixture({engine: 'mysql', master: true, tenantNames: names, usersPerTenant: 2})
    const mainId = await registerMaster(ctx, main, 'main')
    await onFixture(main, async (fdb) => {
      for (const [i, email] of emails.entries()) await fdb('user_email_routing').where({id: i + 1}).update({email})
    })

    expect((await runTenantSync(ctx, TENANTS)).totals).toEqual({...ZERO, inserted: 5})
    const tenants = await cachedTenants(db)
    expect(tenants.map((t) => t.name)).toEqual(names)
    // Read back exactly: a second sync finds every tenant unchanged.
    expect((await runTenantSync(ctx, {...TENANTS, force: true})).totals).toEqual({...ZERO, unchanged: 5})

    const source = await upstreamRouting(main)
    expect(source.slice(0, emails.length).map((r) => r.email)).toEqual(emails)
    const incremental = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(incremental).toMatchObject({status: 'ok', counts: {inserted: 10, invalid: 0, unlinked: 0}})
    const cache = await cachedRouting(db)
    expect(cache.slice(0, emails.length).map((e) => e.email)).toEqual(emails.map((e) => e.toLowerCase()))
    expect(cache.slice(0, emails.length).map((e) => e.email)).toEqual([
      `"o'quote"@example.com`,
      'back\\slash\\n@example.com',
      'emoji🚀@café.example.com',
      'mixed.case@example.com',
      'trailing@example.com   ',
      'tab\tin@example.com',
    ])
    expect(cache).toEqual(expectedCache(source, tenants))

    // Rebuilt (on MariaDB through LOAD DATA's escaping): the same bytes; then nothing differs.
    expect(await runRoutingSync(ctx, {mode: 'truncate'})).toMatchObject({status: 'ok', counts: {inserted: 10, missing: 0}})
    expect(await cachedRouting(db)).toEqual(cache)
    expect((await runRoutingSync(ctx, {mode: 'full'})).counts).toMatchObject({inserted: 0, updated: 0, unchanged: 10, missing: 0})

    // Changed upstream (one only in its trailing spaces, one only in its time): updated in place with the same bytes
    // (on MariaDB through LOAD DATA into a temporary table and one UPDATE … JOIN).
    const changed = [`"O'Quote" 2@Example.COM`, 'back\\slash\\N\\t@example.com', 'Emoji🚀🚀@Café.Example.com', 'MiXeD.CaSe@EXAMPLE.com', 'trailing@example.com ', 'tab\t\tin@example.com']
    const changedAt = nextSecond()
    await onFixture(main, async (fdb) => {
      for (const [i, email] of changed.entries()) await fdb('user_email_routing').where({id: i + 1}).update({email, updated_at: sqlTime(changedAt)})
    })
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).counts).toMatchObject({inserted: 0, updated: changed.length, invalid: 0})
    const updated = await cachedRouting(db)
    expect(updated.slice(0, changed.length).map((e) => e.email)).toEqual(changed.map((e) => e.toLowerCase()))
    expect(updated).toEqual(expectedCache(await upstreamRouting(main), tenants))
    // Changed again without a new time (a late commit, inside the overlap): found by content alone,
    // where only trailing spaces or the case of a status differ.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing').where({id: 5}).update({email: 'trailing@example.com  '})
      await fdb('user_email_routing').where({id: 6}).update({status: 'ACTIVE'})
    })
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).counts).toMatchObject({inserted: 0, updated: 2, invalid: 0})
    expect(await cachedRouting(db)).toEqual(expectedCache(await upstreamRouting(main), tenants))
    expect((await runRoutingSync(ctx, {mode: 'full'})).counts).toMatchObject({inserted: 0, updated: 0, unchanged: 10, missing: 0})

    const found = await lookupRouting(ctx, 'MiXeD.CaSe@EXAMPLE.com')
    expect(found.cache).toEqual([
      expect.objectContaining({sourceId: 4, email: 'mixed.case@example.com', tenantName: names[1], rdsName: 'main', rdsInstanceId: mainId}),
    ])
  })

  it('routing incremental: every row copied and linked (unknown tenants kept unlinked), then only what changed; deletions wait for full', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const [main, second] = await Promise.all([fixture({engine: 'mysql', master: true, tenants: 4, usersPerTenant: 5}), fixture({engine: 'sqlite', tenants: 2})])
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second')
    // A user of the second RDS's tenant 2, and two rows whose tenant raiops does not know; old, outside any overlap.
    const old = '2020-01-02 03:04:05'
    const extra = {password_hash: null, status: 'active', created_at: old, updated_at: old}
    await onFixture(main, (fdb) =>
      fdb('user_email_routing').insert([
        {email: 'Visitor@Second.example.com', tenant_id: 2, rds_instance_id: secondId, user_id: 7, ...extra},
        {email: 'orphan1@nowhere.example.com', tenant_id: 99, rds_instance_id: mainId, user_id: 900, ...extra},
        {email: 'orphan2@nowhere.example.com', tenant_id: 99, rds_instance_id: mainId, user_id: 901, ...extra},
      ]),
    )
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    const tenants = await cachedTenants(db)
    const total = main.counts.routing + 3
    expect(total).toBe(23)

    const first = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(first).toMatchObject({kind: 'routing', mode: 'incremental', status: 'ok', error: null, master: {id: mainId, name: 'main'}})
    expect(first.counts).toEqual({read: total, inserted: total, updated: 0, unchanged: 0, missing: 0, skipped: 0, unlinked: 2, invalid: 0})
    expect(first.unlinkedTenants).toEqual([{rdsInstanceId: mainId, remoteTenantId: 99, rows: 2}])
    let source = await upstreamRouting(main)
    let cache = await cachedRouting(db)
    expect(cache).toEqual(expectedCache(source, tenants))
    expect(cache.filter((e) => e.tenantMasterId === null).map((e) => e.email)).toEqual(['orphan1@nowhere.example.com', 'orphan2@nowhere.example.com'])
    expect(cache.find((e) => e.email === 'visitor@second.example.com')?.tenantMasterId).toBe(tenants.find((t) => t.rdsId === secondId && t.remoteId === 2)?.id)
    expect(cache.filter((e) => e.rdsId === mainId && e.remoteTenantId !== 99).every((e) => e.tenantMasterId !== null)).toBe(true)
    expect(first.watermark).toEqual(newestOf(source))
    expect(await storedWatermark(db)).toEqual(newestOf(source))

    // Three rows changed upstream a second from now: exactly those are updated.
    const changedAt = nextSecond()
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing').whereIn('id', [2, 11]).update({status: 'suspended', updated_at: sqlTime(changedAt)})
      await fdb('user_email_routing').where({id: 5}).update({email: 'Renamed.User@Example.com', status: 'suspended', updated_at: sqlTime(changedAt)})
    })
    const second2 = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(second2.status).toBe('ok')
    expect(second2.counts).toEqual({read: second2.counts.read, inserted: 0, updated: 3, unchanged: second2.counts.read - 3, missing: 0, skipped: 0, unlinked: 0, invalid: 0})
    source = await upstreamRouting(main)
    cache = await cachedRouting(db)
    expect(cache).toEqual(expectedCache(source, tenants))
    expect(cache.find((e) => e.sourceId === 5)).toMatchObject({email: 'renamed.user@example.com', status: 'suspended', sourceUpdatedAt: new Date(changedAt).toISOString()})
    const mark = {updatedAt: new Date(changedAt).toISOString(), id: 11}
    expect(second2.watermark).toEqual(mark)
    expect(await storedWatermark(db)).toEqual(mark)

    // A change that committed late (stamped inside the overlap) is still picked up; one older than the overlap is not.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing').where({id: 3}).update({status: 'late', updated_at: sqlTime(changedAt - WATERMARK_OVERLAP_MS / 2)})
      await fdb('user_email_routing').where({id: 4}).update({status: 'stale', updated_at: sqlTime(changedAt - WATERMARK_OVERLAP_MS - 60_000)})
    })
    const third = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(third.counts).toMatchObject({inserted: 0, updated: 1, missing: 0})
    cache = await cachedRouting(db)
    expect(cache.find((e) => e.sourceId === 3)?.status).toBe('late')
    expect(cache.find((e) => e.sourceId === 4)?.status).not.toBe('stale')
    expect(await storedWatermark(db)).toEqual(mark)

    // Deleted upstream: incremental leaves it; full removes it (and catches the stale change).
    await onFixture(main, (fdb) => fdb('user_email_routing').where({id: 7}).delete())
    const fourth = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(fourth.counts).toMatchObject({inserted: 0, updated: 0, missing: 0})
    expect((await cachedRouting(db)).map((e) => e.sourceId)).toContain(7)

    const full = await runRoutingSync(ctx, {mode: 'full'})
    expect(full).toMatchObject({mode: 'full', status: 'ok', error: null})
    expect(full.counts).toEqual({read: total - 1, inserted: 0, updated: 1, unchanged: total - 2, missing: 1, skipped: 0, unlinked: 2, invalid: 0})
    source = await upstreamRouting(main)
    expect(await cachedRouting(db)).toEqual(expectedCache(source, tenants))
    expect(await storedWatermark(db)).toEqual(mark)

    const idle = await runRoutingSync(ctx, {mode: 'full'})
    expect(idle.counts).toEqual({read: total - 1, inserted: 0, updated: 0, unchanged: total - 1, missing: 0, skipped: 0, unlinked: 2, invalid: 0})
    expect(await cachedRouting(db)).toEqual(expectedCache(source, tenants))

    const runs = await storedRuns(db, 'routing')
    expect(runs.map((r) => [r.rdsId, r.status, r.stats?.mode])).toEqual([
      [mainId, 'ok', 'incremental'],
      [mainId, 'ok', 'incremental'],
      [mainId, 'ok', 'incremental'],
      [mainId, 'ok', 'incremental'],
      [mainId, 'ok', 'full'],
      [mainId, 'ok', 'full'],
    ])
    expect(runs.at(-1)?.stats).toMatchObject(idle.counts)
  })

  it('routing truncate: rebuilds the same cache from scratch, dropping what the cache held on its own', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 4, usersPerTenant: 5})
    const mainId = await registerMaster(ctx, main, 'main')
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).status).toBe('ok')
    const before = await cachedRouting(db)
    expect(before).toEqual(expectedCache(await upstreamRouting(main), await cachedTenants(db)))
    const mark = await storedWatermark(db)

    const rebuilt = await runRoutingSync(ctx, {mode: 'truncate'})
    expect(rebuilt).toMatchObject({mode: 'truncate', status: 'ok', error: null})
    expect(rebuilt.counts).toEqual({read: 20, inserted: 20, updated: 0, unchanged: 0, missing: 0, skipped: 0, unlinked: 0, invalid: 0})
    expect(await cachedRouting(db)).toEqual(before)
    expect(await storedWatermark(db)).toEqual(mark)

    // The cache damaged behind the sync's back: a row not upstream, a wrong status, a lost link.
    const now = new Date()
    await db(ROUTING_CACHE_TABLE).insert({source_id: 9999, email: 'stray@cache.example.com', tenant_master_id: null, remote_tenant_id: 1, remote_user_id: 1, rds_instance_id: mainId, status: 'active', source_updated_at: now, synced_at: now})
    await db(ROUTING_CACHE_TABLE).where({source_id: 1}).update({status: 'bogus', tenant_master_id: null})
    const repaired = await runRoutingSync(ctx, {mode: 'truncate'})
    expect(repaired.counts).toEqual({read: 20, inserted: 20, updated: 0, unchanged: 0, missing: 1, skipped: 0, unlinked: 0, invalid: 0})
    expect(await cachedRouting(db)).toEqual(before)

    // The rebuilt table is a working cache: an incremental run on top of it has nothing to do.
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).counts).toMatchObject({inserted: 0, updated: 0})
    expect(await cachedRouting(db)).toEqual(before)
    expect(await db.schema.hasTable('user_email_routing_cache_next')).toBe(false)
    expect(await db.schema.hasTable('user_email_routing_cache_prev')).toBe(false)
  })

  it('routing truncate and full with the master down (refused, or cut mid-run): failed with the cause, the previous cache intact', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 8, usersPerTenant: 10})
    const proxy = await proxyTo(main)
    await registerMaster(ctx, main, 'main', proxy)
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).status).toBe('ok')
    const before = await cachedRouting(db)
    expect(before).toHaveLength(80)
    const mark = await storedWatermark(db)
    // Changes a successful run would apply.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing').where({id: 1}).delete()
      await fdb('user_email_routing').where({id: 2}).update({status: 'suspended', updated_at: sqlTime(nextSecond())})
    })

    await proxy.setMode('refuse')
    for (const mode of ['truncate', 'full'] as const) {
      // A fresh pool: no connection left over from the run above.
      const report = await runRoutingSync(context(db), {mode})
      expect(report).toMatchObject({mode, status: 'failed'})
      expect(report.error).toMatch(/refused/)
      expect(await cachedRouting(db)).toEqual(before)
      expect(await storedWatermark(db)).toEqual(mark)
      expect((await storedRuns(db, 'routing')).at(-1)).toMatchObject({status: 'failed', error: report.error})
    }

    for (const mode of ['truncate', 'full'] as const) {
      await proxy.setMode({delayMs: 50})
      let pages = 0
      const report = await runRoutingSync(context(db), {
        mode,
        batchSize: 20,
        onProgress: () => {
          // The master dies once two pages are written. (Not after the first: see the
          // LOAD DATA test below for what happens when it dies that early.)
          if (++pages === 2) void proxy.setMode('refuse')
        },
      })
      expect(pages).toBeGreaterThanOrEqual(2)
      expect(report).toMatchObject({mode, status: 'failed'})
      expect(report.error).toEqual(expect.any(String))
      expect(report.counts.read).toBeLessThan(79)
      expect(await cachedRouting(db)).toEqual(before)
      expect(await storedWatermark(db)).toEqual(mark)
      expect((await storedRuns(db, 'routing')).at(-1)).toMatchObject({status: 'failed', error: report.error})
    }
    expect(await db.schema.hasTable('user_email_routing_cache_next')).toBe(false)

    // Back up: the next run applies the changes.
    await proxy.setMode('pass')
    const healed = await runRoutingSync(context(db), {mode: 'full'})
    expect(healed).toMatchObject({status: 'ok', counts: {missing: 1, updated: 1}})
    expect(await cachedRouting(db)).toEqual(expectedCache(await upstreamRouting(main), await cachedTenants(db)))
  })

  it('routing truncate and full are atomic for readers: a concurrent lookup sees the previous cache until the run ends', async () => {
    const created = await control(engine)
    const ctx = context(created.db)
    const readerDb = await otherPool(created.target)
    const reader = context(readerDb)
    const main = await fixture({engine: 'mysql', master: true, tenants: 10, usersPerTenant: 10})
    const proxy = await proxyTo(main)
    await registerMaster(ctx, main, 'main', proxy)
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).status).toBe('ok')
    const tenants = await cachedTenants(created.db)
    const source = await upstreamRouting(main)

    const cases: Array<{mode: RoutingMode; changed: SourceRow; removed: SourceRow}> = [
      {mode: 'truncate', changed: source[9], removed: source[19]},
      {mode: 'full', changed: source[29], removed: source[39]},
    ]
    for (const {mode, changed, removed} of cases) {
      const before = await cachedRouting(readerDb)
      const changedBefore = (await lookupRouting(reader, changed.email)).cache
      expect(changedBefore).toHaveLength(1)
      expect((await lookupRouting(reader, removed.email)).cache).toHaveLength(1)
      await onFixture(main, async (fdb) => {
        await fdb('user_email_routing').where({id: changed.id}).update({status: `s-${mode}`, updated_at: sqlTime(nextSecond())})
        await fdb('user_email_routing').where({id: removed.id}).delete()
      })

      await proxy.setMode({delayMs: 60})
      let progressed = false
      let finished = false
      const run = runRoutingSync(ctx, {mode, batchSize: 10, onProgress: () => void (progressed = true)}).finally(() => void (finished = true))
      await until(() => progressed || finished, 20_000, 'progress')
      const during = {
        changed: await lookupRouting(reader, changed.email),
        removed: await lookupRouting(reader, removed.email),
        all: await cachedRouting(readerDb),
      }
      const readWhileRunning = !finished
      const report = await run
      await proxy.setMode('pass')

      expect(report).toMatchObject({mode, status: 'ok', error: null})
      expect(readWhileRunning).toBe(true)
      expect(during.changed.cache).toEqual(changedBefore)
      expect(during.removed.cache).toHaveLength(1)
      expect(during.all).toEqual(before)

      const after = {changed: await lookupRouting(reader, changed.email), removed: await lookupRouting(reader, removed.email)}
      expect(after.changed.cache.map((e) => e.status)).toEqual([`s-${mode}`])
      expect(after.removed.cache).toEqual([])
      expect(await cachedRouting(readerDb)).toEqual(expectedCache(await upstreamRouting(main), tenants))
    }
  })

  it('leases: of two concurrent tenant syncs one runs and the other is busy (exit 6, naming the holder); with waitMs it waits its turn', async () => {
    const created = await control(engine)
    const ctx = context(created.db)
    const other = context(await otherPool(created.target))
    const main = await fixture({engine: 'mysql', tenants: 3})
    const proxy = await proxyTo(main, {delayMs: 100})
    await register(ctx, main, 'main', {via: proxy})

    const [a, b] = await Promise.allSettled([runTenantSync(ctx, {...TENANTS, force: true}), runTenantSync(other, {...TENANTS, force: true})])
    const fulfilled = [a, b].filter((r) => r.status === 'fulfilled')
    const rejected = [a, b].filter((r) => r.status === 'rejected')
    expect(fulfilled).toHaveLength(1)
    expect(rejected).toHaveLength(1)
    const error = (rejected[0] as PromiseRejectedResult).reason as BusyError
    expect(error).toBeInstanceOf(BusyError)
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain(`${leaseName('tenants')} is already running on ${hostname()}`)
    expect((fulfilled[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof runTenantSync>>>).value).toMatchObject({status: 'ok', totals: {...ZERO, inserted: 3}})
    expect((await storedRuns(created.db, 'tenants')).filter((r) => r.rdsId === null)).toHaveLength(1)
    expect(await cachedTenants(created.db)).toHaveLength(3)
    expect(await created.db('locks').select()).toEqual([])

    // With waitMs, the second waits for the first to release the lease, then runs.
    let lockSeen: Record<string, unknown> | undefined
    let running: Awaited<ReturnType<typeof syncStatus>>['kinds'][number]['running'] = null
    let done = false
    const both = Promise.all([runTenantSync(ctx, {...TENANTS, force: true, waitMs: 30_000}), runTenantSync(other, {...TENANTS, force: true, waitMs: 30_000})]).finally(
      () => void (done = true),
    )
    while (!done && lockSeen === undefined) {
      lockSeen = (await created.db('locks').first()) as Record<string, unknown> | undefined
      if (lockSeen) running = must((await syncStatus(ctx)).kinds.find((k) => k.kind === 'tenants'), 'tenants').running
      else await sleep(10)
    }
    const reports = (await both).sort((x, y) => (x.startedAt < y.startedAt ? -1 : 1))
    expect(reports.map((r) => r.status)).toEqual(['ok', 'ok'])
    expect(reports.map((r) => r.totals)).toEqual([
      {...ZERO, unchanged: 3},
      {...ZERO, unchanged: 3},
    ])
    expect(reports[1].startedAt >= reports[0].finishedAt).toBe(true)
    expect((await storedRuns(created.db, 'tenants')).filter((r) => r.rdsId === null)).toHaveLength(3)
    expect(await created.db('locks').select()).toEqual([])

    const lock = must(lockSeen, 'the lease row while a sync ran')
    expect(lock.name).toBe(leaseName('tenants'))
    expect(String(lock.holder).startsWith(`${hostname()}:${process.pid}:`)).toBe(true)
    expect(Date.parse(must(toIso(lock.expires_at), 'expires_at')) - Date.parse(must(toIso(lock.acquired_at), 'acquired_at'))).toBe(LEASE_TTL_MS)
    expect(running).toMatchObject({name: leaseName('tenants'), holder: {host: hostname(), pid: process.pid}})
  })

  it('syncStatus: the last run, outcome, counts and staleness per kind and per RDS; lookupRouting: entries with tenant and RDS names, and live differences', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    expect((await syncStatus(ctx)).kinds).toEqual([
      {kind: 'tenants', lastRun: null, lastOkAt: null, staleMs: null, running: null},
      {kind: 'routing', lastRun: null, lastOkAt: null, staleMs: null, running: null},
    ])
    const [main, second] = await Promise.all([fixture({engine: 'sqlite', master: true, tenants: 3, usersPerTenant: 3}), fixture({engine: 'mysql', tenants: 2})])
    const proxy = await proxyTo(second)
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second', {via: proxy})
    const mixed = must(
      (await upstreamRouting(main)).find((r) => r.email !== r.email.toLowerCase()),
      'a mixed-case email in the fixture',
    )
    // The same person is also a user of the second RDS's tenant 1.
    const old = '2021-06-07 08:09:10'
    await onFixture(main, (fdb) =>
      fdb('user_email_routing').insert({email: mixed.email.toUpperCase(), tenant_id: 1, rds_instance_id: secondId, user_id: 50, password_hash: null, status: 'active', created_at: old, updated_at: old}),
    )

    const firstTenants = await runTenantSync(ctx, TENANTS)
    expect(firstTenants.status).toBe('ok')
    const routing = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(routing).toMatchObject({status: 'ok', counts: {inserted: main.counts.routing + 1, unlinked: 0}})
    await proxy.setMode('refuse')
    const partial = await runTenantSync(context(db), {...TENANTS, force: true})
    expect(partial.status).toBe('partial')

    const asked = Date.now()
    const status = await syncStatus(ctx)
    const answered = Date.now()
    const runs = await storedRuns(db)
    const lastOf = (kind: string, rdsId: number | null, ok = false) => must(runs.filter((r) => r.kind === kind && r.rdsId === rdsId && (!ok || r.status === 'ok')).at(-1), `a ${kind} run`)
    const staleness = (at: string) => ({min: asked - Date.parse(at), max: answered - Date.parse(at)})

    const tenantsKind = must(
      status.kinds.find((k) => k.kind === 'tenants'),
      'the tenants kind',
    )
    const summary = lastOf('tenants', null)
    expect(tenantsKind.lastRun).toMatchObject({id: summary.id, rdsInstanceId: null, status: 'partial', stats: expect.objectContaining({...ZERO, unchanged: 3, rds: 2, failed: 1})})
    expect(tenantsKind.lastRun?.error).toContain('second: ')
    expect(tenantsKind.lastOkAt).toBe(summary.finishedAt)
    const tenantsStale = staleness(must(summary.finishedAt, 'finished_at'))
    expect(tenantsKind.staleMs).toBeGreaterThanOrEqual(tenantsStale.min)
    expect(tenantsKind.staleMs).toBeLessThanOrEqual(tenantsStale.max)
    expect(tenantsKind.running).toBeNull()

    const routingKind = must(
      status.kinds.find((k) => k.kind === 'routing'),
      'the routing kind',
    )
    const routingRun = lastOf('routing', mainId)
    expect(routingKind.lastRun).toMatchObject({id: routingRun.id, status: 'ok', error: null, stats: expect.objectContaining({inserted: main.counts.routing + 1, mode: 'incremental'})})
    expect(routingKind.lastOkAt).toBe(routingRun.finishedAt)
    expect(routingKind.staleMs).toBeGreaterThanOrEqual(staleness(must(routingRun.finishedAt, 'finished_at')).min)

    const mainStatus = must(
      status.rds.find((r) => r.id === mainId),
      'main',
    )
    expect(mainStatus).toMatchObject({name: 'main', active: true, lastRun: {id: lastOf('tenants', mainId).id, status: 'ok', stats: expect.objectContaining({unchanged: 3})}})
    expect(mainStatus.lastOkAt).toBe(lastOf('tenants', mainId).finishedAt)
    const secondStatus = must(
      status.rds.find((r) => r.id === secondId),
      'second',
    )
    expect(secondStatus).toMatchObject({name: 'second', active: true, lastRun: {id: lastOf('tenants', secondId).id, status: 'failed'}})
    expect(secondStatus.lastRun?.error).toMatch(/refused/)
    const secondOkAt = must(lastOf('tenants', secondId, true).finishedAt, 'the last success of second')
    expect(secondStatus.lastOkAt).toBe(secondOkAt)
    expect(secondStatus.staleMs).toBeGreaterThanOrEqual(staleness(secondOkAt).min)
    expect(secondStatus.staleMs).toBeLessThanOrEqual(staleness(secondOkAt).max)

    // lookup: typed with other capitals and spaces; both entries, with names.
    const tenants = await cachedTenants(db)
    const tenantOf = (rdsId: number, remoteId: number) => must(tenants.find((t) => t.rdsId === rdsId && t.remoteId === remoteId), 'a tenant')
    const email = mixed.email.toLowerCase()
    const found = await lookupRouting(ctx, `  ${mixed.email.toUpperCase()} `)
    expect(found).toMatchObject({email, live: null, differences: null})
    expect(found.cache.map(({syncedAt: _synced, ...entry}) => entry)).toEqual([
      {
        sourceId: mixed.id,
        email,
        tenantMasterId: tenantOf(mainId, mixed.tenantId).id,
        tenantName: tenantOf(mainId, mixed.tenantId).name,
        remoteTenantId: mixed.tenantId,
        remoteUserId: mixed.userId,
        rdsInstanceId: mainId,
        rdsName: 'main',
        status: mixed.status,
        sourceUpdatedAt: mixed.updatedAt,
      },
      {
        sourceId: main.counts.routing + 1,
        email,
        tenantMasterId: tenantOf(secondId, 1).id,
        tenantName: tenantOf(secondId, 1).name,
        remoteTenantId: 1,
        remoteUserId: 50,
        rdsInstanceId: secondId,
        rdsName: 'second',
        status: 'active',
        sourceUpdatedAt: new Date('2021-06-07T08:09:10Z').toISOString(),
      },
    ])
    expect(found.cache.every((e) => e.syncedAt !== null && e.syncedAt >= routing.startedAt && e.syncedAt <= routing.finishedAt)).toBe(true)
    expect(found.cacheAgeMs).toBeGreaterThanOrEqual(0)
    expect((await lookupRouting(ctx, 'nobody@example.com')).cache).toEqual([])
    await expect(lookupRouting(ctx, 'not an email')).rejects.toBeInstanceOf(UserError)

    // live, in step: no difference.
    const inStep = await lookupRouting(ctx, email, {live: true})
    expect(inStep.live?.map((e) => e.sourceId)).toEqual([mixed.id, main.counts.routing + 1])
    expect(inStep.differences).toEqual([])

    // Changed upstream, not synced yet: the cache is as it was; live shows the change and a new row.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing').where({id: mixed.id}).update({status: 'suspended', updated_at: sqlTime(nextSecond())})
      // Written now, as the application writes a new row: an incremental run reads it (one dated a year back would wait for --full).
      await fdb('user_email_routing').insert({email: mixed.email, tenant_id: 2, rds_instance_id: mainId, user_id: 77, password_hash: null, status: 'active', created_at: old, updated_at: sqlTime(nextSecond())})
    })
    const live = await lookupRouting(ctx, email, {live: true})
    expect(live.cache).toEqual(found.cache)
    expect(live.live?.map((e) => [e.sourceId, e.status, e.rdsName, e.tenantName])).toEqual([
      [mixed.id, 'suspended', 'main', tenantOf(mainId, mixed.tenantId).name],
      [main.counts.routing + 1, 'active', 'second', tenantOf(secondId, 1).name],
      [main.counts.routing + 2, 'active', 'main', tenantOf(mainId, 2).name],
    ])
    expect(live.differences).toEqual([
      {sourceId: mixed.id, difference: expect.stringContaining(`status ${mixed.status} → suspended`)},
      {sourceId: main.counts.routing + 2, difference: 'missing from the cache'},
    ])

    // Synced: in step again.
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).counts).toMatchObject({inserted: 1, updated: 1})
    expect((await lookupRouting(ctx, email, {live: true})).differences).toEqual([])
  })

  it('fleet rows that break the contract are counted as invalid with the reason and a few ids (result and sync_runs), kept with a fallback or left out, never lost silently', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 4, usersPerTenant: 2})
    const mainId = await registerMaster(ctx, main, 'main')
    expect(main.counts.routing).toBe(8)
    await onFixture(main, async (fdb) => {
      await fdb.schema.alterTable('tenants', (table) => void table.string('name', 255).nullable().alter())
      await fdb('tenants').whereIn('id', [2, 4]).update({name: null})
      await fdb('user_email_routing').whereIn('id', [3, 6]).update({updated_at: null})
      await fdb('user_email_routing').where({id: 5}).update({email: ''})
    })
    const nullName = {reason: 'name is NULL: stored with an empty name', kept: true, rows: 2, ids: [2, 4]}

    // Tenants: the two without a name are stored, with an empty one, and counted.
    const tenants = await runTenantSync(ctx, TENANTS)
    expect(resultFor(tenants.rds, 'main')).toMatchObject({status: 'ok', tenants: 4, counts: {...ZERO, inserted: 4, invalid: 2}, invalidRows: [nullName]})
    expect(tenants.totals).toEqual({...ZERO, inserted: 4, invalid: 2})
    expect((await cachedTenants(db)).map((t) => [t.remoteId, t.name === ''])).toEqual([
      [1, false],
      [2, true],
      [3, false],
      [4, true],
    ])
    // Counted again by every run that reads them, even with nothing to write.
    expect(resultFor((await runTenantSync(ctx, {...TENANTS, force: true})).rds, 'main')).toMatchObject({counts: {...ZERO, unchanged: 4, invalid: 2}, invalidRows: [nullName]})
    const tenantRuns = (await storedRuns(db, 'tenants')).filter((r) => r.rdsId === mainId)
    expect(tenantRuns.map((r) => r.stats)).toEqual([
      expect.objectContaining({inserted: 4, invalid: 2, invalidRows: [nullName]}),
      expect.objectContaining({unchanged: 4, invalid: 2, invalidRows: [nullName]}),
    ])

    // Routing, incremental: the rows without updated_at are never read by one; reported, with the empty email left out.
    const noEmail = {reason: 'email is NULL or empty: left out', kept: false, rows: 1, ids: [5]}
    const incremental = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(incremental).toMatchObject({status: 'ok', counts: {read: 6, inserted: 5, invalid: 3}})
    expect(incremental.invalidRows).toEqual([{reason: 'updated_at is NULL: incremental runs never read it (--full and --truncate copy it)', kept: false, rows: 2, ids: [3, 6]}, noEmail])
    expect((await cachedRouting(db)).map((e) => e.sourceId)).toEqual([1, 2, 4, 7, 8])

    // --full copies them (without a source time) and still reports them; --truncate alike.
    const copied = {reason: 'updated_at is NULL: copied without a source time; incremental runs never see its changes (--full does)', kept: true, rows: 2, ids: [3, 6]}
    const full = await runRoutingSync(ctx, {mode: 'full'})
    expect(full).toMatchObject({status: 'ok', counts: {read: 8, inserted: 2, unchanged: 5, invalid: 3}})
    expect(full.invalidRows).toEqual([copied, noEmail])
    const cache = await cachedRouting(db)
    expect(cache.map((e) => e.sourceId)).toEqual([1, 2, 3, 4, 6, 7, 8])
    expect(cache.filter((e) => e.sourceUpdatedAt === null).map((e) => e.sourceId)).toEqual([3, 6])
    const truncate = await runRoutingSync(ctx, {mode: 'truncate'})
    expect(truncate).toMatchObject({status: 'ok', counts: {read: 8, inserted: 7, invalid: 3}, invalidRows: [copied, noEmail]})
    expect(await cachedRouting(db)).toEqual(cache)
    expect((await storedRuns(db, 'routing')).map((r) => r.stats)).toEqual([
      expect.objectContaining({mode: 'incremental', invalid: 3, invalidRows: incremental.invalidRows}),
      expect.objectContaining({mode: 'full', invalid: 3, invalidRows: [copied, noEmail]}),
      expect.objectContaining({mode: 'truncate', invalid: 3, invalidRows: [copied, noEmail]}),
    ])
  })

  it('runAllSyncs: tenants, then routing linked to the tenants just synced, in one call', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const [main, second] = await Promise.all([fixture({engine: 'postgres', master: true, tenants: 3, usersPerTenant: 2}), fixture({engine: 'mysql', tenants: 2})])
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second')
    const old = '2022-02-03 04:05:06'
    await onFixture(main, (fdb) =>
      fdb('user_email_routing').insert([
        {email: 'a@second.example.com', tenant_id: 1, rds_instance_id: secondId, user_id: 1, password_hash: null, status: 'active', created_at: old, updated_at: old},
        {email: 'b@second.example.com', tenant_id: 2, rds_instance_id: secondId, user_id: 2, password_hash: null, status: 'active', created_at: old, updated_at: old},
      ]),
    )
    const total = main.counts.routing + 2
    expect(await cachedTenants(db)).toEqual([])

    const report = await runAllSyncs(ctx, {...TENANTS, mode: 'incremental'})
    expect(report).toMatchObject({status: 'ok', routingError: null, tenants: {status: 'ok', totals: {...ZERO, inserted: 5}}})
    expect(report.routing).toMatchObject({status: 'ok', mode: 'incremental', master: {id: mainId, name: 'main'}})
    expect(report.routing?.counts).toEqual({read: total, inserted: total, updated: 0, unchanged: 0, missing: 0, skipped: 0, unlinked: 0, invalid: 0})
    const tenants = await cachedTenants(db)
    expect(tenants).toHaveLength(5)
    const cache = await cachedRouting(db)
    expect(cache).toEqual(expectedCache(await upstreamRouting(main), tenants))
    expect(cache.every((e) => e.tenantMasterId !== null)).toBe(true)
    expect(cache.filter((e) => e.rdsId === secondId).map((e) => e.tenantMasterId)).toEqual([tenants.find((t) => t.rdsId === secondId && t.remoteId === 1)?.id, tenants.find((t) => t.rdsId === secondId && t.remoteId === 2)?.id])
    const runs = await storedRuns(db)
    expect(runs.map((r) => [r.kind, r.rdsId, r.status]).sort()).toEqual(
      [
        ['tenants', mainId, 'ok'],
        ['tenants', secondId, 'ok'],
        ['tenants', null, 'ok'],
        ['routing', mainId, 'ok'],
      ].sort(),
    )
    expect(must(runs.find((r) => r.kind === 'routing'), 'the routing run').id).toBeGreaterThan(must(runs.find((r) => r.kind === 'tenants' && r.rdsId === null), 'the tenants summary').id)

    // Again, within the max age: tenants skipped, routing reconciled with nothing to do.
    const again = await runAllSyncs(ctx, {...TENANTS, mode: 'full'})
    expect(again).toMatchObject({status: 'ok', tenants: {status: 'skipped', totals: {...ZERO, skipped: 2}}, routing: {status: 'ok', mode: 'full'}})
    expect(again.routing?.counts).toMatchObject({inserted: 0, updated: 0, missing: 0, unchanged: total})
    expect(await cachedRouting(db)).toEqual(cache)
  })
})

describe('routing truncate on a MariaDB control database (LOAD DATA LOCAL INFILE)', () => {
  /**
   * The rows are streamed through a PassThrough that mysql2 only picks up
   * (infileStreamFactory) once the control server has answered the LOAD DATA
   * statement with its request for the file. When the master fails before that
   * (here: on the second page, with the control database 50 ms away), the run must
   * still fail cleanly: status failed with the cause, nothing thrown outside it,
   * no hang, the previous cache intact.
   */
  it('the master failing before the control server asks for the rows: the run fails cleanly, without an uncaught error or a hang', async () => {
    const created = await control('mysql')
    const setup = context(created.db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 8, usersPerTenant: 10})
    const masterProxy = await proxyTo(main)
    await registerMaster(setup, main, 'main', masterProxy)
    expect((await runTenantSync(setup, TENANTS)).status).toBe('ok')
    expect((await runRoutingSync(setup, {mode: 'incremental'})).status).toBe('ok')
    const before = await cachedRouting(created.db)

    // The control database 50 ms away, as a remote one is.
    const address = must(created.target.connection, 'the control connection')
    const controlProxy = await startFaultProxy({targetHost: address.host, targetPort: address.port, mode: {delayMs: 50}})
    proxies.push(controlProxy)
    const slowDb = await openControlDb({...created.target, connection: {...address, host: controlProxy.host, port: controlProxy.port}})
    const ctx = context(slowDb)
    closers.push(() => slowDb.destroy())

    // Errors thrown outside the run are collected here instead of by vitest (restored below).
    const uncaught: unknown[] = []
    const capture = (error: unknown) => void uncaught.push(error)
    const saved = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    process.on('uncaughtException', capture)
    let outcome: RoutingSyncReport | 'hung'
    try {
      let pages = 0
      const run = runRoutingSync(ctx, {
        mode: 'truncate',
        batchSize: 20,
        onProgress: () => {
          if (++pages === 1) void masterProxy.setMode('refuse')
        },
      })
      // Some 20 control round trips of 100 ms each through the proxy, when nothing hangs.
      outcome = await Promise.race([run, sleep(3000 + HANG_MARGIN_MS).then(() => 'hung' as const)])
      // Whatever happened, cutting its control connection ends the run.
      await controlProxy.setMode('refuse')
      await Promise.race([run, sleep(HANG_MARGIN_MS)])
    } finally {
      process.removeListener('uncaughtException', capture)
      for (const listener of saved) process.on('uncaughtException', listener)
    }
    expect(uncaught.map(String)).toEqual([])
    expect(outcome).not.toBe('hung')
    expect(outcome).toMatchObject({mode: 'truncate', status: 'failed', error: expect.any(String)})
    expect(await cachedRouting(created.db)).toEqual(before)
  })
})

describe.each(CONTROL_ENGINES)('routing --full on a %s control database: links made once the tenants are known', (engine) => {
  it('rows copied before their tenants were synced are linked by the next full run, and only those are written', async () => {
    const {db} = await control(engine)
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 4, usersPerTenant: 3})
    await registerMaster(ctx, main, 'main')
    const first = await runRoutingSync(ctx, {mode: 'full'})
    expect(first.counts).toMatchObject({inserted: main.counts.routing, unlinked: main.counts.routing})
    expect((await cachedRouting(db)).every((e) => e.tenantMasterId === null)).toBe(true)

    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    const linked = await runRoutingSync(ctx, {mode: 'full'})
    expect(linked.counts).toMatchObject({inserted: 0, updated: main.counts.routing, unchanged: 0, missing: 0, unlinked: 0})
    const tenants = new Map(((await db('tenant_master').select('id', 'remote_tenant_id')) as Array<{id: unknown; remote_tenant_id: unknown}>).map((t) => [Number(t.remote_tenant_id), Number(t.id)]))
    for (const entry of await cachedRouting(db)) expect(entry.tenantMasterId).toBe(tenants.get(entry.remoteTenantId))

    const idle = await runRoutingSync(ctx, {mode: 'full'})
    expect(idle.counts).toMatchObject({inserted: 0, updated: 0, unchanged: main.counts.routing, missing: 0, unlinked: 0})
  })
})

describe('routing incremental from a master whose RAI database is SQLite (Laravel text timestamps)', () => {
  it('reads every row once across pages, then only the rows inside the overlap before the watermark', async () => {
    const {db} = await control('sqlite')
    const ctx = context(db)
    // 240 rows in pages of 50: each keyset page must start after the one before, not over again.
    const main = await fixture({engine: 'sqlite', master: true, tenants: 40, usersPerTenant: 6})
    await registerMaster(ctx, main, 'main')
    const first = await runRoutingSync(ctx, {mode: 'incremental', batchSize: 50})
    expect(first.counts).toMatchObject({read: 240, inserted: 240, updated: 0, unchanged: 0})
    const source = await upstreamRouting(main)
    expect(first.watermark).toEqual(newestOf(source))

    const newest = Date.parse(must(first.watermark, 'the watermark').updatedAt)
    const inOverlap = source.filter((r) => Date.parse(r.updatedAt) >= newest - WATERMARK_OVERLAP_MS).length
    const again = await runRoutingSync(ctx, {mode: 'incremental', batchSize: 50})
    expect(again.counts).toMatchObject({read: inOverlap, inserted: 0, updated: 0, unchanged: inOverlap})
    expect(inOverlap).toBeLessThan(240)
  })
})

describe('routing --truncate and --full on a SQLite control database: rebuilt through a staging table', () => {
  /** The cache's indexes as SQLite describes them: columns and uniqueness, names aside. */
  async function indexes(db: Knex): Promise<string[]> {
    const list = (await db.raw(`PRAGMA index_list('${ROUTING_CACHE_TABLE}')`)) as Array<{name: string; unique: number}>
    const described: string[] = []
    for (const index of list) {
      const columns = ((await db.raw(`PRAGMA index_info('${index.name}')`)) as Array<{name: string}>).map((c) => c.name)
      described.push(`${index.unique ? 'unique ' : ''}${columns.join(',')}`)
    }
    return described.sort()
  }

  it('a staging table left by a killed run is replaced; every swap keeps the indexes; the migrations still go down and up', async () => {
    const {db} = await control('sqlite')
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 3, usersPerTenant: 4})
    await registerMaster(ctx, main, 'main')
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    expect((await runRoutingSync(ctx, {mode: 'incremental'})).status).toBe('ok')
    const before = await cachedRouting(db)
    const shape = await indexes(db)
    expect(shape).toEqual(['email', 'tenant_master_id', 'unique source_id'])

    // What a run killed halfway leaves: a staging table with some rows.
    await db.raw(`CREATE TABLE user_email_routing_cache_next AS SELECT * FROM ${ROUTING_CACHE_TABLE} WHERE source_id <= 3`)
    for (const mode of ['truncate', 'full', 'truncate', 'full'] as const) {
      const report = await runRoutingSync(ctx, {mode, batchSize: 5})
      expect(report).toMatchObject({mode, status: 'ok', counts: {read: before.length, missing: 0}})
      expect(await cachedRouting(db)).toEqual(before)
      expect(await indexes(db)).toEqual(shape)
      expect(await db.schema.hasTable('user_email_routing_cache_next')).toBe(false)
    }
    // A full run keeps the rows it finds unchanged as they are, their ids included.
    const ids = await db(ROUTING_CACHE_TABLE).orderBy('source_id').pluck('id')
    expect((await runRoutingSync(ctx, {mode: 'full', batchSize: 5})).counts).toMatchObject({unchanged: before.length})
    expect(await db(ROUTING_CACHE_TABLE).orderBy('source_id').pluck('id')).toEqual(ids)

    await migrateDownAll(db)
    expect(await db.schema.hasTable(ROUTING_CACHE_TABLE)).toBe(false)
    await migrateLatest(db)
    expect(await indexes(db)).toEqual(shape)
  })
})

describe('a server that stalls in the middle of a result', () => {
  it('tenant and routing syncs fail saying which limit passed and that the server sent no data for that long, never "for an unknown reason"', async () => {
    const {db} = await control('sqlite')
    const main = await fixture({engine: 'mysql', master: true, tenants: 2000, usersPerTenant: 1, ghostUsersPerTenant: 0, locationsPerTenant: 1})
    const proxy = await proxyTo(main)
    await registerMaster(context(db), main, 'main', proxy)
    const limits = {connectTimeoutMs: 1000, queryTimeoutMs: 2000}
    // Every connection gets through its handshake and the first bytes of a result, then nothing more comes.
    await proxy.setMode({stallAfterBytes: 20_000})

    const tenants = await runTenantSync(context(db, limits), {...TENANTS, deadlineMs: 10_000})
    const failed = must(tenants.rds[0], 'the RDS result')
    expect(failed.status).toBe('failed')
    // Its three queries share two connections: the third waits for one that never comes free.
    expect(failed.error).toMatch(/^no connection to the server came free in time \(each waits on a query\) with no data from the server for \d+(\.\d)? s$/)
    const routing = await runRoutingSync(context(db, limits), {mode: 'full'})
    expect(routing.status).toBe('failed')
    expect(routing.error).toMatch(/^the query timed out: its timeout of 2 s passed with no data from the server for \d+(\.\d)? s$/)
    const runs = await storedRuns(db)
    expect(runs.filter((r) => r.status === 'failed').map((r) => r.error)).toEqual([failed.error, failed.error, routing.error].map((e) => expect.stringContaining(String(e))))
  })
})

describe('readUpstreamTenants', () => {
  it('reads every tenant, one with no users or locations counted 0, ghosts left out', async () => {
    const rai = await fixture({engine: 'sqlite', tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 3, locationsPerTenant: 1})
    const stamp = sqlTime(Date.now())
    const read = await onFixture(rai, async (fdb) => {
      await fdb('tenants').insert({id: 3, name: 'Empty', primary_contact_name: null, primary_contact_email: null, status: 'active', created_at: stamp, updated_at: stamp})
      return readUpstreamTenants(fdb, () => 5000)
    })
    expect(read.tenants.map((t) => [t.id, t.users, t.locations])).toEqual([
      [1, 2, 1],
      [2, 2, 1],
      [3, 0, 0],
    ])
    expect(read.tenants[2]).toEqual({id: 3, name: 'Empty', primaryContactName: null, primaryContactEmail: null, status: 'active', users: 0, locations: 0})
    expect(read.invalidRows).toEqual([])
  })
})
