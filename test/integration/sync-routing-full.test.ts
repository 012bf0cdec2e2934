import type {Knex} from 'knex'
import {describe, expect, it} from 'vitest'

import {migrateDownAll, migrateLatest, openControlDb} from '../../src/lib/db/control-db.js'
import {ROUTING_CACHE_TABLE} from '../../src/lib/db/tables.js'
import {lookupRouting} from '../../src/lib/routing/lookup.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {type RoutingMode, type RoutingSyncReport} from '../../src/lib/sync/routing/index.js'
import {CONTROL_ENGINES} from '../support/control-db.js'
import {startFaultProxy} from '../support/fault-proxy.js'
import {
  HANG_MARGIN_MS,
  type SourceRow,
  TENANTS,
  cachedRouting,
  cachedTenants,
  closers,
  context,
  control,
  expectedCache,
  fixture,
  must,
  nextSecond,
  onFixture,
  otherPool,
  proxies,
  proxyTo,
  registerMaster,
  sleep,
  sqlTime,
  storedRuns,
  storedWatermark,
  until,
  upstreamRouting,
  useSyncHarness,
} from '../support/sync-harness.js'

useSyncHarness()

describe.each(CONTROL_ENGINES)('full and truncate routing syncs on a %s control database', (engine) => {
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
    await db(ROUTING_CACHE_TABLE).insert({
      source_id: 9999,
      email: 'stray@cache.example.com',
      tenant_master_id: null,
      remote_tenant_id: 1,
      remote_user_id: 1,
      rds_instance_id: mainId,
      status: 'active',
      source_updated_at: now,
      synced_at: now,
    })
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
    // Given: a master of 80 routing rows behind a proxy, synced once (cache and watermark), then changed upstream: one row deleted, one suspended.
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
      await fdb('user_email_routing')
        .where({id: 2})
        .update({status: 'suspended', updated_at: sqlTime(nextSecond())})
    })

    // When: the master refuses connections, and then dies after two pages; then: every truncate and full run fails with its cause, the cache and the watermark as they were, no staging table left.
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
    // Given: a master of 100 routing rows behind a proxy, synced once, and a second control-database pool that reads.
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
      const changedBefore = (await lookupRouting(reader, {email: changed.email})).cache
      expect(changedBefore).toHaveLength(1)
      expect((await lookupRouting(reader, {email: removed.email})).cache).toHaveLength(1)
      await onFixture(main, async (fdb) => {
        await fdb('user_email_routing')
          .where({id: changed.id})
          .update({status: `s-${mode}`, updated_at: sqlTime(nextSecond())})
        await fdb('user_email_routing').where({id: removed.id}).delete()
      })

      // When: a run pages slowly through a changed and a deleted row, and the reader looks both up while it runs;
      await proxy.setMode({delayMs: 60})
      let progressed = false
      let finished = false
      const run = runRoutingSync(ctx, {mode, batchSize: 10, onProgress: () => void (progressed = true)}).finally(() => void (finished = true))
      await until(() => progressed || finished, 20_000, 'progress')
      const during = {
        changed: await lookupRouting(reader, {email: changed.email}),
        removed: await lookupRouting(reader, {email: removed.email}),
        all: await cachedRouting(readerDb),
      }
      const readWhileRunning = !finished
      const report = await run
      await proxy.setMode('pass')

      // Then: the reader saw the previous cache throughout, and sees the new one once the run has ended.
      expect(report).toMatchObject({mode, status: 'ok', error: null})
      expect(readWhileRunning).toBe(true)
      expect(during.changed.cache).toEqual(changedBefore)
      expect(during.removed.cache).toHaveLength(1)
      expect(during.all).toEqual(before)

      const after = {
        changed: await lookupRouting(reader, {email: changed.email}),
        removed: await lookupRouting(reader, {email: removed.email}),
      }
      expect(after.changed.cache.map((e) => e.status)).toEqual([`s-${mode}`])
      expect(after.removed.cache).toEqual([])
      expect(await cachedRouting(readerDb)).toEqual(expectedCache(await upstreamRouting(main), tenants))
    }
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
    // Given: a master of 80 routing rows, synced once, and the MariaDB control database 50 ms away behind a proxy.
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
    // LOAD DATA streams its rows outside knex: a row INSERTed into the staging table would mean the plain path ran instead.
    const statements: string[] = []
    slowDb.on('query', (query: {sql: string}) => void statements.push(query.sql))

    // When: a --truncate run starts and the master refuses connections once the first page is read;
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
    // Then: nothing escaped the run, it did not hang, it failed with a cause, and the cache is as it was.
    expect(uncaught.map(String)).toEqual([])
    expect(outcome).not.toBe('hung')
    expect(outcome).toMatchObject({mode: 'truncate', status: 'failed', error: expect.any(String)})
    expect(await cachedRouting(created.db)).toEqual(before)
    expect(statements).toContain('CREATE TABLE `user_email_routing_cache_next` LIKE `user_email_routing_cache`')
    expect(statements.filter((sql) => sql.startsWith('insert into `user_email_routing_cache_next`'))).toEqual([])
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
    const tenants = new Map(
      ((await db('tenant_master').select('id', 'remote_tenant_id')) as Array<{id: unknown; remote_tenant_id: unknown}>).map((t) => [
        Number(t.remote_tenant_id),
        Number(t.id),
      ]),
    )
    for (const entry of await cachedRouting(db)) expect(entry.tenantMasterId).toBe(tenants.get(entry.remoteTenantId))

    const idle = await runRoutingSync(ctx, {mode: 'full'})
    expect(idle.counts).toMatchObject({inserted: 0, updated: 0, unchanged: main.counts.routing, missing: 0, unlinked: 0})
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
