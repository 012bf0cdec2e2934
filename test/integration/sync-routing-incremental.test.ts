import {describe, expect, it} from 'vitest'

import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {WATERMARK_OVERLAP_MS} from '../../src/lib/sync/routing/index.js'
import {CONTROL_ENGINES} from '../support/control-db.js'
import {
  TENANTS,
  cachedRouting,
  cachedTenants,
  context,
  control,
  expectedCache,
  fixture,
  must,
  newestOf,
  nextSecond,
  onFixture,
  register,
  registerMaster,
  sqlTime,
  storedRuns,
  storedWatermark,
  upstreamRouting,
  useSyncHarness,
} from '../support/sync-harness.js'

useSyncHarness()

describe.each(CONTROL_ENGINES)('incremental routing sync on a %s control database', (engine) => {
  it('routing incremental: every row copied and linked (unknown tenants kept unlinked), then only what changed; deletions wait for full', async () => {
    // Given: a MariaDB master of 20 users, plus one user of the second RDS's tenant 2 and two of a tenant raiops does not know; tenants synced.
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

    // When: the first incremental run; then: every row copied, linked to its tenant or counted unlinked, the watermark at the newest row.
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

    // Then, phase by phase (a comment each): rows changed upstream, only they are updated; a late commit inside the overlap is caught; a deletion waits for --full; every run recorded.
    // Three rows changed upstream a second from now: exactly those are updated.
    const changedAt = nextSecond()
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing')
        .whereIn('id', [2, 11])
        .update({status: 'suspended', updated_at: sqlTime(changedAt)})
      await fdb('user_email_routing')
        .where({id: 5})
        .update({email: 'Renamed.User@Example.com', status: 'suspended', updated_at: sqlTime(changedAt)})
    })
    const second2 = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(second2.status).toBe('ok')
    expect(second2.counts).toEqual({
      read: second2.counts.read,
      inserted: 0,
      updated: 3,
      unchanged: second2.counts.read - 3,
      missing: 0,
      skipped: 0,
      unlinked: 0,
      invalid: 0,
    })
    source = await upstreamRouting(main)
    cache = await cachedRouting(db)
    expect(cache).toEqual(expectedCache(source, tenants))
    expect(cache.find((e) => e.sourceId === 5)).toMatchObject({
      email: 'renamed.user@example.com',
      status: 'suspended',
      sourceUpdatedAt: new Date(changedAt).toISOString(),
    })
    const mark = {updatedAt: new Date(changedAt).toISOString(), id: 11}
    expect(second2.watermark).toEqual(mark)
    expect(await storedWatermark(db)).toEqual(mark)

    // A change that committed late (stamped inside the overlap) is still picked up; one older than the overlap is not.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing')
        .where({id: 3})
        .update({status: 'late', updated_at: sqlTime(changedAt - WATERMARK_OVERLAP_MS / 2)})
      await fdb('user_email_routing')
        .where({id: 4})
        .update({status: 'stale', updated_at: sqlTime(changedAt - WATERMARK_OVERLAP_MS - 60_000)})
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
    expect(full.counts).toEqual({
      read: total - 1,
      inserted: 0,
      updated: 1,
      unchanged: total - 2,
      missing: 1,
      skipped: 0,
      unlinked: 2,
      invalid: 0,
    })
    source = await upstreamRouting(main)
    expect(await cachedRouting(db)).toEqual(expectedCache(source, tenants))
    expect(await storedWatermark(db)).toEqual(mark)

    const idle = await runRoutingSync(ctx, {mode: 'full'})
    expect(idle.counts).toEqual({
      read: total - 1,
      inserted: 0,
      updated: 0,
      unchanged: total - 1,
      missing: 0,
      skipped: 0,
      unlinked: 2,
      invalid: 0,
    })
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
