import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../../src/lib/db/tables.js'
import {NotFoundError, UserError} from '../../src/lib/errors/index.js'
import {findUser, type UserLocation} from '../../src/lib/user/find.js'
import type {CliResult} from '../support/cli.js'
import {makeContext} from '../support/context.js'
import type {ControlEngineName} from '../support/control-db.js'
import type {FixtureEngine} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'
import {buildUserFleet, SHARED_EMAIL, type UserFleet} from '../support/user-fleet.js'

const ENGINES: Array<[FixtureEngine, ControlEngineName]> = [
  ['mysql', 'mysql'],
  ['postgres', 'postgres'],
  ['sqlite', 'sqlite'],
]

/** What a location says, without times. */
const brief = (l: UserLocation) => ({
  source: l.source,
  rds: l.rdsName,
  remoteTenantId: l.remoteTenantId,
  userId: l.remoteUserId,
  routing: l.routingStatus,
  verdict: l.live?.verdict ?? null,
  liveStatus: l.live?.user?.status ?? null,
})

describe.each(ENGINES)('user:find on a %s fleet (%s control database)', (engine, controlEngine) => {
  let fleet: UserFleet
  const userOf = (rds: string) => fleet.shared.find((s) => s.rds === rds) as UserFleet['shared'][number]

  beforeAll(async () => {
    fleet = await buildUserFleet(engine, controlEngine)
  })
  afterAll(async () => fleet?.close())

  it('finds an email shared by three tenants on three RDS, from the cache, whatever its case', async () => {
    const result = await findUser(fleet.ctx, {email: '  PAT.Shared@Example.COM '})
    expect(result.email).toBe(SHARED_EMAIL)
    expect(result.live).toBeNull()
    expect(result.locations.map(brief)).toEqual(
      (['east', 'west', 'north'] as const).map((rds) => ({
        source: 'cache',
        rds,
        remoteTenantId: userOf(rds).remoteTenantId,
        userId: userOf(rds).userId,
        routing: 'active',
        verdict: null,
        liveStatus: null,
      })),
    )
    const tenants = await fleet.control.db(TENANT_MASTER_TABLE).select('id', 'name', 'rds_instance_id', 'remote_tenant_id')
    for (const l of result.locations) {
      const row = tenants.find((t) => Number(t.rds_instance_id) === l.rdsId && Number(t.remote_tenant_id) === l.remoteTenantId)
      expect(l).toMatchObject({tenantId: Number(row?.id), tenantName: row?.name, tenant: `${l.rdsName}:${l.remoteTenantId}`, problems: []})
      expect(l.syncedAt).not.toBeNull()
      expect(l.cacheAgeMs).toBeGreaterThanOrEqual(0)
    }
    expect(result.cacheAgeMs).toBeGreaterThanOrEqual(0)
  })

  it('--live: every entry confirmed, one query per RDS, no password read', async () => {
    const queries: string[] = []
    const ctx = makeContext(fleet.control.db)
    try {
      // Count the statements each RDS receives.
      const original = ctx.fleet.get.bind(ctx.fleet)
      ctx.fleet.get = async (spec) => {
        const db = await original(spec)
        if (!db.listenerCount('query')) db.on('query', (q: {sql: string}) => queries.push(`${spec.name}: ${q.sql}`))
        return db
      }
      const result = await findUser(ctx, {email: SHARED_EMAIL, live: true, timeoutMs: 10_000})
      expect(result.locations.map((l) => l.live?.verdict)).toEqual(['ok', 'ok', 'ok'])
      for (const l of result.locations) expect(l.live?.user).toMatchObject({id: l.remoteUserId, name: 'Pat Shared', status: 'active', ghost: false})
      expect(result.locations.find((l) => l.rdsName === 'west')?.live?.user?.email).toBe('Pat.Shared@Example.com')
      expect(result.live?.map((r) => ({name: r.name, ok: r.ok, error: r.error}))).toEqual([
        {name: 'east', ok: true, error: null},
        {name: 'west', ok: true, error: null},
        {name: 'north', ok: true, error: null},
      ])
      expect({unavailable: result.unavailable, flagged: result.flagged}).toEqual({unavailable: 0, flagged: 0})
      // Exactly one statement per RDS, on users, without the password column.
      expect(queries.map((q) => q.split(':')[0]).sort()).toEqual(['east', 'north', 'west'])
      for (const q of queries) expect(q).toMatch(/from ["`]users["`]/)
      for (const q of queries) expect(q).not.toMatch(/password/)
    } finally {
      await ctx.close()
    }
  })

  it('--live: a deleted user is flagged, a changed status shown, a ghost with the email reported as not in the cache', async () => {
    const east = userOf('east')
    const north = userOf('north')
    const west = userOf('west')
    const ghostId = 9000
    await fleet.on('west', (db) => db('users').where({id: west.userId}).delete())
    await fleet.on('north', (db) => db('users').where({id: north.userId}).update({status: 'suspended'}))
    await fleet.on('east', (db) =>
      db('users').insert({
        id: ghostId,
        tenant_id: 3,
        name: 'RAI Support',
        email: 'PAT.SHARED@example.com',
        password: '$2y$04$x',
        status: 'active',
        is_ghost: true,
        created_at: '2026-01-01 00:00:00',
        updated_at: '2026-01-02 03:04:05',
      }),
    )
    // A user of a tenant that exists nowhere (not on the RDS, not in the registry).
    await fleet.on('east', (db) =>
      db('users').insert({id: ghostId + 1, tenant_id: 99, name: 'Orphan', email: SHARED_EMAIL, password: '$2y$04$x', status: 'active', is_ghost: false}),
    )
    try {
      const result = await findUser(fleet.ctx, {email: SHARED_EMAIL, live: true, timeoutMs: 10_000})
      expect(result.locations.map(brief)).toEqual([
        {source: 'cache', rds: 'east', remoteTenantId: east.remoteTenantId, userId: east.userId, routing: 'active', verdict: 'ok', liveStatus: 'active'},
        {source: 'cache', rds: 'west', remoteTenantId: west.remoteTenantId, userId: west.userId, routing: 'active', verdict: 'missing', liveStatus: null},
        {source: 'cache', rds: 'north', remoteTenantId: north.remoteTenantId, userId: north.userId, routing: 'active', verdict: 'ok', liveStatus: 'suspended'},
        {source: 'live', rds: 'east', remoteTenantId: 3, userId: ghostId, routing: null, verdict: 'not in cache', liveStatus: 'active'},
        {source: 'live', rds: 'east', remoteTenantId: 99, userId: ghostId + 1, routing: null, verdict: 'not in cache', liveStatus: 'active'},
      ])
      expect(result.locations[4]).toMatchObject({tenant: 'east:99', tenantId: null, problems: ['tenant not in the registry (run `raiops sync:tenants`)']})
      expect(result.locations[1].live?.detail).toMatch(new RegExp(`no user ${west.userId} on RDS west`))
      const ghost = result.locations[3]
      expect(ghost.live?.user).toMatchObject({ghost: true, updatedAt: '2026-01-02T03:04:05.000Z'})
      const tenant3 = await fleet.control.db(TENANT_MASTER_TABLE).where({rds_instance_id: fleet.rdsIds.east, remote_tenant_id: 3}).first('id', 'name')
      expect(ghost).toMatchObject({tenantId: Number(tenant3?.id), tenantName: tenant3?.name, problems: []})
      expect({unavailable: result.unavailable, flagged: result.flagged}).toEqual({unavailable: 0, flagged: 3})
    } finally {
      await fleet.on('east', (db) =>
        db('users')
          .whereIn('id', [ghostId, ghostId + 1])
          .delete(),
      )
      await fleet.on('north', (db) => db('users').where({id: north.userId}).update({status: 'active'}))
      await fleet.on('west', (db) =>
        db('users').insert({
          id: west.userId,
          tenant_id: west.remoteTenantId,
          name: 'Pat Shared',
          email: west.email,
          password: '$2y$04$x',
          status: 'active',
          is_ghost: false,
        }),
      )
    }
  })

  it('a cache entry pointing at a tenant and an RDS the registry does not know is shown as such, never a crash', async () => {
    const now = new Date()
    const base = {email: SHARED_EMAIL, remote_user_id: 77, status: 'active', source_updated_at: now, synced_at: now}
    await fleet.control.db(ROUTING_CACHE_TABLE).insert([
      {...base, source_id: 880001, tenant_master_id: null, remote_tenant_id: 99, rds_instance_id: fleet.rdsIds.east},
      {...base, source_id: 880002, tenant_master_id: null, remote_tenant_id: 5, rds_instance_id: 4242},
    ])
    try {
      const result = await findUser(fleet.ctx, {email: SHARED_EMAIL, live: true, timeoutMs: 10_000})
      const [unknownTenant, unknownRds] = result.locations.slice(-2)
      expect(unknownTenant).toMatchObject({tenant: 'east:99', tenantId: null, tenantName: null, rdsName: 'east'})
      expect(unknownTenant.problems).toEqual(['tenant not in the registry (run `raiops sync:tenants`)'])
      expect(unknownTenant.live).toMatchObject({verdict: 'missing', user: null})
      expect(unknownRds).toMatchObject({
        tenant: '4242:5',
        rdsName: null,
        problems: ['RDS 4242 is not registered', 'tenant not in the registry (run `raiops sync:tenants`)'],
      })
      expect(unknownRds.live).toEqual({verdict: 'unavailable', detail: 'unavailable: RDS 4242 is not registered', user: null})
      expect(result.unavailable).toBe(1)
    } finally {
      await fleet.control.db(ROUTING_CACHE_TABLE).whereIn('source_id', [880001, 880002]).delete()
    }
  })

  it('an unknown or malformed email: exit-2 errors naming what was looked for', async () => {
    await expect(findUser(fleet.ctx, {email: 'nobody@nowhere.example'})).rejects.toThrow(NotFoundError)
    await expect(findUser(fleet.ctx, {email: 'nobody@nowhere.example', live: true})).rejects.toThrow(
      /no user with email nobody@nowhere.example in the routing cache/,
    )
    for (const bad of ['not-an-email', 'a b@c.d', '', '@example.com']) await expect(findUser(fleet.ctx, {email: bad})).rejects.toThrow(UserError)
  })

  it.runIf(engine !== 'sqlite')('--live with one RDS refused and one blackholed: bounded by the timeout, the others kept', async () => {
    await fleet.proxies.west?.setMode('refuse')
    await fleet.proxies.north?.setMode('blackhole')
    const ctx = makeContext(fleet.control.db, {connectTimeoutMs: 5000})
    try {
      const result = await findUser(ctx, {email: SHARED_EMAIL, live: true, timeoutMs: 1000})
      expect(result.locations.map((l) => l.live?.verdict)).toEqual(['ok', 'unavailable', 'unavailable'])
      expect(result.locations[0].live?.user?.status).toBe('active')
      expect(result.locations[1].live?.detail).toMatch(/^unavailable: .*refused/)
      expect(result.locations[2].live?.detail).toMatch(/^unavailable: timed out after 1000 ms/)
      expect(result.live?.map((r) => [r.name, r.ok])).toEqual([
        ['east', true],
        ['west', false],
        ['north', false],
      ])
      expect(result.unavailable).toBe(2)
      expect(JSON.stringify(result)).not.toMatch(/password/i)
    } finally {
      await ctx.close()
      await fleet.proxies.west?.setMode('pass')
      await fleet.proxies.north?.setMode('pass')
    }
  })
})

describe('user:find through the CLI (in-process)', () => {
  let home: TestDir
  let session: CliSession
  let fleet: UserFleet
  let db: Knex
  const tokens = new Map<string, string>()
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})
  const as = (role: string, args: string[]) => cli(args, {RAIOPS_TOKEN: tokens.get(role) as string})

  beforeAll(async () => {
    home = createTestDir('raiops-user-find-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'user-find-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin', 'support_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
    // The fleet (on MariaDB) registered and synced in the home's own control database.
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(session.env.RAIOPS_HOME, 'raiops.sqlite')}`, '/nonexistent'))
    fleet = await buildUserFleet('mysql', {db})
  })
  afterAll(async () => {
    await fleet?.close()
    await db?.destroy()
    home?.drop()
  })

  it('prints one row per tenant, a summary on stderr, exit 0; --json is the result', async () => {
    const table = await cli(['user:find', SHARED_EMAIL])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout.match(/east:|west:|north:/g)).toHaveLength(3)
    expect(table.stdout).toMatch(/tenant\s+│?\s*name/)
    expect(table.stderr).toMatch(/pat\.shared@example\.com: 3 tenants on 3 RDS in the routing cache, cache synced/)
    const json = await cli(['user:find', SHARED_EMAIL, '--live', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const result = JSON.parse(json.stdout) as {email: string; locations: UserLocation[]; unavailable: number}
    expect(result.email).toBe(SHARED_EMAIL)
    expect(result.locations.map((l) => [l.rdsName, l.live?.verdict])).toEqual([
      ['east', 'ok'],
      ['west', 'ok'],
      ['north', 'ok'],
    ])
  })

  it('without pii.view (read_only): every email masked, in the table and in --json', async () => {
    const table = await as('read_only', ['user:find', SHARED_EMAIL, '--live'])
    expect(table.code, table.stderr).toBe(0)
    const json = await as('read_only', ['user:find', SHARED_EMAIL, '--live', '--json'])
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({email: 'p***@example.com'})
    for (const out of [table.stdout, table.stderr, json.stdout]) {
      expect(out).not.toMatch(/pat\.shared@/i)
    }
    expect(json.stdout).toContain('p***@example.com')
    expect(json.stdout).toContain('P***@Example.com')
  })

  it('a role without user.view (billing_admin): exit 5', async () => {
    const result = await as('billing_admin', ['user:find', SHARED_EMAIL])
    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/needs the permission user\.view/)
    expect(result.stdout).toBe('')
  })

  it('an unknown email and a malformed one: exit 2, one line with a hint', async () => {
    const unknown = await cli(['user:find', 'nobody@nowhere.example', '--live'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
    expect(unknown.stderr).toMatch(
      /no user with email nobody@nowhere\.example in the routing cache — `raiops sync:routing` brings in new users; `raiops routing:lookup/,
    )
    const bad = await cli(['user:find', 'nobody'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/"nobody" is not an email address/)
  })

  it('--live with one RDS refused and one blackholed (--timeout 1): it finishes, exit 3, their entries unavailable, the other printed', async () => {
    await fleet.proxies.west?.setMode('refuse')
    await fleet.proxies.north?.setMode('blackhole')
    try {
      const result = await cli(['user:find', SHARED_EMAIL, '--live', '--timeout', '1', '--format', 'csv'])
      expect(result.code).toBe(3)
      const lines = result.stdout.trim().split('\n')
      expect(lines).toHaveLength(4)
      expect(lines.find((l) => l.startsWith('east:'))).toMatch(/,ok,active,/)
      expect(lines.find((l) => l.startsWith('west:'))).toMatch(/,unavailable,.*unavailable: .*refused/)
      expect(lines.find((l) => l.startsWith('north:'))).toMatch(/,unavailable,.*unavailable: timed out after 1000 ms/)
      expect(result.stderr).toMatch(/live: 1 of 3 RDS answered/)
      expect(result.stderr).toMatch(/west: unavailable: /)
      expect(result.stderr).toMatch(/north: unavailable: timed out/)
    } finally {
      await fleet.proxies.west?.setMode('pass')
      await fleet.proxies.north?.setMode('pass')
    }
  })
})
