import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {passwordCheckExit} from '../../src/cli/reporters/password.js'
import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {RDS_TABLE} from '../../src/lib/db/tables.js'
import {laravelHash as hashAtCost} from '../../src/lib/demo/fleet-data.js'
import {NotFoundError, UserError} from '../../src/lib/errors/index.js'
import {checkPasswords, type EmailPasswordCheck, type FleetPasswordCheck, type PasswordCheckTenant} from '../../src/lib/password/check.js'
import type {CliResult} from '../support/cli.js'
import {makeContext} from '../support/context.js'
import type {ControlEngineName} from '../support/control-db.js'
import {startFaultProxy} from '../support/fault-proxy.js'
import {laravelHash, type FixtureEngine} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'
import {buildUserFleet, SHARED_EMAIL, type RdsName, type UserFleet} from '../support/user-fleet.js'

const ENGINES: Array<[FixtureEngine, ControlEngineName]> = [
  ['mysql', 'mysql'],
  ['postgres', 'postgres'],
  ['sqlite', 'sqlite'],
]

/** Two passwords, hashed as Laravel writes them (cost 4 for speed). */
const H1 = laravelHash('first password of pat')
const H2 = laravelHash('second password of pat')
const DANA = 'dana.two@example.com'
const INES = 'ines.ok@example.com'
const sqlTime = (): string => new Date().toISOString().slice(0, 19).replace('T', ' ')

/** What a tenant row says, without names. */
const brief = (t: PasswordCheckTenant) => [t.rdsName, t.state, t.routingPassword, t.userPassword, t.routingCost, t.userCost]

/**
 * The fleet of user-fleet.ts with real hashes: Pat (east, west, north) on H1
 * everywhere; Dana (west, north) whose routing rows differ (H1, H2) while each
 * user row matches its own; Ines (west, north) in step on H2.
 */
async function preparePasswords(
  fleet: UserFleet,
): Promise<{setUser: (rds: RdsName, hash: string | null) => Promise<void>; setRouting: (rds: RdsName, hash: string | null) => Promise<void>}> {
  const pat = (rds: RdsName) => fleet.shared.find((s) => s.rds === rds) as UserFleet['shared'][number]
  const setUser = async (rds: RdsName, hash: string | null) => {
    await fleet.on(rds, (db) =>
      db('users')
        .where({id: pat(rds).userId})
        .update({password: hash}),
    )
  }
  const setRouting = async (rds: RdsName, hash: string | null) => {
    await fleet.on('east', (db) =>
      db('user_email_routing')
        .where({user_id: pat(rds).userId, rds_instance_id: fleet.rdsIds[rds]})
        .update({password_hash: hash}),
    )
  }
  for (const rds of ['east', 'west', 'north'] as const) {
    await setUser(rds, H1)
    await setRouting(rds, H1)
  }
  const people: Array<{email: string; rds: RdsName; tenant: number; hash: string}> = [
    {email: DANA, rds: 'west', tenant: 2, hash: H1},
    {email: DANA, rds: 'north', tenant: 1, hash: H2},
    {email: INES, rds: 'west', tenant: 3, hash: H2},
    {email: INES, rds: 'north', tenant: 2, hash: H2},
  ]
  for (const p of people) {
    const userId = await fleet.on(p.rds, async (db) => {
      const id = Number((await db('users').max({m: 'id'}))[0].m) + 1
      await db('users').insert({id, tenant_id: p.tenant, name: p.email, email: p.email, password: p.hash, status: 'active', is_ghost: false})
      return id
    })
    await fleet.on('east', async (db) => {
      const id = Number((await db('user_email_routing').max({m: 'id'}))[0].m) + 1
      const now = sqlTime()
      await db('user_email_routing').insert({
        id,
        email: p.email,
        tenant_id: p.tenant,
        rds_instance_id: fleet.rdsIds[p.rds],
        user_id: userId,
        password_hash: p.hash,
        status: 'active',
        created_at: now,
        updated_at: now,
      })
    })
  }
  return {setUser, setRouting}
}

/** Every hash the fleet holds, and the pieces of them no output may contain: each salt (22 chars) and every 10-char slice. */
async function secretPieces(fleet: UserFleet): Promise<string[]> {
  const hashes = new Set<string>()
  for (const rds of ['east', 'west', 'north'] as const) {
    for (const row of await fleet.on(rds, (db) => db('users').whereNotNull('password').select('password'))) hashes.add(String(row.password))
  }
  for (const row of await fleet.on('east', (db) => db('user_email_routing').whereNotNull('password_hash').select('password_hash')))
    hashes.add(String(row.password_hash))
  const pieces = new Set<string>()
  for (const hash of hashes) {
    if (hash.length >= 29) pieces.add(hash.slice(7, 29))
    for (let i = 7; i + 10 <= hash.length; i++) pieces.add(hash.slice(i, i + 10))
  }
  return [...pieces]
}

/** Runs `work` with the master (east) reached through a proxy refusing every connection. */
async function withMasterRefused<T>(fleet: UserFleet, work: () => Promise<T>): Promise<T> {
  const east = fleet.fixtures.east
  const proxy = await startFaultProxy({targetHost: east.host ?? '127.0.0.1', targetPort: east.port ?? 0, mode: 'refuse'})
  const row = (await fleet.control.db(RDS_TABLE).where({name: 'east'}).first('host', 'port')) as {host: string; port: number}
  await fleet.control.db(RDS_TABLE).where({name: 'east'}).update({host: proxy.host, port: proxy.port})
  try {
    return await work()
  } finally {
    await fleet.control.db(RDS_TABLE).where({name: 'east'}).update(row)
    await proxy.close()
  }
}

function expectNoSecret(pieces: readonly string[], ...outputs: string[]): void {
  for (const out of outputs) {
    const leaked = pieces.filter((p) => out.includes(p))
    expect(leaked, 'a piece of a hash in the output').toEqual([])
  }
}

describe.each(ENGINES)('password:check on a %s fleet (%s control database)', (engine, controlEngine) => {
  let fleet: UserFleet
  let set: Awaited<ReturnType<typeof preparePasswords>>
  let pieces: string[]
  const outputs: string[] = []
  const check = async (email: string) => {
    const result = (await checkPasswords(fleet.ctx, {email, timeoutMs: 10_000})) as EmailPasswordCheck
    outputs.push(JSON.stringify(result))
    return result
  }

  beforeAll(async () => {
    fleet = await buildUserFleet(engine, controlEngine)
    set = await preparePasswords(fleet)
    pieces = await secretPieces(fleet)
  })
  afterAll(async () => {
    // No hash, salt or 10-char slice of one in anything a test here produced.
    if (pieces) expectNoSecret(pieces, ...outputs)
    await fleet?.close()
  })

  it('in step: every tenant A, the costs shown, exit 0', async () => {
    const result = await check('  PAT.Shared@Example.COM ')
    expect(result.email).toBe(SHARED_EMAIL)
    expect(result.master).toMatchObject({name: 'east', ok: true, error: null})
    expect(result.tenants.map(brief)).toEqual([
      ['east', 'in step', 'A', 'A', 4, 4],
      ['west', 'in step', 'A', 'A', 4, 4],
      ['north', 'in step', 'A', 'A', 4, 4],
    ])
    expect(result.tenants.map((t) => t.problems)).toEqual([[], [], []])
    expect(result.tenants.map((t) => t.tenant)).toEqual(fleet.shared.map((s) => `${s.rds}:${s.remoteTenantId}`))
    expect(result.tenants.every((t) => t.tenantName !== null)).toBe(true)
    expect({passwords: result.passwords, inStep: result.inStep, unavailable: result.unavailable}).toEqual({passwords: 1, inStep: true, unavailable: 0})
    expect(result.servers.map((s) => [s.name, s.ok])).toEqual([
      ['east', true],
      ['west', true],
      ['north', true],
    ])
    expect(passwordCheckExit(result)).toBe(0)
  })

  it('a user row drifted from its routing row: that tenant differs (routing A, user B), exit 4', async () => {
    await set.setUser('west', hashAtCost('first password of pat', undefined, 10))
    try {
      const result = await check(SHARED_EMAIL)
      expect(result.tenants.map(brief)).toEqual([
        ['east', 'in step', 'A', 'A', 4, 4],
        ['west', 'differs', 'A', 'B', 4, 10],
        ['north', 'in step', 'A', 'A', 4, 4],
      ])
      expect({passwords: result.passwords, inStep: result.inStep}).toEqual({passwords: 2, inStep: false})
      expect(passwordCheckExit(result)).toBe(4)
    } finally {
      await set.setUser('west', H1)
    }
  })

  it('two tenants with another password: groups A and B, each in step with its routing row', async () => {
    await set.setUser('north', H2)
    await set.setRouting('north', H2)
    try {
      const result = await check(SHARED_EMAIL)
      expect(result.tenants.map(brief)).toEqual([
        ['east', 'in step', 'A', 'A', 4, 4],
        ['west', 'in step', 'A', 'A', 4, 4],
        ['north', 'in step', 'B', 'B', 4, 4],
      ])
      expect({passwords: result.passwords, inStep: result.inStep}).toEqual({passwords: 2, inStep: false})
      expect(passwordCheckExit(result)).toBe(4)
    } finally {
      await set.setUser('north', H1)
      await set.setRouting('north', H1)
    }
  })

  it('rows breaking the contract: a routing row naming a missing user, NULL passwords, a hash that is no bcrypt hash', async () => {
    const id = 990_001
    await fleet.on('east', (db) =>
      db('user_email_routing').insert({
        id,
        email: SHARED_EMAIL,
        tenant_id: 3,
        rds_instance_id: fleet.rdsIds.west,
        user_id: 987_654,
        password_hash: H1,
        status: 'active',
      }),
    )
    await set.setUser('east', '')
    await set.setRouting('north', 'plain-text-not-a-hash')
    try {
      const result = await check(SHARED_EMAIL)
      expect(result.tenants.map(brief)).toEqual([
        ['east', 'no password', 'A', null, 4, null],
        ['west', 'in step', 'A', 'A', 4, 4],
        ['north', 'differs', 'B', 'A', null, 4],
        ['west', 'no user row', 'A', null, 4, null],
      ])
      expect(result.tenants.map((t) => t.problems)).toEqual([
        ['user password is NULL or empty'],
        [],
        ['routing password_hash is not a bcrypt hash'],
        ['no user 987654 on its RDS'],
      ])
      expect(passwordCheckExit(result)).toBe(4)
    } finally {
      await fleet.on('east', (db) => db('user_email_routing').where({id}).delete())
      await set.setUser('east', H1)
      await set.setRouting('north', H1)
    }
  })

  it('an unknown or malformed email, or both an email and --all: exit-2 errors', async () => {
    await expect(checkPasswords(fleet.ctx, {email: 'nobody@nowhere.example', timeoutMs: 5000})).rejects.toThrow(NotFoundError)
    await expect(checkPasswords(fleet.ctx, {email: 'nobody', timeoutMs: 5000})).rejects.toThrow(UserError)
    await expect(checkPasswords(fleet.ctx, {email: SHARED_EMAIL, all: true, timeoutMs: 5000})).rejects.toThrow(/not both/)
    await expect(checkPasswords(fleet.ctx, {timeoutMs: 5000})).rejects.toThrow(UserError)
  })

  it('--all: finds exactly the drifted emails, on the servers holding their rows', async () => {
    await set.setUser('west', H2)
    try {
      const result = (await checkPasswords(fleet.ctx, {all: true, timeoutMs: 10_000})) as FleetPasswordCheck
      outputs.push(JSON.stringify(result))
      expect(result.master.ok).toBe(true)
      expect(result.drifted).toEqual([
        {email: DANA, tenants: 2, passwords: 2, servers: ['north', 'west'], reasons: ['routing rows hold 2 passwords']},
        {email: SHARED_EMAIL, tenants: 3, passwords: 2, servers: ['west'], reasons: [`user row differs on west:${fleet.shared[1].remoteTenantId}`]},
      ])
      expect(result.outOfSync).toBe(2)
      expect(result.multiTenantEmails).toBeGreaterThanOrEqual(3)
      expect(result.byServer).toEqual([
        {name: 'north', outOfSync: 1},
        {name: 'west', outOfSync: 2},
      ])
      expect(result.unavailable).toBe(0)
      expect(passwordCheckExit(result)).toBe(4)
      const limited = (await checkPasswords(fleet.ctx, {all: true, timeoutMs: 10_000, limit: 1})) as FleetPasswordCheck
      expect({listed: limited.drifted.map((d) => d.email), outOfSync: limited.outOfSync}).toEqual({listed: [DANA], outOfSync: 2})
    } finally {
      await set.setUser('west', H1)
    }
  })

  it('--all: set-based, a fixed number of statements per server, not one per email', async () => {
    const queries: Array<{server: string; sql: string}> = []
    const ctx = makeContext(fleet.control.db)
    try {
      const original = ctx.fleet.get.bind(ctx.fleet)
      ctx.fleet.get = async (spec) => {
        const db = await original(spec)
        if (!db.listenerCount('query')) db.on('query', (q: {sql: string}) => queries.push({server: spec.name, sql: q.sql}))
        return db
      }
      const result = (await checkPasswords(ctx, {all: true, timeoutMs: 10_000})) as FleetPasswordCheck
      expect(result.multiTenantEmails).toBeGreaterThanOrEqual(3)
      const count = (server: string, table: string) => queries.filter((q) => q.server === server && new RegExp(`from ["\`]${table}["\`]`).test(q.sql)).length
      // The master's routing directory: at most three statements (the emails, their rows, rows without an email), whatever the number of emails.
      expect(count('east', 'user_email_routing')).toBeGreaterThanOrEqual(1)
      expect(count('east', 'user_email_routing')).toBeLessThanOrEqual(3)
      // Each RDS's user rows: one statement.
      for (const rds of ['east', 'west', 'north']) expect(count(rds, 'users')).toBe(1)
    } finally {
      await ctx.close()
    }
  })

  it.runIf(engine !== 'sqlite')('the master refused: exit 3 with the cause, no tenant guessed; --all likewise', async () => {
    await withMasterRefused(fleet, async () => {
      const ctx = makeContext(fleet.control.db, {connectTimeoutMs: 2000})
      try {
        const result = (await checkPasswords(ctx, {email: SHARED_EMAIL, timeoutMs: 3000})) as EmailPasswordCheck
        expect(result.master).toMatchObject({name: 'east', ok: false, error: expect.stringMatching(/refused/)})
        expect({tenants: result.tenants, servers: result.servers}).toEqual({tenants: [], servers: []})
        expect(passwordCheckExit(result)).toBe(3)
        const all = (await checkPasswords(ctx, {all: true, timeoutMs: 3000})) as FleetPasswordCheck
        expect(all).toMatchObject({master: {ok: false}, drifted: [], outOfSync: 0})
        expect(passwordCheckExit(all)).toBe(3)
      } finally {
        await ctx.close()
      }
    })
  })

  it.runIf(engine !== 'sqlite')('an RDS refused: its tenants unavailable (the cause named), the others checked, exit 3; --all likewise', async () => {
    await fleet.proxies.west?.setMode('refuse')
    const ctx = makeContext(fleet.control.db, {connectTimeoutMs: 2000})
    try {
      const result = (await checkPasswords(ctx, {email: SHARED_EMAIL, timeoutMs: 3000})) as EmailPasswordCheck
      outputs.push(JSON.stringify(result))
      expect(result.tenants.map((t) => [t.rdsName, t.state])).toEqual([
        ['east', 'in step'],
        ['west', 'RDS unavailable'],
        ['north', 'in step'],
      ])
      expect(result.tenants[1].problems.join()).toMatch(/refused/)
      expect(result.servers.find((s) => s.name === 'west')).toMatchObject({ok: false, error: expect.stringMatching(/refused/)})
      expect(passwordCheckExit(result)).toBe(3)
      const all = (await checkPasswords(ctx, {all: true, timeoutMs: 3000})) as FleetPasswordCheck
      outputs.push(JSON.stringify(all))
      // Dana's routing rows differ whatever west holds; Ines and Pat have rows on west: not checked.
      expect(all.drifted.map((d) => d.email)).toEqual([DANA])
      expect(all.unchecked).toBeGreaterThanOrEqual(2)
      expect(all.unavailable).toBe(1)
      expect(passwordCheckExit(all)).toBe(3)
    } finally {
      await ctx.close()
      await fleet.proxies.west?.setMode('pass')
    }
  })
})

describe('password:check through the CLI (in-process)', () => {
  let home: TestDir
  let session: CliSession
  let fleet: UserFleet
  let db: Knex
  let pieces: string[]
  let set: Awaited<ReturnType<typeof preparePasswords>>
  const tokens = new Map<string, string>()
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})
  const as = (role: string, args: string[]) => cli(args, {RAIOPS_TOKEN: tokens.get(role) as string})

  beforeAll(async () => {
    home = createTestDir('raiops-password-check-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'password-check-admin-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(session.env.RAIOPS_HOME, 'raiops.sqlite')}`, '/nonexistent'))
    fleet = await buildUserFleet('mysql', {db})
    set = await preparePasswords(fleet)
    pieces = await secretPieces(fleet)
  })
  afterAll(async () => {
    await fleet?.close()
    await db?.destroy()
    home?.drop()
  })

  it('in step: one row per tenant, a summary on stderr, exit 0; --json is the result; no hash anywhere', async () => {
    const table = await cli(['password:check', SHARED_EMAIL])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout.match(/east:|west:|north:/g)).toHaveLength(3)
    expect(table.stdout.match(/in step/g)).toHaveLength(3)
    expect(table.stderr).toMatch(/pat\.shared@example\.com: in step: 3 tenants, one password/)
    const json = await cli(['password:check', SHARED_EMAIL, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const result = JSON.parse(json.stdout) as EmailPasswordCheck
    expect(result.tenants.map((t) => [t.state, t.routingPassword, t.userPassword])).toEqual([
      ['in step', 'A', 'A'],
      ['in step', 'A', 'A'],
      ['in step', 'A', 'A'],
    ])
    expectNoSecret(pieces, table.stdout, table.stderr, json.stdout, json.stderr)
    expect(json.stdout).not.toContain('$2y$')
  })

  it('drift: exit 4, the drifted tenant and the groups shown; --all --format csv lists the drifted emails', async () => {
    await set.setUser('north', H2)
    try {
      const one = await cli(['password:check', SHARED_EMAIL, '--format', 'csv'])
      expect(one.code, one.stderr).toBe(4)
      const lines = one.stdout.trim().split('\n')
      expect(lines[0]).toBe('tenant,name,user id,state,routing password,routing cost,user password,user cost,routing,problems')
      expect(lines.find((l) => l.startsWith('north:'))).toMatch(/,differs,A,4,B,4,active,$/)
      expect(one.stderr).toMatch(/out of sync: 3 tenants, 2 passwords, 1 tenant not in step with its routing row/)
      const all = await cli(['password:check', '--all', '--format', 'csv'])
      expect(all.code, all.stderr).toBe(4)
      expect(all.stdout.trim().split('\n')).toEqual([
        'email,tenants,passwords,rds,out of sync',
        `${DANA},2,2,north west,routing rows hold 2 passwords`,
        `${SHARED_EMAIL},3,2,north,user row differs on north:${fleet.shared[2].remoteTenantId}`,
      ])
      expect(all.stderr).toMatch(/multi-tenant emails \(\d+ routing rows\): 2 out of sync/)
      const json = await cli(['password:check', '--all', '--json'])
      expect(json.code).toBe(4)
      expect(JSON.parse(json.stdout)).toMatchObject({kind: 'fleet', outOfSync: 2})
      expectNoSecret(pieces, one.stdout, one.stderr, all.stdout, all.stderr, json.stdout)
    } finally {
      await set.setUser('north', H1)
    }
  })

  it('an RDS refused: exit 3, its rows unavailable, the others printed', async () => {
    await fleet.proxies.north?.setMode('refuse')
    try {
      const result = await cli(['password:check', SHARED_EMAIL, '--timeout', '3', '--format', 'csv'])
      expect(result.code).toBe(3)
      expect(result.stdout).toMatch(/\nnorth:\d+,.*,RDS unavailable,A,4,,,active,.*refused/)
      expect(result.stdout.match(/in step/g)).toHaveLength(2)
      expect(result.stderr).toMatch(/north: unavailable: .*refused/)
      // What was read is in step: the summary says the check is incomplete, not that the passwords drifted.
      expect(result.stderr).toMatch(/not all checked: 1 tenant on an unavailable RDS; the other 2 tenants in step, one password/)
      expect(result.stderr).not.toMatch(/out of sync/)
    } finally {
      await fleet.proxies.north?.setMode('pass')
    }
  })

  it('the master refused: exit 3, its cause on stderr, nothing on stdout', async () => {
    await withMasterRefused(fleet, async () => {
      const result = await cli(['password:check', SHARED_EMAIL, '--timeout', '3'])
      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/master RDS east unavailable: .*refused/)
    })
  })

  it('without pii.view (read_only): emails masked in the table, CSV and --json; without user.view (billing_admin): exit 5', async () => {
    const table = await as('read_only', ['password:check', SHARED_EMAIL])
    expect(table.code, table.stderr).toBe(0)
    const json = await as('read_only', ['password:check', SHARED_EMAIL, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({email: 'p***@example.com'})
    const all = await as('read_only', ['password:check', '--all', '--json'])
    expect(all.code).toBe(4)
    expect((JSON.parse(all.stdout) as FleetPasswordCheck).drifted.map((d) => d.email)).toEqual(['d***@example.com'])
    for (const out of [table.stdout, table.stderr, json.stdout, all.stdout, all.stderr]) expect(out).not.toMatch(/pat\.shared@|dana\.two@/i)
    const billing = await as('billing_admin', ['password:check', SHARED_EMAIL])
    expect(billing.code).toBe(5)
    expect(billing.stderr).toMatch(/needs the permission user\.view/)
  })

  it('bad input: an email with --all, neither, an unknown email: exit 2', async () => {
    for (const args of [['password:check', SHARED_EMAIL, '--all'], ['password:check'], ['password:check', 'nobody@nowhere.example']]) {
      const result = await cli(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stdout).toBe('')
    }
  })
})
