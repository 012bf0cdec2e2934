import type {Knex} from 'knex'
import {describe, expect, it} from 'vitest'

import {toBool} from '../../src/lib/db/values.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import type {StatusChange} from '../../src/lib/tenant/status-change.js'
import {reactivateTenant, suspendTenant} from '../../src/lib/tenant/suspend.js'
import {reactivateUser, suspendUser, type UserStatusInput} from '../../src/lib/user/suspend.js'
import type {ControlEngineName} from '../support/control-db.js'
import type {FaultProxy} from '../support/fault-proxy.js'
import type {RaiFixture} from '../support/rai-fixture.js'
import {TENANTS, context, control, fixture, must, onFixture, proxyTo, register, registerMaster, useSyncHarness, type Ctx} from '../support/sync-harness.js'

useSyncHarness()

type FleetEngine = 'mysql' | 'postgres' | 'sqlite'
/** Each fleet engine for the tenant's RDS (the master is MariaDB behind a fault proxy), each with another control database engine. */
const FLEETS: Array<[FleetEngine, ControlEngineName]> = [
  ['mysql', 'postgres'],
  ['postgres', 'sqlite'],
  ['sqlite', 'mysql'],
]
const REASON = 'customer asked to pause the account'
const SHARED = 'Shared.Person@Example.com'

interface World {
  db: Knex
  ctx: Ctx
  master: RaiFixture
  eu: RaiFixture
  masterProxy: FaultProxy
  euProxy: FaultProxy | null
  mainId: number
  euId: number
  /** An active user of eu's tenant 1, and an inactive one. */
  active: {id: number; email: string}
  inactive: {id: number; email: string}
}

type Row = Record<string, unknown>

/**
 * A master RDS (MariaDB, one tenant of its own, behind a proxy) whose
 * user_email_routing lists its users and those of `eu` (the given engine, three
 * active tenants, each with a ghost); SHARED has a user in eu's tenants 1 and 2
 * and in main's tenant 1. raiops has synced tenants and routing.
 */
async function world(engine: FleetEngine, controlEngine: ControlEngineName, usersPerTenant = 4): Promise<World> {
  const {db} = await control(controlEngine)
  const ctx = context(db, {connectTimeoutMs: 2000, queryTimeoutMs: 10_000})
  const [master, eu] = await Promise.all([
    fixture({engine: 'mysql', master: true, tenants: 1, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
    fixture({engine, tenants: 3, usersPerTenant, ghostUsersPerTenant: 1, locationsPerTenant: 0}),
  ])
  const masterProxy = await proxyTo(master)
  const euProxy = engine === 'sqlite' ? null : await proxyTo(eu)
  const mainId = await registerMaster(ctx, master, 'main', masterProxy)
  const euId = await register(ctx, eu, 'eu', {via: euProxy ?? undefined})

  const hash = await onFixture(master, async (fdb) => ((await fdb('users').first('password')) as {password: string}).password)
  const now = '2026-01-02 03:04:05'
  const addShared = async (fdb: Knex, tenants: number[]) => {
    const next = Number(((await fdb('users').max('id as m').first()) as {m: unknown}).m) + 1
    const rows = tenants.map((t, i) => ({id: next + i, tenant_id: t, name: 'Shared Person', email: SHARED, password: hash, status: 'active', is_ghost: false}))
    await fdb('users').insert(rows.map((r) => ({...r, created_at: now, updated_at: now})))
  }
  const [active, inactive] = await onFixture(eu, async (fdb) => {
    await fdb('tenants').update({status: 'active'})
    await addShared(fdb, [1, 2])
    const staff = ((await fdb('users').where({tenant_id: 1}).orderBy('id')) as Row[]).filter((u) => !toBool(u.is_ghost))
    await fdb('users').where({id: staff[0].id}).update({status: 'active'})
    await fdb('users').where({id: staff[1].id}).update({status: 'inactive'})
    return [0, 1].map((i) => ({id: Number(staff[i].id), email: String(staff[i].email)}))
  })
  await onFixture(master, async (fdb) => {
    await fdb('tenants').update({status: 'active'})
    await addShared(fdb, [1])
  })
  // The master's routing directory: one entry per regular user of each server, as RAI keeps it.
  const routes = async (source: RaiFixture, rdsId: number) =>
    ((await onFixture(source, (fdb) => fdb('users').orderBy('id'))) as Row[])
      .filter((u) => !toBool(u.is_ghost))
      .map((u) => ({
        email: u.email,
        tenant_id: u.tenant_id,
        rds_instance_id: rdsId,
        user_id: u.id,
        password_hash: u.password,
        status: u.status,
        created_at: now,
        updated_at: now,
      }))
  const rows = [...(await routes(master, mainId)), ...(await routes(eu, euId))]
  await onFixture(master, async (fdb) => {
    await fdb('user_email_routing').delete()
    for (let i = 0; i < rows.length; i += 500) await fdb('user_email_routing').insert(rows.slice(i, i + 500).map((r, j) => ({id: i + j + 1, ...r})))
  })
  await runTenantSync(ctx, {...TENANTS, force: true})
  await runRoutingSync(ctx, {mode: 'full'})
  return {db, ctx, master, eu, masterProxy, euProxy, mainId, euId, active, inactive}
}

/** Every row the commands could touch, on every server: the tenant's RDS, the master, the control database. */
async function snapshot(w: World) {
  const eu = await onFixture(w.eu, async (fdb) => ({
    tenants: await fdb('tenants').select('id', 'status', 'updated_at').orderBy('id'),
    users: await fdb('users').select('id', 'status', 'updated_at').orderBy('id'),
  }))
  const master = await onFixture(w.master, async (fdb) => ({
    users: await fdb('users').select('id', 'status', 'updated_at').orderBy('id'),
    routing: await fdb('user_email_routing').select('id', 'status', 'updated_at').orderBy('id'),
  }))
  const controlDb = {
    tenants: await w.db('tenant_master').select('id', 'status', 'updated_at').orderBy('id'),
    cache: await w.db('user_email_routing_cache').select('source_id', 'status', 'source_updated_at').orderBy('source_id'),
    audit: await w.db('audit_logs').select('id').orderBy('id'),
  }
  return {eu, master, control: controlDb}
}

const euUserStatus = (w: World, id: number) => onFixture(w.eu, async (fdb) => ((await fdb('users').where({id}).first('status')) as {status: string}).status)

/** user_email_routing on the master for one RDS's tenant: user id → status. */
async function routing(w: World, rdsId: number, tenantId: number): Promise<Map<number, string>> {
  const rows = (await onFixture(w.master, (fdb) => fdb('user_email_routing').where({rds_instance_id: rdsId, tenant_id: tenantId}).orderBy('id'))) as Row[]
  return new Map(rows.map((r) => [Number(r.user_id), String(r.status)]))
}

/** The routing cache mirrors the master's statuses (source id → status). */
async function expectCacheMatchesMaster(w: World): Promise<void> {
  const master = (await onFixture(w.master, (fdb) => fdb('user_email_routing').select('id', 'status').orderBy('id'))) as Row[]
  const cache = (await w.db('user_email_routing_cache').select('source_id', 'status').orderBy('source_id')) as Row[]
  expect(cache.map((r) => [Number(r.source_id), r.status])).toEqual(master.map((r) => [Number(r.id), r.status]))
}

async function auditAfter(w: World, lastId: number): Promise<Row[]> {
  const rows = (await w.db('audit_logs').where('id', '>', lastId).orderBy('id')) as unknown as Row[]
  return rows.map((r) => ({
    ...r,
    old_values: r.old_values ? JSON.parse(String(r.old_values)) : null,
    new_values: r.new_values ? JSON.parse(String(r.new_values)) : null,
  }))
}

const lastAuditId = async (w: World) => Number(((await w.db('audit_logs').max('id as m').first()) as unknown as {m: unknown}).m ?? 0)

const tenantRef = (remote: number) => `eu:${remote}`

const userInput = (email: string, extra: Partial<UserStatusInput> = {}): UserStatusInput => ({
  email,
  tenant: tenantRef(1),
  reason: REASON,
  timeoutMs: 5000,
  ...extra,
})

const sides = (r: StatusChange) => ({rds: r.sides.rds.status, master: r.sides.master.status, control: r.sides.control.status})

describe.each(FLEETS)('on a %s RDS (control database on %s)', (engine, controlEngine) => {
  it('user:suspend in one tenant: a dry run changes nothing; then the RDS row, the routing entry, the cache, two audit entries; again: nothing', async () => {
    const w = await world(engine, controlEngine)
    const email = w.active.email.toUpperCase()
    const before = await snapshot(w)

    const dry = await suspendUser(w.ctx, userInput(email, {dryRun: true}))
    expect(dry.complete).toBe(true)
    expect(dry.targets).toHaveLength(1)
    const routingId = Number(
      ((await onFixture(w.master, (fdb) => fdb('user_email_routing').where({rds_instance_id: w.euId, user_id: w.active.id}).first('id'))) as Row).id,
    )
    expect(dry.targets[0].plan).toEqual({
      rds: {server: {id: w.euId, name: 'eu'}, table: 'users', column: 'status', moves: [{from: 'active', to: 'suspended', ids: [w.active.id]}]},
      routing: {
        server: {id: w.mainId, name: 'main'},
        table: 'user_email_routing',
        column: 'status',
        moves: [{from: 'active', to: 'suspended', ids: [routingId]}],
      },
    })
    expect(sides(dry)).toEqual({rds: 'skipped', master: 'skipped', control: 'skipped'})
    expect(await snapshot(w)).toEqual(before)

    let confirmed: StatusChange | undefined
    const lastId = await lastAuditId(w)
    const done = await suspendUser(w.ctx, userInput(email, {confirm: async (plan) => ((confirmed = structuredClone(plan)), true)}))
    expect(confirmed?.targets[0].plan).toEqual(dry.targets[0].plan)
    expect(done.complete).toBe(true)
    expect(sides(done)).toEqual({rds: 'changed', master: 'changed', control: 'changed'})
    expect(done.targets[0].sides.rds.rows).toBe(1)
    expect(done.targets[0].sides.master.rows).toBe(1)
    expect(await euUserStatus(w, w.active.id)).toBe('suspended')
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('suspended')
    await expectCacheMatchesMaster(w)
    // Nothing else changed on either server.
    const after = await snapshot(w)
    expect(after.eu.users.filter((u) => Number(u.id) !== w.active.id)).toEqual(before.eu.users.filter((u) => Number(u.id) !== w.active.id))
    expect(after.eu.tenants).toEqual(before.eu.tenants)
    expect(after.master.routing.filter((r) => Number(r.id) !== routingId)).toEqual(before.master.routing.filter((r) => Number(r.id) !== routingId))

    const audit = await auditAfter(w, lastId)
    expect(audit.map((a) => a.action)).toEqual(['user.suspend', 'user.suspend.routing'])
    expect(done.auditIds).toEqual(audit.map((a) => Number(a.id)))
    const tenantMasterId = done.targets[0].tenant.id
    expect(audit[0]).toMatchObject({
      target_type: 'user',
      target_id: w.active.email.toLowerCase(),
      rds_instance_id: w.euId,
      tenant_master_id: tenantMasterId,
      old_values: {server: 'eu', table: 'users', rows: [{id: w.active.id, status: 'active'}]},
      new_values: {server: 'eu', table: 'users', rows: [{id: w.active.id, status: 'suspended'}], reason: REASON},
    })
    expect(audit[1]).toMatchObject({
      rds_instance_id: w.mainId,
      tenant_master_id: tenantMasterId,
      old_values: {table: 'user_email_routing', moves: [{from: 'active', rows: 1, ids: [routingId]}]},
      new_values: {table: 'user_email_routing', moves: [{from: 'active', to: 'suspended', rows: 1, ids: [routingId]}], reason: REASON},
    })
    // Never a password hash.
    expect(JSON.stringify([done, audit])).not.toMatch(/\$2[aby]\$/)

    // Again: every side already as it should be; nothing written, no audit entry.
    const settled = await snapshot(w)
    let asked = false
    const again = await suspendUser(w.ctx, userInput(email, {confirm: async () => (asked = true)}))
    expect(asked).toBe(false)
    expect(again.complete).toBe(true)
    expect(sides(again)).toEqual({rds: 'unchanged', master: 'unchanged', control: 'unchanged'})
    expect(again.auditIds).toEqual([])
    expect(await snapshot(w)).toEqual(settled)

    // Reactivated: active again on both servers, audited as such.
    const back = await reactivateUser(w.ctx, userInput(email, {}))
    expect(sides(back)).toEqual({rds: 'changed', master: 'changed', control: 'changed'})
    expect(await euUserStatus(w, w.active.id)).toBe('active')
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('active')
    expect((await auditAfter(w, lastId)).map((a) => a.action)).toEqual(['user.suspend', 'user.suspend.routing', 'user.reactivate', 'user.reactivate.routing'])
    await expectCacheMatchesMaster(w)
  })

  it("tenant:suspend and tenant:reactivate: each routing entry follows its tenant, else its user's own status", async () => {
    const w = await world(engine, controlEngine)
    const input = {tenant: tenantRef(1), reason: REASON, timeoutMs: 5000}
    // A user suspended on their own first.
    await suspendUser(w.ctx, userInput(w.active.email))
    const usersBefore = (await onFixture(w.eu, (fdb) => fdb('users').where({tenant_id: 1}).orderBy('id'))) as Row[]
    const lastId = await lastAuditId(w)

    const suspended = await suspendTenant(w.ctx, input)
    expect(sides(suspended)).toEqual({rds: 'changed', master: 'changed', control: 'changed'})
    const entries = await routing(w, w.euId, 1)
    expect(entries.size).toBe(usersBefore.filter((u) => !toBool(u.is_ghost)).length)
    expect([...entries.values()].every((s) => s === 'suspended')).toBe(true)
    // Only the entries that were not suspended yet were written.
    expect(suspended.targets[0].sides.master.rows).toBe(entries.size - 1)
    expect(await onFixture(w.eu, async (fdb) => ((await fdb('tenants').where({id: 1}).first('status')) as Row).status)).toBe('suspended')
    // Users' own rows are untouched by a tenant suspension; other tenants' entries too.
    expect(((await onFixture(w.eu, (fdb) => fdb('users').where({tenant_id: 1}).orderBy('id'))) as Row[]).map((u) => u.status)).toEqual(
      usersBefore.map((u) => u.status),
    )
    expect([...(await routing(w, w.euId, 2)).values()].every((s) => s !== 'suspended')).toBe(true)
    const tenantMaster = (await w.db('tenant_master').where({id: suspended.targets[0].tenant.id}).first('status')) as Row
    expect(tenantMaster.status).toBe('suspended')
    await expectCacheMatchesMaster(w)
    const audit = await auditAfter(w, lastId)
    expect(audit.map((a) => a.action)).toEqual(['tenant.suspend', 'tenant.suspend.routing'])
    expect(audit[0]).toMatchObject({
      target_type: 'tenant',
      target_id: String(suspended.targets[0].tenant.id),
      rds_instance_id: w.euId,
      old_values: {table: 'tenants', rows: [{id: 1, status: 'active'}]},
      new_values: {table: 'tenants', rows: [{id: 1, status: 'suspended'}], reason: REASON},
    })

    // A user reactivated while the tenant is suspended: active on the RDS, the routing entry stays suspended.
    const user = await reactivateUser(w.ctx, userInput(w.active.email))
    expect(sides(user)).toEqual({rds: 'changed', master: 'unchanged', control: 'changed'})
    expect(await euUserStatus(w, w.active.id)).toBe('active')
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('suspended')
    // …and suspended on their own again, for the tenant's reactivation below.
    await suspendUser(w.ctx, userInput(w.active.email))

    const reactivated = await reactivateTenant(w.ctx, input)
    expect(sides(reactivated)).toEqual({rds: 'changed', master: 'changed', control: 'changed'})
    const users = (await onFixture(w.eu, (fdb) => fdb('users').where({tenant_id: 1}).orderBy('id'))) as Row[]
    const back = await routing(w, w.euId, 1)
    for (const u of users.filter((x) => !toBool(x.is_ghost))) expect(back.get(Number(u.id)), `user ${String(u.id)}`).toBe(u.status)
    expect(back.get(w.active.id)).toBe('suspended')
    expect(back.get(w.inactive.id)).toBe('inactive')
    expect(reactivated.targets[0].sides.master.rows).toBe(back.size - 1)
    expect(((await w.db('tenant_master').where({id: reactivated.targets[0].tenant.id}).first('status')) as Row).status).toBe('active')
    await expectCacheMatchesMaster(w)
  })

  it('user:suspend --all-tenants: every tenant the email has a user in, on both servers; the master down: from the cache, said so, the master-held tenant failed', async () => {
    const w = await world(engine, controlEngine)
    const lastId = await lastAuditId(w)
    const done = await suspendUser(w.ctx, {email: SHARED.toLowerCase(), allTenants: true, reason: REASON, timeoutMs: 5000})
    expect(done.complete).toBe(true)
    expect(done.targets.map((t) => [t.rds.name, t.tenant.remoteTenantId, t.sides.rds.status, t.sides.master.status])).toEqual([
      ['main', 1, 'changed', 'changed'],
      ['eu', 1, 'changed', 'changed'],
      ['eu', 2, 'changed', 'changed'],
    ])
    expect(done.notes).toEqual([])
    const shared = async (source: RaiFixture) => ((await onFixture(source, (fdb) => fdb('users').where({email: SHARED}))) as Row[]).map((u) => u.status)
    expect(await shared(w.eu)).toEqual(['suspended', 'suspended'])
    expect(await shared(w.master)).toEqual(['suspended'])
    const entries = (await onFixture(w.master, (fdb) => fdb('user_email_routing').where({email: SHARED}))) as Row[]
    expect(entries.map((e) => e.status)).toEqual(['suspended', 'suspended', 'suspended'])
    await expectCacheMatchesMaster(w)
    expect((await auditAfter(w, lastId)).map((a) => [a.action, a.rds_instance_id])).toEqual([
      ['user.suspend', w.mainId],
      ['user.suspend.routing', w.mainId],
      ['user.suspend', w.euId],
      ['user.suspend.routing', w.mainId],
      ['user.suspend', w.euId],
      ['user.suspend.routing', w.mainId],
    ])

    // The master down: the tenants come from the routing cache (said so); eu's rows change, main's cannot be read.
    await w.masterProxy.setMode('refuse')
    const partial = await reactivateUser(w.ctx, {email: SHARED, allTenants: true, reason: REASON, timeoutMs: 5000})
    expect(partial.complete).toBe(false)
    expect(partial.notes.join('\n')).toMatch(
      /the master RDS "main" could not be read \((connection refused|the server closed the connection).*\): the tenants were taken from raiops' routing cache/,
    )
    expect(partial.targets.map((t) => [t.rds.name, t.sides.rds.status, t.sides.master.status])).toEqual([
      ['main', 'failed', 'skipped'],
      ['eu', 'changed', 'failed'],
      ['eu', 'changed', 'failed'],
    ])
    expect(await shared(w.eu)).toEqual(['active', 'active'])
    await w.masterProxy.setMode('pass')
    const converged = await reactivateUser(w.ctx, {email: SHARED, allTenants: true, reason: REASON, timeoutMs: 5000})
    expect(converged.complete).toBe(true)
    expect(converged.targets.map((t) => [t.rds.name, t.sides.rds.status, t.sides.master.status])).toEqual([
      ['main', 'changed', 'changed'],
      ['eu', 'unchanged', 'changed'],
      ['eu', 'unchanged', 'changed'],
    ])
    expect(((await onFixture(w.master, (fdb) => fdb('user_email_routing').where({email: SHARED}))) as Row[]).map((e) => e.status)).toEqual([
      'active',
      'active',
      'active',
    ])
    await expectCacheMatchesMaster(w)

    // A tenant of the person that raiops' registry does not know (not synced yet): the others are changed, the run is not complete (exit 3).
    await onFixture(w.master, async (fdb) => {
      const [entry] = (await fdb('user_email_routing').where({email: SHARED}).orderBy('id').limit(1)) as Row[]
      const {id: _id, ...copy} = entry
      await fdb('user_email_routing').insert({...copy, tenant_id: 999})
    })
    const unknown = await suspendUser(w.ctx, {email: SHARED, allTenants: true, reason: REASON, timeoutMs: 5000})
    expect(unknown.targets.every((t) => t.sides.rds.status === 'changed')).toBe(true)
    expect([unknown.unreached, unknown.complete]).toEqual([1, false])
    expect(unknown.notes.join('\n')).toMatch(/tenant 999 of RDS "main" is not in raiops' registry: skipped/)
  })

  it('the master down during user:suspend: the RDS changed, the routing entry not (exit 3); again: the routing entry only, one audit entry; a third run: nothing', async () => {
    const w = await world(engine, controlEngine)
    const lastId = await lastAuditId(w)
    const masterBefore = (await snapshot(w)).master
    await w.masterProxy.setMode('refuse')
    const first = await suspendUser(w.ctx, userInput(w.active.email, {timeoutMs: 3000}))
    expect(first.complete).toBe(false)
    expect(sides(first)).toEqual({rds: 'changed', master: 'failed', control: 'changed'})
    expect(first.targets[0].sides.master.error).toMatch(/refused/)
    expect(first.targets[0].planError.routing).toMatch(/refused|closed the connection/)
    expect(await euUserStatus(w, w.active.id)).toBe('suspended')
    await w.masterProxy.setMode('pass')
    expect((await snapshot(w)).master).toEqual(masterBefore)
    const firstAudit = await auditAfter(w, lastId)
    expect(firstAudit.map((a) => a.action)).toEqual(['user.suspend'])
    expect(first.auditIds).toEqual([Number(firstAudit[0].id)])

    const second = await suspendUser(w.ctx, userInput(w.active.email))
    expect(second.complete).toBe(true)
    expect(sides(second)).toEqual({rds: 'unchanged', master: 'changed', control: 'changed'})
    expect(second.targets[0].plan.rds?.moves).toEqual([])
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('suspended')
    const secondAudit = await auditAfter(w, Number(firstAudit[0].id))
    expect(secondAudit.map((a) => a.action)).toEqual(['user.suspend.routing'])
    await expectCacheMatchesMaster(w)

    const settled = await snapshot(w)
    const third = await suspendUser(w.ctx, userInput(w.active.email))
    expect(third.complete).toBe(true)
    expect(sides(third)).toEqual({rds: 'unchanged', master: 'unchanged', control: 'unchanged'})
    expect(await snapshot(w)).toEqual(settled)
  })

  it('a change on the RDS while the plan awaits confirmation: the routing entries follow the RDS as written, not the plan', async () => {
    const w = await world(engine, controlEngine)
    await suspendTenant(w.ctx, {tenant: tenantRef(1), reason: REASON, timeoutMs: 5000})
    // The user is suspended on the RDS (by the RAI application) after tenant:reactivate read its plan.
    const reactivated = await reactivateTenant(w.ctx, {
      tenant: tenantRef(1),
      reason: REASON,
      timeoutMs: 5000,
      confirm: async () => {
        await onFixture(w.eu, (fdb) => fdb('users').where({id: w.active.id}).update({status: 'suspended'}))
        return true
      },
    })
    expect(reactivated.complete).toBe(true)
    expect(await euUserStatus(w, w.active.id)).toBe('suspended')
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('suspended')
    await expectCacheMatchesMaster(w)

    // The tenant is suspended on the RDS after user:reactivate read its plan: the user's entry stays suspended with its tenant.
    const user = await reactivateUser(w.ctx, {
      ...userInput(w.active.email),
      confirm: async () => {
        await onFixture(w.eu, (fdb) => fdb('tenants').where({id: 1}).update({status: 'suspended'}))
        return true
      },
    })
    expect(user.complete).toBe(true)
    expect(await euUserStatus(w, w.active.id)).toBe('active')
    expect((await routing(w, w.euId, 1)).get(w.active.id)).toBe('suspended')
    await expectCacheMatchesMaster(w)
  })

  it.skipIf(engine === 'sqlite')("the tenant's RDS refused or silent: bounded by the timeout, nothing written anywhere, said so", async () => {
    const w = await world(engine, controlEngine)
    const proxy = must(w.euProxy, 'a proxy')
    const before = await snapshot(w)
    await proxy.setMode('refuse')
    const refused = await suspendUser(w.ctx, userInput(w.active.email, {timeoutMs: 3000}))
    expect(refused.complete).toBe(false)
    expect(sides(refused)).toEqual({rds: 'failed', master: 'skipped', control: 'skipped'})
    // A pooled connection is cut as the server goes (its driver's words), a new one refused.
    expect(refused.targets[0].planError.rds).toMatch(/refused|closed the connection|terminated unexpectedly/)
    expect(refused.auditIds).toEqual([])

    // Silent: the deadline (not a longer connect timeout) ends it.
    const slowCtx = context(w.db, {connectTimeoutMs: 60_000, queryTimeoutMs: 60_000})
    await proxy.setMode('blackhole')
    const silent = await suspendTenant(slowCtx, {tenant: tenantRef(1), reason: REASON, timeoutMs: 1000})
    expect(silent.complete).toBe(false)
    expect(sides(silent)).toEqual({rds: 'failed', master: 'skipped', control: 'skipped'})
    expect(silent.targets[0].sides.rds.error).toMatch(/timed out after 1000 ms/)
    await proxy.setMode('pass')
    expect(await snapshot(w)).toEqual(before)
  })

  it('bad input: an unknown tenant or email, a user not in the tenant, a bad reason, --tenant with --all-tenants: exit 2, nothing written', async () => {
    const w = await world(engine, controlEngine)
    const before = await snapshot(w)
    const refusals: Array<[() => Promise<unknown>, RegExp]> = [
      [() => suspendUser(w.ctx, userInput(w.active.email, {tenant: 'eu:99'})), /RDS "eu" has no tenant 99 in the registry/],
      [() => suspendTenant(w.ctx, {tenant: 'Nobody Inc', reason: REASON, timeoutMs: 5000}), /no tenant named "Nobody Inc"/],
      [() => suspendUser(w.ctx, userInput('nobody@example.com')), /tenant 1 \(".*"\) on RDS "eu" has no user with the email nobody@example.com/],
      [() => suspendUser(w.ctx, userInput(w.active.email, {tenant: tenantRef(2)})), /has no user with the email/],
      [
        () => suspendUser(w.ctx, {email: 'nobody@example.com', allTenants: true, reason: REASON, timeoutMs: 5000}),
        /no tenant has a user with the email nobody@example.com/,
      ],
      [() => suspendUser(w.ctx, userInput(w.active.email, {allTenants: true})), /--tenant TENANT, or give --all-tenants \(one of the two\)/],
      [() => suspendUser(w.ctx, {email: w.active.email, reason: REASON, timeoutMs: 5000}), /one of the two/],
      [() => suspendUser(w.ctx, userInput('not-an-email')), /"not-an-email" is not an email address/],
      [() => suspendUser(w.ctx, userInput(w.active.email, {reason: 'because'})), /--reason is too short/],
      [() => reactivateTenant(w.ctx, {tenant: tenantRef(1), reason: '   ', timeoutMs: 5000}), /--reason must say why the tenant is reactivated/],
      [() => suspendTenant(w.ctx, {tenant: tenantRef(1), reason: 'two\nlines of reason', timeoutMs: 5000}), /--reason must be one line/],
      // Suspend and reactivate move between active and suspended only.
      [() => reactivateUser(w.ctx, userInput(w.inactive.email)), /the user .* of tenant 1 \(".*"\) on RDS "eu" is inactive, neither active nor suspended/],
      [
        () => reactivateTenant(w.ctx, {tenant: tenantRef(2), reason: REASON, timeoutMs: 5000}),
        /tenant 2 \(".*"\) on RDS "eu" is cancelled, neither active nor suspended/,
      ],
    ]
    await onFixture(w.eu, (fdb) => fdb('tenants').where({id: 2}).update({status: 'cancelled'}))
    before.eu = (await snapshot(w)).eu
    for (const [attempt, message] of refusals) await expect(attempt()).rejects.toMatchObject({exitCode: 2, message: expect.stringMatching(message)})
    // Declined at the prompt: nothing written either.
    await expect(suspendTenant(w.ctx, {tenant: tenantRef(1), reason: REASON, timeoutMs: 5000, confirm: async () => false})).rejects.toMatchObject({
      exitCode: 2,
      message: 'cancelled: nothing was changed',
    })
    expect(await snapshot(w)).toEqual(before)
  })
})

describe('a tenant with more users than one statement carries', () => {
  it.each(FLEETS)('on a %s RDS: tenant:suspend and reactivate write the routing entries in batches, each entry once', async (engine, controlEngine) => {
    const w = await world(engine, controlEngine, 1100)
    const suspended = await suspendTenant(w.ctx, {tenant: tenantRef(2), reason: REASON, timeoutMs: 20_000})
    const entries = await routing(w, w.euId, 2)
    expect(entries.size).toBe(1101)
    expect([...entries.values()].every((s) => s === 'suspended')).toBe(true)
    // None was suspended before (the entries mirrored their users' active or inactive).
    expect(suspended.targets[0].sides.master.rows).toBe(1101)
    await expectCacheMatchesMaster(w)
    const audit = await auditAfter(w, 0)
    const routingAudit = must(
      audit.find((a) => a.action === 'tenant.suspend.routing'),
      'the routing audit entry',
    )
    const moves = (routingAudit.new_values as {moves: Array<{rows: number; ids: number[]}>}).moves
    expect(moves.reduce((sum, m) => sum + m.rows, 0)).toBe(1101)
    expect(moves.every((m) => m.ids.length <= 100)).toBe(true)

    const back = await reactivateTenant(w.ctx, {tenant: tenantRef(2), reason: REASON, timeoutMs: 20_000})
    expect(back.complete).toBe(true)
    const users = (await onFixture(w.eu, (fdb) => fdb('users').where({tenant_id: 2}))) as Row[]
    const restored = await routing(w, w.euId, 2)
    for (const u of users.filter((x) => !toBool(x.is_ghost))) expect(restored.get(Number(u.id))).toBe(u.status)
    await expectCacheMatchesMaster(w)
  })
})
