import type {Knex} from 'knex'
import {describe, expect, it} from 'vitest'

import {TENANT_MASTER_TABLE} from '../../src/lib/db/tables.js'
import {toBool, toIso} from '../../src/lib/db/values.js'
import {syncTenants} from '../../src/lib/sync/tenants.js'
import {HEALTH_WEIGHTS} from '../../src/lib/tenant/health-score.js'
import {showTenant, type TenantShow} from '../../src/lib/tenant/show.js'
import type {ControlEngineName} from '../support/control-db.js'
import type {FixtureEngine, RaiFixture} from '../support/rai-fixture.js'
import {TENANTS, context, control, fixture, must, onFixture, proxyTo, register, registerMaster, useSyncHarness, type Ctx} from '../support/sync-harness.js'

useSyncHarness()

/** What the fixture holds for one tenant, computed here row by row: the oracle of the live read. */
async function upstream(target: RaiFixture, remoteId: number) {
  return onFixture(target, async (db) => {
    const tenant = (await db('tenants').where({id: remoteId}).first()) as Record<string, unknown> | undefined
    const users = (await db('users').where({tenant_id: remoteId})) as Array<Record<string, unknown>>
    const regular = users.filter((u) => !toBool(u.is_ghost))
    const byStatus = new Map<string, number>()
    for (const u of regular) byStatus.set(String(u.status), (byStatus.get(String(u.status)) ?? 0) + 1)
    const times = regular.map((u) => must(toIso(u.updated_at), 'updated_at')).sort()
    return {
      tenant: tenant
        ? {
            name: (tenant.name as string | null) ?? null,
            primaryContactName: (tenant.primary_contact_name as string | null) ?? null,
            primaryContactEmail: (tenant.primary_contact_email as string | null) ?? null,
            status: (tenant.status as string | null) ?? null,
          }
        : null,
      users: {
        total: regular.length,
        active: regular.filter((u) => u.status === 'active').length,
        ghosts: users.length - regular.length,
        byStatus: [...byStatus].map(([status, n]) => ({status, users: n})).sort((a, b) => b.users - a.users || a.status.localeCompare(b.status)),
        lastActivityAt: times.at(-1) ?? null,
        withoutEmail: users.filter((u) => u.email === null).length,
      },
      locations: ((await db('locations').where({tenant_id: remoteId})) as unknown[]).length,
      regular,
    }
  })
}

async function storedRow(db: Knex, id: number): Promise<Record<string, unknown>> {
  return must((await db(TENANT_MASTER_TABLE).where({id}).first()) as Record<string, unknown> | undefined, `tenant_master ${id}`)
}

async function syncAll(ctx: Ctx): Promise<void> {
  const report = await syncTenants(ctx, {...TENANTS, force: true})
  expect(report.rds.map((r) => [r.name, r.status, r.error])).toEqual(report.rds.map((r) => [r.name, 'ok', null]))
}

const SIGNALS = Object.keys(HEALTH_WEIGHTS)

/** The fleet engines, each beside a control database (MariaDB beside the MariaDB fleet, SQLite otherwise). */
const MATRIX: Array<[FixtureEngine, ControlEngineName]> = [
  ['mysql', 'mysql'],
  ['postgres', 'sqlite'],
  ['sqlite', 'sqlite'],
]

describe.each(MATRIX)('tenant:show on a %s fleet (%s control database)', (fleetEngine, controlEngine) => {
  it('shows the registry row and the live data, refreshes tenant_master, and finds the routing mismatches', async () => {
    // Given: a master RDS with 3 tenants, synced; then on the RDS, a user of tenant 2 suspended, and on the master
    // an entry routed to a user tenant 2 does not have, one user's entry deleted and another's email changed.
    const {db} = await control(controlEngine)
    const ctx = context(db)
    const main = await fixture({engine: fleetEngine, master: true, tenants: 3, usersPerTenant: 4, ghostUsersPerTenant: 1, locationsPerTenant: 2})
    const mainId = await registerMaster(ctx, main, 'main')
    await syncAll(ctx)
    const before = await upstream(main, 2)
    const [suspended, unrouted, renamed] = before.regular.map((u) => Number(u.id)).sort((a, b) => a - b)
    const mismatch = await onFixture(main, async (fdb) => {
      await fdb('users').where({id: suspended}).update({status: 'suspended'})
      await fdb('user_email_routing').where({user_id: unrouted, tenant_id: 2}).delete()
      await fdb('user_email_routing').where({user_id: renamed, tenant_id: 2}).update({email: 'someone-else@example.com'})
      await fdb('user_email_routing').insert({
        email: 'ghost-of-a-user@example.com',
        tenant_id: 2,
        rds_instance_id: mainId,
        user_id: 999_999,
        status: 'active',
        password_hash: null,
      })
      const added = (await fdb('user_email_routing').where({user_id: 999_999}).first('id')) as {id: unknown}
      const renamedEntry = (await fdb('user_email_routing').where({user_id: renamed, tenant_id: 2}).first('id')) as {id: unknown}
      return {added: Number(added.id), renamedEntry: Number(renamedEntry.id)}
    })
    const cachedBefore = await storedRow(db, (await db(TENANT_MASTER_TABLE).where({rds_instance_id: mainId, remote_tenant_id: 2}).first('id'))!.id)

    const auditBefore = Number((await db('audit_logs').count({n: '*'}))[0].n)

    // When
    const started = Date.now()
    const shown = await showTenant(ctx, {tenant: 'main:2', live: true, timeoutMs: 10_000})

    // Then: the registry row as it was cached, and the live data as the fixture holds it.
    const expected = await upstream(main, 2)
    expect(shown.tenant).toMatchObject({
      id: Number(cachedBefore.id),
      remoteTenantId: 2,
      name: cachedBefore.name,
      users: before.users.total,
      activeUsers: before.users.total,
      ghostUsers: 1,
      locations: 2,
      missingAt: null,
      rds: {id: mainId, name: 'main', engine: fleetEngine, master: true, active: true},
    })
    const live = must(shown.live, 'live data')
    expect(live).toMatchObject({status: 'ok', reason: null, tenant: expected.tenant, locations: expected.locations, contractIssues: [], refreshed: true})
    expect(live.users).toEqual(expected.users)
    expect(live.users?.byStatus).toEqual([
      {status: 'active', users: before.users.total - 1},
      {status: 'suspended', users: 1},
    ])
    // A constant number of statements: five to the RDS, one to the master (here the same server).
    expect(live.queries).toEqual({rds: 5, master: 1})
    expect(live.routing).toEqual({
      status: 'ok',
      reason: null,
      master: {id: mainId, name: 'main'},
      entries: before.users.total,
      routedWithoutUser: {
        count: 2,
        sample: [
          {routingId: mismatch.renamedEntry, email: 'someone-else@example.com', userId: renamed, problem: 'email differs', userEmail: expect.any(String)},
          {routingId: mismatch.added, email: 'ghost-of-a-user@example.com', userId: 999_999, problem: 'no user', userEmail: null},
        ].sort((a, b) => a.routingId - b.routingId),
      },
      usersWithoutRouting: {count: 1, sample: [{userId: unrouted, email: expected.regular.find((u) => Number(u.id) === unrouted)?.email}]},
    })
    expect(shown.partial).toBe(false)

    // The refresh wrote the counts and the score into tenant_master, in one row, unaudited.
    const after = await storedRow(db, shown.tenant.id)
    expect({
      users: Number(after.cached_user_count),
      active: Number(after.active_user_count),
      ghosts: Number(after.ghost_user_count),
      locations: Number(after.cached_location_count),
      lastActivity: toIso(after.last_user_activity_at),
      score: Number(after.health_score),
      signals: JSON.parse(String(after.health_signals)) as unknown,
    }).toEqual({
      users: expected.users.total,
      active: expected.users.active,
      ghosts: expected.users.ghosts,
      locations: expected.locations,
      lastActivity: expected.users.lastActivityAt,
      score: shown.health.score,
      signals: shown.health.signals,
    })
    const refreshedAt = Date.parse(must(toIso(after.cache_refreshed_at), 'cache_refreshed_at'))
    expect(refreshedAt).toBeGreaterThanOrEqual(started - 1000)
    expect(shown.health).toMatchObject({source: 'live'})
    expect(shown.health.signals.map((s) => s.name)).toEqual(SIGNALS)
    expect(shown.health.signals.find((s) => s.name === 'activeShare')?.detail).toBe(`${expected.users.active} of ${expected.users.total} users active`)
    expect(shown.health.score).toBe(Math.round(shown.health.signals.reduce((sum, s) => sum + s.points, 0)))
    // A read: no audit entry.
    expect(Number((await db('audit_logs').count({n: '*'}))[0].n)).toBe(auditBefore)
    expect(shown.audit).toEqual([])
    expect(shown.impersonations).toEqual([])
    expect(shown.billing).toBeNull()

    // --no-live: the registry only, with the score stored by the refresh above, and no fleet connection.
    await ctx.fleet.destroyAll({timeoutMs: 1000})
    const cached = await showTenant(ctx, {tenant: String(shown.tenant.id), live: false, timeoutMs: 10_000})
    expect(cached.live).toBeNull()
    expect(cached.health).toEqual({score: shown.health.score, signals: shown.health.signals, source: 'stored', asOf: toIso(after.cache_refreshed_at)})
    expect(cached.partial).toBe(false)
    expect(ctx.fleet.size).toBe(0)
  })
})

describe('tenant:show when servers fail (MariaDB fleet, SQLite control database)', () => {
  async function fleetBehindProxies() {
    const {db} = await control('sqlite')
    const ctx = context(db)
    const [main, second] = await Promise.all([
      fixture({engine: 'mysql', master: true, tenants: 2, usersPerTenant: 2}),
      fixture({engine: 'mysql', tenants: 2, usersPerTenant: 3, ghostUsersPerTenant: 0}),
    ])
    const [mainProxy, secondProxy] = await Promise.all([proxyTo(main), proxyTo(second)])
    await registerMaster(ctx, main, 'main', mainProxy)
    const secondId = await register(ctx, second, 'second', {via: secondProxy})
    // The master routes the second RDS's users too.
    const routed = await onFixture(second, (fdb) => fdb('users').where({is_ghost: false}).select('id', 'tenant_id', 'email'))
    await onFixture(main, (fdb) =>
      fdb('user_email_routing').insert(
        (routed as Array<{id: number; tenant_id: number; email: string}>).map((u) => ({
          email: u.email,
          tenant_id: u.tenant_id,
          rds_instance_id: secondId,
          user_id: u.id,
          status: 'active',
        })),
      ),
    )
    await syncAll(ctx)
    // Each command runs with connections of its own: the sync's are closed.
    await ctx.fleet.destroyAll({timeoutMs: 1000})
    return {db, ctx, main, second, mainProxy, secondProxy, secondId}
  }

  const expectCachedOnly = (shown: TenantShow, reason: RegExp) => {
    expect(shown.partial).toBe(true)
    expect(shown.tenant).toMatchObject({remoteTenantId: 1, users: 3, locations: 2})
    expect(shown.live).toMatchObject({status: 'unavailable', tenant: null, users: null, locations: null, refreshed: false})
    expect(shown.live?.reason).toMatch(reason)
    expect(shown.health.source).toBe('stored')
  }

  it('its RDS refusing: the cached data, the cause, partial; nothing refreshed', async () => {
    const {db, ctx, secondProxy} = await fleetBehindProxies()
    const id = Number((await db(TENANT_MASTER_TABLE).where({remote_tenant_id: 1}).orderBy('id', 'desc').first('id'))!.id)
    const stored = await storedRow(db, id)
    await secondProxy.setMode('refuse')
    const shown = await showTenant(ctx, {tenant: 'second:1', live: true, timeoutMs: 5000})
    expectCachedOnly(shown, /^second: connection refused/)
    expect(await storedRow(db, id)).toEqual(stored)
    // The master answered, but there are no users to compare its entries with.
    expect(shown.live?.routing).toMatchObject({status: 'skipped', entries: 3})
  })

  it('its RDS silent: bounded by the timeout, the cause named', async () => {
    const {ctx, secondProxy} = await fleetBehindProxies()
    await secondProxy.setMode('blackhole')
    const shown = await showTenant(ctx, {tenant: 'second:1', live: true, timeoutMs: 1000})
    expectCachedOnly(shown, /^second: (the query )?timed out/)
  })

  it('the master down: the live part shown, the routing comparison unavailable, partial', async () => {
    const {ctx, mainProxy, second} = await fleetBehindProxies()
    await mainProxy.setMode('refuse')
    const shown = await showTenant(ctx, {tenant: 'second:1', live: true, timeoutMs: 5000})
    const expected = await upstream(second, 1)
    expect(shown.partial).toBe(true)
    expect(shown.live).toMatchObject({status: 'ok', tenant: expected.tenant, users: expected.users, refreshed: true, queries: {rds: 5, master: 0}})
    expect(shown.live?.routing).toMatchObject({status: 'unavailable', entries: null, routedWithoutUser: null, usersWithoutRouting: null})
    expect(shown.live?.routing.reason).toMatch(/^the master main: connection refused/)
    expect(shown.health.source).toBe('live')
  })

  it('--no-live opens no fleet connection: a refusing RDS is not even tried', async () => {
    const {ctx, secondProxy, mainProxy} = await fleetBehindProxies()
    await Promise.all([secondProxy.setMode('refuse'), mainProxy.setMode('refuse')])
    const accepted = secondProxy.accepted + mainProxy.accepted
    const shown = await showTenant(ctx, {tenant: 'second:1', live: false, timeoutMs: 5000})
    expect(shown).toMatchObject({live: null, partial: false, tenant: {remoteTenantId: 1, users: 3}})
    expect(ctx.fleet.size).toBe(0)
    expect(secondProxy.accepted + mainProxy.accepted).toBe(accepted)
  })
})

describe('tenant:show and rows that break the fleet contract', () => {
  it('a NULL name, a NULL email, a tenant gone with its users left: said as such, never a crash', async () => {
    const {db} = await control('sqlite')
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 3, usersPerTenant: 3, ghostUsersPerTenant: 1})
    await registerMaster(ctx, main, 'main')
    await syncAll(ctx)
    const userOf1 = await onFixture(main, async (fdb) => {
      await fdb.schema.alterTable('tenants', (table) => void table.string('name', 255).nullable().alter())
      await fdb.schema.alterTable('users', (table) => void table.string('email', 255).nullable().alter())
      await fdb('tenants').where({id: 1}).update({name: null})
      const user = (await fdb('users').where({tenant_id: 1, is_ghost: false}).orderBy('id').first('id')) as {id: unknown}
      await fdb('users').where({id: user.id}).update({email: null})
      // Tenant 3's row goes; its users stay, naming a tenant that does not exist.
      await fdb('tenants').where({id: 3}).delete()
      return Number(user.id)
    })

    const one = await showTenant(ctx, {tenant: 'main:1', live: true, timeoutMs: 5000})
    expect(one.live).toMatchObject({status: 'ok', tenant: {name: null}, users: {withoutEmail: 1}})
    expect(one.live?.contractIssues).toEqual(['tenant 1 has a NULL name', '1 user(s) have a NULL email'])
    expect(one.live?.routing.routedWithoutUser?.sample).toEqual([expect.objectContaining({userId: userOf1, problem: 'email differs', userEmail: null})])
    expect(one.partial).toBe(false)
    // Stored as a sync stores it: an empty name.
    expect((await storedRow(db, one.tenant.id)).name).toBe('')

    const three = await showTenant(ctx, {tenant: 'main:3', live: true, timeoutMs: 5000})
    expect(three.live).toMatchObject({status: 'gone', tenant: null, users: {total: 3, ghosts: 1}, refreshed: true})
    expect(three.live?.reason).toBe('main has no tenant 3 any more')
    expect(three.live?.contractIssues).toEqual(['4 user(s) (1 ghost) have tenant_id 3, which has no tenants row'])
    expect(three.partial).toBe(false)
    expect(three.health.source).toBe('stored')
    expect(toIso((await storedRow(db, three.tenant.id)).remote_missing_at)).not.toBeNull()
  })

  it("a MariaDB zero date as the users' updated_at (allowed by its default sql_mode): no activity known, never a crash", async () => {
    const {db} = await control('sqlite')
    const ctx = context(db)
    const main = await fixture({engine: 'mysql', master: true, tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 0})
    await registerMaster(ctx, main, 'main')
    await onFixture(main, (fdb) =>
      fdb.transaction(async (tx) => {
        await tx.raw("SET SESSION sql_mode = ''")
        await tx.raw("UPDATE users SET updated_at = '0000-00-00 00:00:00' WHERE tenant_id = 2")
      }),
    )
    await syncAll(ctx)
    const two = await showTenant(ctx, {tenant: 'main:2', live: true, timeoutMs: 5000})
    expect(two.live).toMatchObject({status: 'ok', users: {total: 2, lastActivityAt: null}, refreshed: true})
    expect(two.tenant.lastUserActivityAt).toBeNull()
    expect(two.health.signals.find((s) => s.name === 'recency')).toMatchObject({points: 0, detail: 'no user activity known'})
    expect(two.partial).toBe(false)
  })

  it('a users.updated_at that is no time (SQLite keeps any text): no activity known, and the refresh stores none', async () => {
    const {db} = await control('mysql')
    const ctx = context(db)
    const main = await fixture({engine: 'sqlite', master: true, tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 0})
    await registerMaster(ctx, main, 'main')
    await onFixture(main, (fdb) => fdb('users').where({tenant_id: 2}).update({updated_at: 'last tuesday'}))
    await syncAll(ctx)
    const two = await showTenant(ctx, {tenant: 'main:2', live: true, timeoutMs: 5000})
    expect(two.live).toMatchObject({status: 'ok', users: {total: 2, lastActivityAt: null}, refreshed: true})
    expect((await storedRow(db, two.tenant.id)).last_user_activity_at).toBeNull()
    expect(two.health.signals.find((s) => s.name === 'recency')).toMatchObject({points: 0, detail: 'no user activity known'})
  })
})
