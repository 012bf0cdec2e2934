import bcrypt from 'bcryptjs'
import type {Knex} from 'knex'
import {describe, expect, it} from 'vitest'

import {toBool} from '../../src/lib/db/values.js'
import {NotFoundError, NotPermittedError, UserError} from '../../src/lib/errors/index.js'
import {syncPassword, type PasswordSync, type PasswordSyncInput} from '../../src/lib/password/sync.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import type {ControlEngineName} from '../support/control-db.js'
import type {FaultProxy} from '../support/fault-proxy.js'
import {LARAVEL_TEST_PASSWORD, laravelHash, type RaiFixture} from '../support/rai-fixture.js'
import {TENANTS, context, control, fixture, onFixture, proxyTo, register, registerMaster, useSyncHarness, type Ctx} from '../support/sync-harness.js'

useSyncHarness()

type FleetEngine = 'mysql' | 'postgres' | 'sqlite'
/** Each fleet engine for the RDS "eu" (another RDS, "us", is MariaDB behind a fault proxy; the master too), each with another control database engine. */
const FLEETS: Array<[FleetEngine, ControlEngineName]> = [
  ['mysql', 'postgres'],
  ['postgres', 'sqlite'],
  ['sqlite', 'mysql'],
]
const REASON = 'locked out of two tenants, ticket SUP-1234'
const PERSON = 'Shared.Person@Example.com'
const EMAIL = PERSON.toLowerCase()
const NEW_PASSWORD = 'n3w-Pässword for all tenants'
const HASH_SHAPE = /\$2[abxy]?\$\d\d\$/

type Row = Record<string, unknown>

interface World {
  db: Knex
  ctx: Ctx
  master: RaiFixture
  eu: RaiFixture
  us: RaiFixture
  masterProxy: FaultProxy
  usProxy: FaultProxy
  ids: {main: number; eu: number; us: number}
}

/**
 * A master RDS "main" (MariaDB, one tenant of its own, behind a proxy) whose
 * user_email_routing lists every regular user of main, "eu" (the given engine,
 * three tenants) and "us" (MariaDB behind a proxy, two tenants). PERSON has a
 * user in eu's tenants 1 and 2, us's tenant 1 and main's tenant 1, each with
 * its own hash of the fixtures' password (cost 4) but us's, which is at cost 5.
 */
async function world(engine: FleetEngine, controlEngine: ControlEngineName): Promise<World> {
  const {db} = await control(controlEngine)
  const ctx = context(db, {connectTimeoutMs: 2000, queryTimeoutMs: 10_000})
  const plan = {usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 0}
  const [master, eu, us] = await Promise.all([
    fixture({engine: 'mysql', master: true, tenants: 1, ...plan}),
    fixture({engine, tenants: 3, seed: 2, ...plan}),
    fixture({engine: 'mysql', tenants: 2, seed: 3, ...plan}),
  ])
  const masterProxy = await proxyTo(master)
  const usProxy = await proxyTo(us)
  const euProxy = engine === 'sqlite' ? undefined : await proxyTo(eu)
  const main = await registerMaster(ctx, master, 'main', masterProxy)
  const euId = await register(ctx, eu, 'eu', {via: euProxy})
  const usId = await register(ctx, us, 'us', {via: usProxy})
  const now = '2026-01-02 03:04:05'
  const addPerson = async (target: RaiFixture, tenants: number[], cost = 4) =>
    onFixture(target, async (fdb) => {
      const next = Number(((await fdb('users').max('id as m').first()) as {m: unknown}).m) + 1
      const rows = tenants.map((t, i) => ({
        id: next + i,
        tenant_id: t,
        name: 'Shared Person',
        email: PERSON,
        password: bcrypt.hashSync(LARAVEL_TEST_PASSWORD, cost).replace(/^\$2b\$/, '$2y$'),
        status: 'active',
        is_ghost: false,
        created_at: now,
        updated_at: now,
      }))
      await fdb('users').insert(rows)
    })
  await addPerson(eu, [1, 2])
  await addPerson(us, [1], 5)
  await addPerson(master, [1])
  const routes = async (source: RaiFixture, rdsId: number) =>
    ((await onFixture(source, (fdb) => fdb('users').orderBy('id'))) as Row[])
      .filter((u) => !toBool(u.is_ghost))
      .map((u) => ({
        email: u.email,
        tenant_id: u.tenant_id,
        rds_instance_id: rdsId,
        user_id: u.id,
        password_hash: u.password,
        status: 'active',
        created_at: now,
        updated_at: now,
      }))
  const rows = [...(await routes(master, main)), ...(await routes(eu, euId)), ...(await routes(us, usId))]
  await onFixture(master, async (fdb) => {
    await fdb('user_email_routing').delete()
    await fdb('user_email_routing').insert(rows.map((r, i) => ({id: i + 1, ...r})))
  })
  await runTenantSync(ctx, {...TENANTS, force: true})
  await runRoutingSync(ctx, {mode: 'full'})
  return {db, ctx, master, eu, us, masterProxy, usProxy, ids: {main, eu: euId, us: usId}}
}

/** Every password column of every row on every server, keyed by server, table and id. */
async function hashes(w: World): Promise<Map<string, {hash: string; person: boolean; updatedAt: string}>> {
  const out = new Map<string, {hash: string; person: boolean; updatedAt: string}>()
  for (const [name, target] of [
    ['main', w.master],
    ['eu', w.eu],
    ['us', w.us],
  ] as const) {
    const users = (await onFixture(target, (fdb) => fdb('users').select('id', 'email', 'password', 'updated_at'))) as Row[]
    for (const u of users)
      out.set(`${name} users ${u.id}`, {hash: String(u.password), person: String(u.email).toLowerCase() === EMAIL, updatedAt: String(u.updated_at)})
  }
  const routing = (await onFixture(w.master, (fdb) => fdb('user_email_routing').select('id', 'email', 'password_hash', 'updated_at'))) as Row[]
  for (const r of routing)
    out.set(`main user_email_routing ${r.id}`, {
      hash: String(r.password_hash),
      person: String(r.email).toLowerCase() === EMAIL,
      updatedAt: String(r.updated_at),
    })
  return out
}

const personHashes = async (w: World) => [...(await hashes(w))].filter(([, v]) => v.person).map(([k, v]) => [k, v.hash] as const)

/** The person's eight rows (four users, four routing entries) hold one $2y$ hash of `cost` that bcryptjs verifies against `password`. */
async function expectOneHash(w: World, password: string, cost: number): Promise<string> {
  const rows = await personHashes(w)
  expect(rows).toHaveLength(8)
  const distinct = [...new Set(rows.map(([, h]) => h))]
  expect(distinct).toHaveLength(1)
  expect(distinct[0]).toMatch(new RegExp(`^\\$2y\\$${String(cost).padStart(2, '0')}\\$`))
  expect(bcrypt.compareSync(password, distinct[0])).toBe(true)
  return distinct[0]
}

/** Nothing but the person's rows changed between two snapshots, and of theirs only `keys` (null: any). */
function expectOnlyChanged(before: Awaited<ReturnType<typeof hashes>>, after: Awaited<ReturnType<typeof hashes>>, keys: string[] | null): void {
  const changed = [...after].filter(([k, v]) => before.get(k)?.hash !== v.hash).map(([k]) => k)
  expect(changed.every((k) => after.get(k)?.person)).toBe(true)
  if (keys) expect(changed.sort()).toEqual([...keys].sort())
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

const input = (mode: PasswordSyncInput['mode'], extra: Partial<PasswordSyncInput> = {}): PasswordSyncInput => ({
  email: PERSON.toUpperCase(),
  mode,
  reason: REASON,
  timeoutMs: 5000,
  ...extra,
})
const reset = (extra: Partial<PasswordSyncInput> = {}) => input({kind: 'reset', password: NEW_PASSWORD}, extra)
const servers = (r: PasswordSync) => r.servers.map((s) => `${s.server.name} ${s.table} ${s.status} ${s.rows}`).sort()

/** No password and no hash anywhere in a result or audit entries. */
function expectNoSecret(value: unknown, ...passwords: string[]): void {
  const text = JSON.stringify(value)
  expect(text).not.toMatch(HASH_SHAPE)
  for (const p of passwords) expect(text).not.toContain(p)
}

describe.each(FLEETS)('password:sync on a %s RDS (control database on %s)', (engine, controlEngine) => {
  it('--reset: the plan first (a dry run writes nothing), then one $2y$ hash of the fleet cost on every user row and routing entry, audited per server', async () => {
    const w = await world(engine, controlEngine)
    const before = await hashes(w)
    const lastId = await lastAuditId(w)

    const dry = await syncPassword(w.ctx, reset({dryRun: true}))
    expect(dry.complete).toBe(true)
    expect(dry.cost).toBe(4)
    expect(dry.rows.map((r) => `${r.server.name} ${r.table} ${r.tenant.rdsName}:${r.tenant.remoteTenantId} ${r.hash}`).sort()).toEqual(
      [
        'eu users eu:1 differs',
        'eu users eu:2 differs',
        'us users us:1 differs',
        'main users main:1 differs',
        'main user_email_routing eu:1 differs',
        'main user_email_routing eu:2 differs',
        'main user_email_routing us:1 differs',
        'main user_email_routing main:1 differs',
      ].sort(),
    )
    expect(dry.servers).toEqual([])
    expectNoSecret(dry, NEW_PASSWORD)
    expect(await hashes(w)).toEqual(before)
    expect(await lastAuditId(w)).toBe(lastId)

    let shown: PasswordSync | undefined
    const done = await syncPassword(w.ctx, reset({confirm: async (plan) => ((shown = structuredClone(plan)), true)}))
    expect(shown?.rows.map((r) => r.id)).toEqual(dry.rows.map((r) => r.id))
    expect(done.complete).toBe(true)
    expect(done.pending).toEqual([])
    expect(servers(done)).toEqual(['eu users changed 2', 'main user_email_routing changed 4', 'main users changed 1', 'us users changed 1'])
    expect(done.rows.every((r) => r.outcome === 'written')).toBe(true)
    const hash = await expectOneHash(w, NEW_PASSWORD, 4)
    const after = await hashes(w)
    expectOnlyChanged(before, after, null)
    expect([...after].filter(([, v]) => v.person)).toHaveLength(8)

    const audit = await auditAfter(w, lastId)
    expect(audit.map((a) => `${a.action} ${a.rds_instance_id}`).sort()).toEqual(
      [
        `user.password-sync ${w.ids.eu}`,
        `user.password-sync ${w.ids.us}`,
        `user.password-sync ${w.ids.main}`,
        `user.password-sync.routing ${w.ids.main}`,
      ].sort(),
    )
    expect(done.auditIds.sort()).toEqual(audit.map((a) => Number(a.id)).sort())
    const euEntry = audit.find((a) => a.rds_instance_id === w.ids.eu) as Row
    expect(euEntry).toMatchObject({target_type: 'user', target_id: EMAIL})
    expect(euEntry.new_values).toMatchObject({server: 'eu', table: 'users', mode: 'reset', cost: 4, rows: 2, reason: REASON})
    expectNoSecret([done, audit], NEW_PASSWORD)
    expect(JSON.stringify(audit)).not.toContain(hash.slice(7))

    // Again, with one hash everywhere: it is not checked first (a check costs a hash); the reset replaces it, as asked, everywhere.
    const again = await syncPassword(w.ctx, reset())
    expect(again.complete).toBe(true)
    expect(again.rows.every((r) => r.hash === 'differs' && r.outcome === 'written')).toBe(true)
    const replaced = await expectOneHash(w, NEW_PASSWORD, 4)
    expect(replaced).not.toBe(hash)
  })

  it('--current-stdin: a wrong current password is refused (exit 5) and audited, nothing written; the right one writes the new hash everywhere', async () => {
    const w = await world(engine, controlEngine)
    const before = await hashes(w)
    const lastId = await lastAuditId(w)
    const wrong = syncPassword(w.ctx, input({kind: 'current', current: 'not-the-password', password: NEW_PASSWORD}))
    await expect(wrong).rejects.toThrow(NotPermittedError)
    await expect(wrong).rejects.toThrow(/the current password matches none of shared\.person@example\.com's 4 password hash/)
    expect(await hashes(w)).toEqual(before)
    const refused = await auditAfter(w, lastId)
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({action: 'user.password-sync.refused', target_id: EMAIL, new_values: {mode: 'current', hashesChecked: 4, reason: REASON}})
    expectNoSecret(refused, 'not-the-password', NEW_PASSWORD)

    const done = await syncPassword(w.ctx, input({kind: 'current', current: LARAVEL_TEST_PASSWORD, password: NEW_PASSWORD}))
    expect(done.complete).toBe(true)
    await expectOneHash(w, NEW_PASSWORD, 4)
    expect((await auditAfter(w, lastId)).map((a) => a.action).filter((a) => a !== 'user.password-sync.refused')).toHaveLength(4)
    expectNoSecret(done, LARAVEL_TEST_PASSWORD, NEW_PASSWORD)

    // Again with the same passwords: the new one already verifies every hash; nothing asked, written or audited.
    const settled = await hashes(w)
    const audited = await lastAuditId(w)
    let asked = false
    const again = await syncPassword(
      w.ctx,
      input({kind: 'current', current: LARAVEL_TEST_PASSWORD, password: NEW_PASSWORD}, {confirm: async () => (asked = true)}),
    )
    expect(asked).toBe(false)
    expect(again.complete).toBe(true)
    expect(again.rows.every((r) => r.hash === 'same' && r.outcome === 'unchanged')).toBe(true)
    expect(again.servers).toEqual([])
    expect(await hashes(w)).toEqual(settled)
    expect(await lastAuditId(w)).toBe(audited)
  })

  it("--from-tenant: the hash of that tenant is copied to every other row (no password); a tenant not the person's is exit 2", async () => {
    const w = await world(engine, controlEngine)
    // us's user drifted: another password there.
    const drifted = laravelHash('another-password-9')
    await onFixture(w.us, (fdb) => fdb('users').whereRaw('LOWER(email) = ?', [EMAIL]).update({password: drifted}))
    const before = await hashes(w)
    await expect(syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'eu:3'}))).rejects.toThrow(UserError)
    await expect(syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'eu:3'}))).rejects.toThrow(/is not one of the tenants/)
    expect(await hashes(w)).toEqual(before)
    // A source whose hash claims cost 31 (damaged: every login would hang) is not copied: exit 2, nothing written.
    const damaged = drifted.replace(/^\$2y\$\d\d\$/, '$2y$31$')
    await onFixture(w.us, (fdb) => fdb('users').whereRaw('LOWER(email) = ?', [EMAIL]).update({password: damaged}))
    const withDamaged = await hashes(w)
    await expect(syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}))).rejects.toThrow(/claims cost 31, more than 16: it is damaged/)
    expect(await hashes(w)).toEqual(withDamaged)
    await onFixture(w.us, (fdb) => fdb('users').whereRaw('LOWER(email) = ?', [EMAIL]).update({password: drifted}))

    const done = await syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}))
    expect(done.complete).toBe(true)
    expect(done.source).toMatchObject({rdsName: 'us', remoteTenantId: 1})
    expect(done.rows.filter((r) => r.outcome === 'unchanged').map((r) => `${r.server.name} ${r.table}`)).toEqual(['us users'])
    expect(new Set((await personHashes(w)).map(([, h]) => h))).toEqual(new Set([drifted]))
    expectNoSecret(done)
    // Again: every row holds the source's hash; nothing written.
    const again = await syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}))
    expect(again.servers).toEqual([])
    expect(again.rows.every((r) => r.outcome === 'unchanged')).toBe(true)
  })

  it('--from-tenant whose source holds a $2b$ hash writes it as $2y$ everywhere, the source included, and it verifies the same password', async () => {
    const w = await world(engine, controlEngine)
    const nodeHash = bcrypt.hashSync('b-prefixed-password-7', 4)
    expect(nodeHash.startsWith('$2b$')).toBe(true)
    await onFixture(w.us, (fdb) => fdb('users').whereRaw('LOWER(email) = ?', [EMAIL]).update({password: nodeHash}))
    const done = await syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}))
    expect(done.complete).toBe(true)
    expect(new Set((await personHashes(w)).map(([, h]) => h))).toEqual(new Set([`$2y$${nodeHash.slice(4)}`]))
    expect(bcrypt.compareSync('b-prefixed-password-7', `$2y$${nodeHash.slice(4)}`)).toBe(true)
    expectNoSecret(done)
    const again = await syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}))
    expect(again.servers).toEqual([])
  })

  it('bad input changes nothing: 73 bytes, an empty password, an unknown email, a short reason (exit 2)', async () => {
    const w = await world(engine, controlEngine)
    const before = await hashes(w)
    const lastId = await lastAuditId(w)
    const long = 'é'.repeat(36) + 'x'
    expect(Buffer.byteLength(long)).toBe(73)
    await expect(syncPassword(w.ctx, input({kind: 'reset', password: long}))).rejects.toThrow(/73 bytes long; bcrypt reads only the first 72/)
    await expect(syncPassword(w.ctx, input({kind: 'reset', password: '   '}))).rejects.toThrow(/the new password is empty/)
    await expect(syncPassword(w.ctx, input({kind: 'reset', password: NEW_PASSWORD}, {email: 'nobody@example.com'}))).rejects.toThrow(NotFoundError)
    await expect(syncPassword(w.ctx, reset({reason: 'short'}))).rejects.toThrow(/too short/)
    expect(await hashes(w)).toEqual(before)
    expect(await lastAuditId(w)).toBe(lastId)
  })

  it('an RDS refused: the others written, its tenant listed as still on the old hash (exit 3); a re-run writes only its rows, and the person ends with one hash', async () => {
    const w = await world(engine, controlEngine)
    const before = await hashes(w)
    await w.usProxy.setMode('refuse')
    // Its tenant as --from-tenant's source: nothing to copy, nothing written anywhere (exit 3).
    const noSource = await syncPassword(w.ctx, input({kind: 'from-tenant', tenant: 'us:1'}, {timeoutMs: 3000}))
    expect(noSource.complete).toBe(false)
    expect(noSource.notes.join('\n')).toMatch(/the source tenant's RDS "us" could not be read: nothing was written/)
    expect(await hashes(w)).toEqual(before)
    const first = await syncPassword(w.ctx, reset({timeoutMs: 3000}))
    expect(first.complete).toBe(false)
    expect(first.pending.map((p) => `${p.tenant.rdsName}:${p.tenant.remoteTenantId} ${p.tables.join(',')}`)).toEqual(['us:1 users,user_email_routing'])
    expect(servers(first)).toEqual(['eu users changed 2', 'main user_email_routing changed 3', 'main users changed 1', 'us users failed 0'])
    const middle = await hashes(w)
    const usRows = [...before].filter(([k, v]) => v.person && k.startsWith('us ')).map(([k]) => k)
    const usRouting = (await onFixture(w.master, (fdb) =>
      fdb('user_email_routing').where({rds_instance_id: w.ids.us}).whereRaw('LOWER(email) = ?', [EMAIL]).first('id'),
    )) as Row
    const untouched = [...usRows, `main user_email_routing ${usRouting.id}`]
    for (const k of untouched) expect(middle.get(k)?.hash).toBe(before.get(k)?.hash)
    // Nothing is left with a hash that is neither the old one nor the new one.
    const written = new Set([...middle].filter(([k, v]) => v.person && !untouched.includes(k)).map(([, v]) => v.hash))
    expect(written.size).toBe(1)

    await w.usProxy.setMode('pass')
    const lastId = await lastAuditId(w)
    const again = await syncPassword(w.ctx, reset())
    expect(again.complete).toBe(true)
    expect(servers(again)).toEqual(['main user_email_routing changed 1', 'us users changed 1'])
    expectOnlyChanged(middle, await hashes(w), untouched)
    expect((await expectOneHash(w, NEW_PASSWORD, 4)) === [...written][0]).toBe(true)
    expect((await auditAfter(w, lastId)).map((a) => a.action).sort()).toEqual(['user.password-sync', 'user.password-sync.routing'])
  })

  it("the master refused: the other RDS's user rows written (tenants from the routing cache), the routing entries not (exit 3); a re-run writes only the master's rows", async () => {
    const w = await world(engine, controlEngine)
    await w.masterProxy.setMode('refuse')
    const first = await syncPassword(w.ctx, reset({timeoutMs: 3000}))
    expect(first.complete).toBe(false)
    expect(first.notes.join('\n')).toMatch(/the master RDS "main" could not be read .*: the tenants were taken from raiops' routing cache/)
    expect(servers(first)).toEqual(['eu users changed 2', 'main user_email_routing failed 0', 'main users failed 0', 'us users changed 1'])
    await w.masterProxy.setMode('pass')
    const middle = await hashes(w)
    const routingRows = [...middle].filter(([k, v]) => v.person && k.startsWith('main ')).map(([k]) => k)
    expect(routingRows).toHaveLength(5)

    const lastId = await lastAuditId(w)
    const again = await syncPassword(w.ctx, reset())
    expect(again.complete).toBe(true)
    expect(servers(again)).toEqual(['main user_email_routing changed 4', 'main users changed 1'])
    expectOnlyChanged(middle, await hashes(w), routingRows)
    await expectOneHash(w, NEW_PASSWORD, 4)
    // The master's two sides (its own tenant's user row, the routing entries): one entry each.
    expect((await auditAfter(w, lastId)).map((a) => `${a.action} ${a.rds_instance_id}`).sort()).toEqual([
      `user.password-sync ${w.ids.main}`,
      `user.password-sync.routing ${w.ids.main}`,
    ])
  })
})
