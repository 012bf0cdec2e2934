import {hostname} from 'node:os'
import {describe, expect, it} from 'vitest'

import {toIso} from '../../src/lib/db/values.js'
import {BusyError} from '../../src/lib/errors/index.js'
import {LEASE_TTL_MS, leaseName} from '../../src/lib/lease/lease.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {syncStatus} from '../../src/lib/sync/status.js'
import {CONTROL_ENGINES} from '../support/control-db.js'
import {
  TENANTS,
  ZERO,
  cachedRouting,
  cachedTenants,
  context,
  control,
  fixture,
  must,
  onFixture,
  otherPool,
  proxyTo,
  register,
  registerMaster,
  resultFor,
  sleep,
  storedRuns,
  useSyncHarness,
} from '../support/sync-harness.js'

useSyncHarness()

describe.each(CONTROL_ENGINES)('sync leases and broken fleet data on a %s control database', (engine) => {
  it('leases: of two concurrent tenant syncs one runs and the other is busy (exit 6, naming the holder); with waitMs it waits its turn', async () => {
    // Given: one RDS behind a proxy that delays every reply 100 ms, and two control-database pools, as two raiops processes would have.
    const created = await control(engine)
    const ctx = context(created.db)
    const other = context(await otherPool(created.target))
    const main = await fixture({engine: 'mysql', tenants: 3})
    const proxy = await proxyTo(main, {delayMs: 100})
    await register(ctx, main, 'main', {via: proxy})

    // When: both start a forced tenant sync at once, without waiting; then: one runs, the other is refused as busy (exit 6, naming the holder), and the lease is released.
    const [a, b] = await Promise.allSettled([runTenantSync(ctx, {...TENANTS, force: true}), runTenantSync(other, {...TENANTS, force: true})])
    const fulfilled = [a, b].filter((r) => r.status === 'fulfilled')
    const rejected = [a, b].filter((r) => r.status === 'rejected')
    expect(fulfilled).toHaveLength(1)
    expect(rejected).toHaveLength(1)
    const error = (rejected[0] as PromiseRejectedResult).reason as BusyError
    expect(error).toBeInstanceOf(BusyError)
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain(`${leaseName('tenants')} is already running on ${hostname()}`)
    expect((fulfilled[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof runTenantSync>>>).value).toMatchObject({
      status: 'ok',
      totals: {...ZERO, inserted: 3},
    })
    expect((await storedRuns(created.db, 'tenants')).filter((r) => r.rdsId === null)).toHaveLength(1)
    expect(await cachedTenants(created.db)).toHaveLength(3)
    expect(await created.db('locks').select()).toEqual([])

    // When: both start again with waitMs; then: both run, one after the other, and the lease seen meanwhile names this host and process.
    // With waitMs, the second waits for the first to release the lease, then runs.
    let lockSeen: Record<string, unknown> | undefined
    let running: Awaited<ReturnType<typeof syncStatus>>['kinds'][number]['running'] = null
    let done = false
    const both = Promise.all([
      runTenantSync(ctx, {...TENANTS, force: true, waitMs: 30_000}),
      runTenantSync(other, {...TENANTS, force: true, waitMs: 30_000}),
    ]).finally(() => void (done = true))
    while (!done && lockSeen === undefined) {
      lockSeen = (await created.db('locks').first()) as Record<string, unknown> | undefined
      if (lockSeen)
        running = must(
          (await syncStatus(ctx)).kinds.find((k) => k.kind === 'tenants'),
          'tenants',
        ).running
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

  it('fleet rows that break the contract are counted as invalid with the reason and a few ids (result and sync_runs), kept with a fallback or left out, never lost silently', async () => {
    // Given: a master whose tenants 2 and 4 have no name, routing rows 3 and 6 no updated_at, and row 5 an empty email.
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

    // When: tenants sync, then routing incremental, --full and --truncate (a comment each below); then: every run reports the invalid rows with the reason, whether kept, and their ids, in its result and in sync_runs, and the cache holds what could be kept.
    // Tenants: the two without a name are stored, with an empty one, and counted.
    const tenants = await runTenantSync(ctx, TENANTS)
    expect(resultFor(tenants.rds, 'main')).toMatchObject({
      status: 'ok',
      tenants: 4,
      counts: {...ZERO, inserted: 4, invalid: 2},
      invalidRows: [nullName],
    })
    expect(tenants.totals).toEqual({...ZERO, inserted: 4, invalid: 2})
    expect((await cachedTenants(db)).map((t) => [t.remoteId, t.name === ''])).toEqual([
      [1, false],
      [2, true],
      [3, false],
      [4, true],
    ])
    // Counted again by every run that reads them, even with nothing to write.
    expect(resultFor((await runTenantSync(ctx, {...TENANTS, force: true})).rds, 'main')).toMatchObject({
      counts: {...ZERO, unchanged: 4, invalid: 2},
      invalidRows: [nullName],
    })
    const tenantRuns = (await storedRuns(db, 'tenants')).filter((r) => r.rdsId === mainId)
    expect(tenantRuns.map((r) => r.stats)).toEqual([
      expect.objectContaining({inserted: 4, invalid: 2, invalidRows: [nullName]}),
      expect.objectContaining({unchanged: 4, invalid: 2, invalidRows: [nullName]}),
    ])

    // Routing, incremental: the rows without updated_at are never read by one; reported, with the empty email left out.
    const noEmail = {reason: 'email is NULL or empty: left out', kept: false, rows: 1, ids: [5]}
    const incremental = await runRoutingSync(ctx, {mode: 'incremental'})
    expect(incremental).toMatchObject({status: 'ok', counts: {read: 6, inserted: 5, invalid: 3}})
    expect(incremental.invalidRows).toEqual([
      {reason: 'updated_at is NULL: incremental runs never read it (--full and --truncate copy it)', kept: false, rows: 2, ids: [3, 6]},
      noEmail,
    ])
    expect((await cachedRouting(db)).map((e) => e.sourceId)).toEqual([1, 2, 4, 7, 8])

    // --full copies them (without a source time) and still reports them; --truncate alike.
    const copied = {
      reason: 'updated_at is NULL: copied without a source time; incremental runs never see its changes (--full does)',
      kept: true,
      rows: 2,
      ids: [3, 6],
    }
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
})

describe('a server that stalls in the middle of a result', () => {
  it('tenant and routing syncs fail saying which limit passed and that the server sent no data for that long, never "for an unknown reason"', async () => {
    const {db} = await control('sqlite')
    const main = await fixture({
      engine: 'mysql',
      master: true,
      tenants: 2000,
      usersPerTenant: 1,
      ghostUsersPerTenant: 0,
      locationsPerTenant: 1,
    })
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
    expect(runs.filter((r) => r.status === 'failed').map((r) => r.error)).toEqual(
      [failed.error, failed.error, routing.error].map((e) => expect.stringContaining(String(e))),
    )
  })
})
