import {describe, expect, it} from 'vitest'

import {getRds} from '../../src/lib/rds/repository.js'
import {connectionSpecFor} from '../../src/lib/rds/service.js'
import {lookupRouting} from '../../src/lib/routing/lookup.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {syncTenants} from '../../src/lib/sync/tenants.js'
import {readUpstreamTenants} from '../../src/lib/sync/upstream-tenants.js'
import {CONTROL_ENGINES} from '../support/control-db.js'
import {
  HANG_MARGIN_MS,
  TENANTS,
  ZERO,
  bigFleet,
  brief,
  cachedRouting,
  cachedTenants,
  context,
  control,
  expectedCache,
  fieldsOf,
  fixture,
  must,
  nextSecond,
  onFixture,
  proxyTo,
  register,
  registerMaster,
  resultFor,
  sqlTime,
  storedRuns,
  upstreamRouting,
  upstreamTenants,
  useSyncHarness,
  within,
} from '../support/sync-harness.js'

useSyncHarness()

describe.each(CONTROL_ENGINES)('tenant sync on a %s control database', (engine) => {
  it('tenants: exactly the upstream tenants with their counts (ghosts not counted); then unchanged, updated, missing (kept) and back', async () => {
    // Given: a MariaDB master (3 tenants) and a PostgreSQL RDS (2 tenants), both with ghost users and locations, registered.
    const {db} = await control(engine)
    const ctx = context(db)
    const [main, second] = await Promise.all([
      fixture({engine: 'mysql', master: true, tenants: 3, usersPerTenant: 3, ghostUsersPerTenant: 2, locationsPerTenant: 2}),
      fixture({engine: 'postgres', tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 3}),
    ])
    const mainId = await registerMaster(ctx, main, 'main')
    const secondId = await register(ctx, second, 'second')
    expect(mainId).toBeLessThan(secondId)

    // When: the first sync; then: exactly the upstream tenants, users counted without ghosts, one run per RDS and a summary.
    const first = await runTenantSync(ctx, TENANTS)
    expect(first).toMatchObject({kind: 'tenants', status: 'ok', totals: {...ZERO, inserted: 5}})
    expect(first.rds.map(brief)).toEqual([
      {id: mainId, name: 'main', status: 'ok', tenants: 3, counts: {...ZERO, inserted: 3}, error: null},
      {id: secondId, name: 'second', status: 'ok', tenants: 2, counts: {...ZERO, inserted: 2}, error: null},
    ])
    const upstream = [...(await upstreamTenants(main, mainId)), ...(await upstreamTenants(second, secondId))]
    // The oracle itself: 3 + 2 ghosts and 2 + 1 ghost per tenant count as 3 and 2.
    expect(upstream.map((t) => [t.users, t.locations])).toEqual([
      [3, 2],
      [3, 2],
      [3, 2],
      [2, 3],
      [2, 3],
    ])
    const synced = await cachedTenants(db)
    expect(synced.map(fieldsOf)).toEqual(upstream)
    for (const row of synced) {
      expect(row.missingAt).toBeNull()
      expect(within(row.refreshedAt, first), `${row.refreshedAt} within ${first.startedAt}…${first.finishedAt}`).toBe(true)
    }
    // Each tenant also keeps its active and ghost users, last user activity, search text and a health score with its signals.
    const scored = await db('tenant_master')
      .orderBy(['rds_instance_id', 'remote_tenant_id'])
      .select('name', 'cached_user_count', 'active_user_count', 'ghost_user_count', 'last_user_activity_at', 'health_score', 'health_signals', 'search_text')
    expect(scored.map((r) => Number(r.ghost_user_count))).toEqual([2, 2, 2, 1, 1])
    for (const row of scored) {
      expect(Number(row.active_user_count)).toBeLessThanOrEqual(Number(row.cached_user_count))
      expect(row.last_user_activity_at).not.toBeNull()
      expect(String(row.search_text).split('\n')[0]).toBe(String(row.name).toLowerCase())
      const signals = JSON.parse(String(row.health_signals)) as Array<{name: string; points: number; detail: string}>
      expect(signals).toHaveLength(8)
      // No tenant here has a subscription: the billing signal gives half.
      expect(signals.at(-1)).toMatchObject({name: 'billing', points: 5, detail: 'no subscription'})
      expect(Number(row.health_score)).toBe(Math.round(signals.reduce((sum, signal) => sum + signal.points, 0)))
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

    // Then, phase by phase (a comment each): forced again, unchanged; renamed upstream, updated; deleted upstream, kept and marked missing; back, cleared on the same row.
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
    expect(afterChange.find((t) => t.rdsId === mainId && t.remoteId === 2)).toMatchObject({
      name: 'Renamed & Co "2"',
      users: 2,
      locations: 2,
      missingAt: null,
    })
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
    expect(fieldsOf(tenant3)).toEqual(
      fieldsOf(
        must(
          afterChange.find((t) => t.remoteId === 3 && t.rdsId === mainId),
          'tenant 3 before',
        ),
      ),
    )
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
      {
        id: oneId,
        name: 'one',
        status: 'skipped',
        tenants: null,
        counts: {...ZERO, skipped: 1},
        durationMs: 0,
        error: null,
        lastSyncedAt: okRuns.find((r) => r.rdsId === oneId)?.finishedAt,
        invalidRows: [],
      },
      {
        id: twoId,
        name: 'two',
        status: 'skipped',
        tenants: null,
        counts: {...ZERO, skipped: 1},
        durationMs: 0,
        error: null,
        lastSyncedAt: okRuns.find((r) => r.rdsId === twoId)?.finishedAt,
        invalidRows: [],
      },
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
    // Given: three RDS (SQLite, MariaDB, PostgreSQL), the last two behind proxies, synced once.
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

    // When: each changes upstream, the MariaDB proxy refuses and the PostgreSQL one goes silent, and a forced sync runs with a 2 s deadline;
    // Upstream changes everywhere: only the reachable RDS's may show. A tenant deleted
    // on each unreachable one: were the failure read as "no tenants", it would be marked missing.
    await onFixture(healthy, (fdb) => fdb('tenants').where({id: 1}).update({name: 'Healthy renamed'}))
    await onFixture(refused, (fdb) => fdb('tenants').where({id: 1}).delete())
    await onFixture(silent, (fdb) => fdb('tenants').where({id: 1}).delete())
    await refusedProxy.setMode('refuse')
    await silentProxy.setMode('blackhole')
    // A probe found the refused one down: its tenants' scores will say so.
    const scores = async (rdsId: number) => (await db('tenant_master').where({rds_instance_id: rdsId}).orderBy('id').pluck('health_score')).map(Number)
    const scoredBefore = await scores(refusedId)
    await db('rds_instances').where({id: refusedId}).update({health_status: 'down'})

    const faulty = context(db, {connectTimeoutMs: 1000})
    const started = performance.now()
    const report = await runTenantSync(faulty, {...TENANTS, force: true, deadlineMs: 2000})
    expect(performance.now() - started).toBeLessThan(2000 + HANG_MARGIN_MS)

    // Then: it ends in time, partial: the healthy RDS synced, each failed one named with its cause and its rows untouched, in the result and in sync_runs.
    expect(report.status).toBe('partial')
    expect(report.totals).toEqual({...ZERO, updated: 1, unchanged: 1})
    expect(brief(resultFor(report.rds, 'healthy'))).toEqual({
      id: healthyId,
      name: 'healthy',
      status: 'ok',
      tenants: 2,
      counts: {...ZERO, updated: 1, unchanged: 1},
      error: null,
    })
    const refusedResult = resultFor(report.rds, 'refused-rds')
    const silentResult = resultFor(report.rds, 'silent-rds')
    expect(refusedResult).toMatchObject({id: refusedId, status: 'failed', tenants: null, counts: ZERO})
    expect(silentResult).toMatchObject({id: silentId, status: 'failed', tenants: null, counts: ZERO})
    expect(refusedResult.error).toMatch(/refused/)
    expect(silentResult.error).toMatch(/timed out/)

    expect(await cachedTenants(db, refusedId)).toEqual(before.refused)
    expect(await cachedTenants(db, silentId)).toEqual(before.silent)
    // The unread tenants were scored again: the down RDS costs its 5 points (it was not probed before: half of 10).
    expect(await scores(refusedId)).toEqual(scoredBefore.map((score) => score - 5))
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
    const bigId = await register(ctx, await bigFleet(), 'big')
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
    expect(brief(resultFor(report.rds, 'big'))).toEqual({
      id: bigId,
      name: 'big',
      status: 'ok',
      tenants: 2000,
      counts: {...ZERO, inserted: 2000},
      error: null,
    })
    expect(resultFor(report.rds, 'small')).toMatchObject({status: 'ok', tenants: 3})
    expect(queries.get(bigId)).toHaveLength(3)
    expect(queries.get(smallId)).toHaveLength(3)

    const rows = await cachedTenants(db, bigId)
    expect(rows).toHaveLength(2000)
    expect(rows.every((t) => t.users === 2 && t.locations === 1 && t.missingAt === null)).toBe(true)
    expect(rows.map(fieldsOf)).toEqual(await upstreamTenants(await bigFleet(), bigId))

    const again = await runTenantSync(ctx, {...TENANTS, force: true})
    expect(resultFor(again.rds, 'big').counts).toEqual({...ZERO, unchanged: 2000})
    expect(queries.get(bigId)).toHaveLength(6)
    const verified = await cachedTenants(db, bigId)
    expect(verified.every((t) => within(t.refreshedAt, again))).toBe(true)
  })

  it('names and emails with quotes, backslashes, emoji, mixed case and trailing spaces round-trip exactly (emails lower-cased)', async () => {
    // Given: a MariaDB master whose tenant names and first six emails hold quotes, backslashes, emoji, mixed case, trailing spaces and a tab.
    const {db} = await control(engine)
    const ctx = context(db)
    const names = [`O'Brien "Quoted" Ltd`, 'Back\\slash \\N Tenant', 'Emoji 🚀 Café ✓ 日本', 'MiXeD CaSe GmbH', 'Trailing spaces   ']
    const emails = [
      `"O'Quote"@Example.COM`,
      'back\\slash\\N@example.com',
      'Emoji🚀@Café.Example.com',
      'MiXeD.CaSe@EXAMPLE.com',
      'trailing@example.com   ',
      'tab\tin@example.com',
    ]
    const main = await fixture({engine: 'mysql', master: true, tenantNames: names, usersPerTenant: 2})
    const mainId = await registerMaster(ctx, main, 'main')
    await onFixture(main, async (fdb) => {
      for (const [i, email] of emails.entries())
        await fdb('user_email_routing')
          .where({id: i + 1})
          .update({email})
    })

    // When: tenants and routing sync, then --truncate, --full and incremental runs after changes upstream; then: every name and email reads back byte for byte (emails lower-cased), and the run after each finds nothing to change.
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
    const changed = [
      `"O'Quote" 2@Example.COM`,
      'back\\slash\\N\\t@example.com',
      'Emoji🚀🚀@Café.Example.com',
      'MiXeD.CaSe@EXAMPLE.com',
      'trailing@example.com ',
      'tab\t\tin@example.com',
    ]
    const changedAt = nextSecond()
    await onFixture(main, async (fdb) => {
      for (const [i, email] of changed.entries())
        await fdb('user_email_routing')
          .where({id: i + 1})
          .update({email, updated_at: sqlTime(changedAt)})
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

    const found = await lookupRouting(ctx, {email: 'MiXeD.CaSe@EXAMPLE.com'})
    expect(found.cache).toEqual([
      expect.objectContaining({sourceId: 4, email: 'mixed.case@example.com', tenantName: names[1], rdsName: 'main', rdsInstanceId: mainId}),
    ])
  })
})

describe('readUpstreamTenants', () => {
  it('reads every tenant, one with no users or locations counted 0, ghosts counted apart', async () => {
    const rai = await fixture({engine: 'sqlite', tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 3, locationsPerTenant: 1})
    const stamp = sqlTime(Date.now())
    const read = await onFixture(rai, async (fdb) => {
      await fdb('tenants').insert({
        id: 3,
        name: 'Empty',
        primary_contact_name: null,
        primary_contact_email: null,
        status: 'active',
        created_at: stamp,
        updated_at: stamp,
      })
      return readUpstreamTenants(fdb, () => 5000)
    })
    expect(read.tenants.map((t) => [t.id, t.users, t.ghostUsers, t.locations])).toEqual([
      [1, 2, 3, 1],
      [2, 2, 3, 1],
      [3, 0, 0, 0],
    ])
    for (const tenant of read.tenants.slice(0, 2)) {
      expect(tenant.activeUsers).toBeLessThanOrEqual(tenant.users)
      expect(tenant.lastActivityAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    }
    expect(read.tenants[2]).toEqual({
      id: 3,
      name: 'Empty',
      primaryContactName: null,
      primaryContactEmail: null,
      status: 'active',
      users: 0,
      activeUsers: 0,
      ghostUsers: 0,
      locations: 0,
      lastActivityAt: null,
    })
    expect(read.invalidRows).toEqual([])
  })
})
