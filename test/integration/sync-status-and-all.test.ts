import {describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/errors/index.js'
import {lookupRouting} from '../../src/lib/routing/lookup.js'
import {runAllSyncs, runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {syncStatus} from '../../src/lib/sync/status.js'
import {CONTROL_ENGINES} from '../support/control-db.js'
import {
  TENANTS,
  ZERO,
  cachedRouting,
  cachedTenants,
  context,
  control,
  expectedCache,
  fixture,
  must,
  nextSecond,
  onFixture,
  proxyTo,
  register,
  registerMaster,
  sqlTime,
  storedRuns,
  upstreamRouting,
  useSyncHarness,
} from '../support/sync-harness.js'

useSyncHarness()

describe.each(CONTROL_ENGINES)('sync status, routing lookup and the combined sync on a %s control database', (engine) => {
  it('syncStatus: the last run, outcome, counts and staleness per kind and per RDS; lookupRouting: entries with tenant and RDS names, and live differences', async () => {
    // Given: no run yet; syncStatus says so for both kinds.
    const {db} = await control(engine)
    const ctx = context(db)
    expect((await syncStatus(ctx)).kinds).toEqual([
      {kind: 'tenants', lastRun: null, lastOkAt: null, staleMs: null, running: null},
      {kind: 'routing', lastRun: null, lastOkAt: null, staleMs: null, running: null},
    ])
    // Given: a SQLite master and a MariaDB RDS behind a proxy, one person (a mixed-case email) a user on both; tenants and routing synced, then a forced tenant sync with the second RDS refusing (partial).
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
      fdb('user_email_routing').insert({
        email: mixed.email.toUpperCase(),
        tenant_id: 1,
        rds_instance_id: secondId,
        user_id: 50,
        password_hash: null,
        status: 'active',
        created_at: old,
        updated_at: old,
      }),
    )

    const firstTenants = await runTenantSync(ctx, TENANTS)
    expect(firstTenants.status).toBe('ok')
    const routing = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(routing).toMatchObject({status: 'ok', counts: {inserted: main.counts.routing + 1, unlinked: 0}})
    await proxy.setMode('refuse')
    const partial = await runTenantSync(context(db), {...TENANTS, force: true})
    expect(partial.status).toBe('partial')

    // When: syncStatus is asked; then: per kind and per RDS, the last run and its outcome, the last success, and a staleness measured from it.
    const asked = Date.now()
    const status = await syncStatus(ctx)
    const answered = Date.now()
    const runs = await storedRuns(db)
    const lastOf = (kind: string, rdsId: number | null, ok = false) =>
      must(runs.filter((r) => r.kind === kind && r.rdsId === rdsId && (!ok || r.status === 'ok')).at(-1), `a ${kind} run`)
    const staleness = (at: string) => ({min: asked - Date.parse(at), max: answered - Date.parse(at)})

    const tenantsKind = must(
      status.kinds.find((k) => k.kind === 'tenants'),
      'the tenants kind',
    )
    const summary = lastOf('tenants', null)
    expect(tenantsKind.lastRun).toMatchObject({
      id: summary.id,
      rdsInstanceId: null,
      status: 'partial',
      stats: expect.objectContaining({...ZERO, unchanged: 3, rds: 2, failed: 1}),
    })
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
    expect(routingKind.lastRun).toMatchObject({
      id: routingRun.id,
      status: 'ok',
      error: null,
      stats: expect.objectContaining({inserted: main.counts.routing + 1, mode: 'incremental'}),
    })
    expect(routingKind.lastOkAt).toBe(routingRun.finishedAt)
    expect(routingKind.staleMs).toBeGreaterThanOrEqual(staleness(must(routingRun.finishedAt, 'finished_at')).min)

    const mainStatus = must(
      status.rds.find((r) => r.id === mainId),
      'main',
    )
    expect(mainStatus).toMatchObject({
      name: 'main',
      active: true,
      lastRun: {id: lastOf('tenants', mainId).id, status: 'ok', stats: expect.objectContaining({unchanged: 3})},
    })
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

    // When: lookupRouting is asked for that email, from the cache and live; then: both entries with tenant and RDS names, and the differences from upstream until the next sync.
    // lookup: typed with other capitals and spaces; both entries, with names.
    const tenants = await cachedTenants(db)
    const tenantOf = (rdsId: number, remoteId: number) =>
      must(
        tenants.find((t) => t.rdsId === rdsId && t.remoteId === remoteId),
        'a tenant',
      )
    const email = mixed.email.toLowerCase()
    const found = await lookupRouting(ctx, {email: `  ${mixed.email.toUpperCase()} `})
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
    expect((await lookupRouting(ctx, {email: 'nobody@example.com'})).cache).toEqual([])
    await expect(lookupRouting(ctx, {email: 'not an email'})).rejects.toBeInstanceOf(UserError)

    // live, in step: no difference.
    const inStep = await lookupRouting(ctx, {email, live: true})
    expect(inStep.live?.map((e) => e.sourceId)).toEqual([mixed.id, main.counts.routing + 1])
    expect(inStep.differences).toEqual([])

    // Changed upstream, not synced yet: the cache is as it was; live shows the change and a new row.
    await onFixture(main, async (fdb) => {
      await fdb('user_email_routing')
        .where({id: mixed.id})
        .update({status: 'suspended', updated_at: sqlTime(nextSecond())})
      // Written now, as the application writes a new row: an incremental run reads it (one dated a year back would wait for --full).
      await fdb('user_email_routing').insert({
        email: mixed.email,
        tenant_id: 2,
        rds_instance_id: mainId,
        user_id: 77,
        password_hash: null,
        status: 'active',
        created_at: old,
        updated_at: sqlTime(nextSecond()),
      })
    })
    const live = await lookupRouting(ctx, {email, live: true})
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
    expect((await lookupRouting(ctx, {email, live: true})).differences).toEqual([])
  })

  it('runAllSyncs: tenants, then routing linked to the tenants just synced, in one call', async () => {
    // Given: a PostgreSQL master with two routing rows for users of a MariaDB RDS's tenants, and no tenant synced yet.
    const {db} = await control(engine)
    const ctx = context(db)
    const [main, second] = await Promise.all([
      fixture({engine: 'postgres', master: true, tenants: 3, usersPerTenant: 2}),
      fixture({engine: 'mysql', tenants: 2}),
    ])
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second')
    const old = '2022-02-03 04:05:06'
    await onFixture(main, (fdb) =>
      fdb('user_email_routing').insert([
        {
          email: 'a@second.example.com',
          tenant_id: 1,
          rds_instance_id: secondId,
          user_id: 1,
          password_hash: null,
          status: 'active',
          created_at: old,
          updated_at: old,
        },
        {
          email: 'b@second.example.com',
          tenant_id: 2,
          rds_instance_id: secondId,
          user_id: 2,
          password_hash: null,
          status: 'active',
          created_at: old,
          updated_at: old,
        },
      ]),
    )
    const total = main.counts.routing + 2
    expect(await cachedTenants(db)).toEqual([])

    // When: runAllSyncs; then: tenants first, then routing with every row linked to a tenant just synced, the runs recorded in that order.
    const report = await runAllSyncs(ctx, {...TENANTS, mode: 'incremental'})
    expect(report).toMatchObject({status: 'ok', routingError: null, tenants: {status: 'ok', totals: {...ZERO, inserted: 5}}})
    expect(report.routing).toMatchObject({status: 'ok', mode: 'incremental', master: {id: mainId, name: 'main'}})
    expect(report.routing?.counts).toEqual({
      read: total,
      inserted: total,
      updated: 0,
      unchanged: 0,
      missing: 0,
      skipped: 0,
      unlinked: 0,
      invalid: 0,
    })
    const tenants = await cachedTenants(db)
    expect(tenants).toHaveLength(5)
    const cache = await cachedRouting(db)
    expect(cache).toEqual(expectedCache(await upstreamRouting(main), tenants))
    expect(cache.every((e) => e.tenantMasterId !== null)).toBe(true)
    expect(cache.filter((e) => e.rdsId === secondId).map((e) => e.tenantMasterId)).toEqual([
      tenants.find((t) => t.rdsId === secondId && t.remoteId === 1)?.id,
      tenants.find((t) => t.rdsId === secondId && t.remoteId === 2)?.id,
    ])
    const runs = await storedRuns(db)
    expect(runs.map((r) => [r.kind, r.rdsId, r.status]).sort()).toEqual(
      [
        ['tenants', mainId, 'ok'],
        ['tenants', secondId, 'ok'],
        ['tenants', null, 'ok'],
        ['routing', mainId, 'ok'],
      ].sort(),
    )
    expect(
      must(
        runs.find((r) => r.kind === 'routing'),
        'the routing run',
      ).id,
    ).toBeGreaterThan(
      must(
        runs.find((r) => r.kind === 'tenants' && r.rdsId === null),
        'the tenants summary',
      ).id,
    )

    // Again, within the max age: tenants skipped, routing reconciled with nothing to do.
    const again = await runAllSyncs(ctx, {...TENANTS, mode: 'full'})
    expect(again).toMatchObject({
      status: 'ok',
      tenants: {status: 'skipped', totals: {...ZERO, skipped: 2}},
      routing: {status: 'ok', mode: 'full'},
    })
    expect(again.routing?.counts).toMatchObject({inserted: 0, updated: 0, missing: 0, unchanged: total})
    expect(await cachedRouting(db)).toEqual(cache)
  })
})
