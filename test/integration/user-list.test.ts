import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {TENANT_MASTER_TABLE} from '../../src/lib/db/tables.js'
import {toBool} from '../../src/lib/db/values.js'
import {NotFoundError, UserError} from '../../src/lib/errors/index.js'
import type {FleetUser} from '../../src/lib/user/fleet-users.js'
import {listUsers, type ListUsersInput} from '../../src/lib/user/list.js'
import type {CliResult} from '../support/cli.js'
import {makeContext} from '../support/context.js'
import type {ControlEngineName} from '../support/control-db.js'
import type {FixtureEngine} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'
import {buildUserFleet, type RdsName, type UserFleet} from '../support/user-fleet.js'

const ENGINES: Array<[FixtureEngine, ControlEngineName]> = [
  ['mysql', 'sqlite'],
  ['postgres', 'mysql'],
  ['sqlite', 'postgres'],
]

/** A tenant's users as its RDS holds them, read here row by row (the oracle). */
async function usersOn(fleet: UserFleet, rds: RdsName, tenantId: number): Promise<Array<Pick<FleetUser, 'id' | 'name' | 'email' | 'status' | 'ghost'>>> {
  const rows = await fleet.on(rds, (db) => db('users').where({tenant_id: tenantId}).orderBy('id').select('id', 'name', 'email', 'status', 'is_ghost'))
  return rows.map((r) => ({id: Number(r.id), name: r.name, email: r.email, status: r.status, ghost: toBool(r.is_ghost)}))
}

const brief = (u: FleetUser) => ({id: u.id, name: u.name, email: u.email, status: u.status, ghost: u.ghost})

describe.each(ENGINES)('user:list on a %s fleet (%s control database)', (engine, controlEngine) => {
  let fleet: UserFleet
  const list = (input: Partial<ListUsersInput> & {tenant: string}) => listUsers(fleet.ctx, {limit: 50, timeoutMs: 10_000, ...input})

  beforeAll(async () => {
    fleet = await buildUserFleet(engine, controlEngine)
    // Users whose name or email holds LIKE's own characters, and one whose status a filter picks out.
    await fleet.on('east', (db) =>
      db('users').insert([
        {id: 5001, tenant_id: 1, name: 'Percent 100%_off!', email: 'deals@shop.example', password: 'x', status: 'active', is_ghost: false},
        {id: 5002, tenant_id: 1, name: 'Percent 100 off', email: 'plain@shop.example', password: 'x', status: 'invited', is_ghost: false},
        {id: 5003, tenant_id: 1, name: 'Ümit Öz', email: 'UMIT@Shop.example', password: 'x', status: 'active', is_ghost: false},
      ]),
    )
  })
  afterAll(async () => fleet?.close())

  it("the tenant's users as its RDS holds them, by id, with the count; no password", async () => {
    const result = await list({tenant: 'east:1'})
    const expected = await usersOn(fleet, 'east', 1)
    expect(result.users.map(brief)).toEqual(expected)
    expect(result.total).toBe(expected.length)
    expect(result.nextAfter).toBeNull()
    expect(result.error).toBeNull()
    const row = await fleet.control.db(TENANT_MASTER_TABLE).where({rds_instance_id: fleet.rdsIds.east, remote_tenant_id: 1}).first('id', 'name')
    expect(result.tenant).toMatchObject({id: Number(row?.id), name: row?.name, ref: 'east:1', rdsName: 'east', remoteTenantId: 1})
    expect(JSON.stringify(result)).not.toMatch(/password|\$2y\$/)
    // The same tenant by its raiops id and by its name.
    expect((await list({tenant: String(row?.id)})).users.map((u) => u.id)).toEqual(expected.map((u) => u.id))
    expect((await list({tenant: String(row?.name).toUpperCase()})).tenant.id).toBe(Number(row?.id))
  })

  it('--status, --ghosts and --search filter on the RDS; LIKE characters are taken literally', async () => {
    const all = await usersOn(fleet, 'east', 1)
    const active = await list({tenant: 'east:1', statuses: ['active']})
    expect(active.users.map(brief)).toEqual(all.filter((u) => u.status === 'active'))
    expect(active.total).toBe(active.users.length)
    const two = await list({tenant: 'east:1', statuses: ['invited', 'inactive']})
    expect(two.users.map((u) => u.id)).toEqual(all.filter((u) => u.status === 'invited' || u.status === 'inactive').map((u) => u.id))
    expect((await list({tenant: 'east:1', ghosts: 'only'})).users.map((u) => u.id)).toEqual(all.filter((u) => u.ghost).map((u) => u.id))
    expect((await list({tenant: 'east:1', ghosts: 'exclude'})).users.map((u) => u.id)).toEqual(all.filter((u) => !u.ghost).map((u) => u.id))
    expect(all.some((u) => u.ghost)).toBe(true)

    expect((await list({tenant: 'east:1', search: '100%_'})).users.map((u) => u.id)).toEqual([5001])
    expect((await list({tenant: 'east:1', search: 'off!'})).users.map((u) => u.id)).toEqual([5001])
    expect((await list({tenant: 'east:1', search: 'PERCENT'})).users.map((u) => u.id)).toEqual([5001, 5002])
    // The email, whatever case it was stored in.
    expect((await list({tenant: 'east:1', search: 'umit@shop'})).users.map((u) => u.id)).toEqual([5003])
    const combined = await list({tenant: 'east:1', search: 'shop.example', statuses: ['active'], ghosts: 'exclude'})
    expect(combined.users.map((u) => u.id)).toEqual([5001, 5003])
    expect(combined.total).toBe(2)
    expect((await list({tenant: 'east:1', search: 'no such person'})).users).toEqual([])
  })

  it('paging: walking every page with --after sees each user exactly once', async () => {
    const all = await usersOn(fleet, 'east', 1)
    const seen: number[] = []
    let after: number | undefined
    let pages = 0
    for (;;) {
      const page = await list({tenant: 'east:1', limit: 2, after})
      expect(page.total).toBe(all.length)
      expect(page.users.length).toBeLessThanOrEqual(2)
      seen.push(...page.users.map((u) => u.id))
      pages++
      if (page.nextAfter === null) break
      expect(page.nextAfter).toBe(page.users.at(-1)?.id)
      after = page.nextAfter
    }
    expect(seen).toEqual(all.map((u) => u.id))
    expect(pages).toBe(Math.ceil(all.length / 2))
  })

  it('bad input and an unknown tenant: exit-2 errors', async () => {
    await expect(list({tenant: 'east:99'})).rejects.toThrow(NotFoundError)
    await expect(list({tenant: 'nowhere:1'})).rejects.toThrow(/no RDS named "nowhere"/)
    await expect(list({tenant: 'east:1', statuses: [' ']})).rejects.toThrow(UserError)
    await expect(list({tenant: 'east:1', search: '   '})).rejects.toThrow(UserError)
  })

  it.runIf(engine !== 'sqlite')('rows that break the contract (NULL name, NULL email) are shown as such', async () => {
    await fleet.on('north', async (db) => {
      if (engine === 'mysql')
        await db.raw(
          'ALTER TABLE users MODIFY name VARCHAR(255) NULL, MODIFY email VARCHAR(255) NULL, MODIFY status VARCHAR(32) NULL, MODIFY is_ghost TINYINT(1) NULL',
        )
      else
        await db.raw(
          'ALTER TABLE users ALTER COLUMN name DROP NOT NULL, ALTER COLUMN email DROP NOT NULL, ALTER COLUMN status DROP NOT NULL, ALTER COLUMN is_ghost DROP NOT NULL',
        )
      await db('users').insert([
        {id: 7001, tenant_id: 2, name: null, email: 'noname@north.example', password: 'x', status: 'active', is_ghost: false},
        {id: 7002, tenant_id: 2, name: 'No Email', email: null, password: 'x', status: null, is_ghost: null},
      ])
    })
    const result = await list({tenant: 'north:2', search: 'no'})
    expect(result.users.filter((u) => u.id > 7000)).toEqual([
      expect.objectContaining({id: 7001, name: null, email: 'noname@north.example', problems: ['name is NULL']}),
      expect.objectContaining({id: 7002, name: 'No Email', email: null, status: null, ghost: false, problems: ['email is NULL']}),
    ])
  })

  it.runIf(engine !== 'sqlite')('the RDS refused or silent: an error naming the cause, no rows, within --timeout', async () => {
    const ctx = makeContext(fleet.control.db, {connectTimeoutMs: 5000})
    try {
      await fleet.proxies.west?.setMode('refuse')
      const refused = await listUsers(ctx, {tenant: 'west:1', limit: 50, timeoutMs: 2000})
      expect(refused).toMatchObject({users: [], total: null, nextAfter: null})
      expect(refused.error).toMatch(/refused/)
      await fleet.proxies.west?.setMode('blackhole')
      const silent = await listUsers(ctx, {tenant: 'west:1', limit: 50, timeoutMs: 1000})
      expect(silent).toMatchObject({users: [], total: null})
      expect(silent.error).toMatch(/^timed out after 1000 ms/)
    } finally {
      await ctx.close()
      await fleet.proxies.west?.setMode('pass')
    }
  })
})

describe('user:list through the CLI (in-process)', () => {
  let home: TestDir
  let session: CliSession
  let fleet: UserFleet
  let db: Knex
  let readOnly: string
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})

  beforeAll(async () => {
    home = createTestDir('raiops-user-list-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'user-list-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const created = await cli(['token:create', '--name', 'as-read-only', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    readOnly = (JSON.parse(created.stdout) as {token: string}).token
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(session.env.RAIOPS_HOME, 'raiops.sqlite')}`, '/nonexistent'))
    fleet = await buildUserFleet('mysql', {db})
  })
  afterAll(async () => {
    await fleet?.close()
    await db?.destroy()
    home?.drop()
  })

  it('a page on stdout, how many match and the next page on stderr; --json is the result', async () => {
    const all = await usersOn(fleet, 'east', 2)
    const first = await cli(['user:list', '--tenant', 'east:2', '--limit', '2', '--format', 'csv'])
    expect(first.code, first.stderr).toBe(0)
    const lines = first.stdout.trim().split('\n')
    expect(lines[0]).toBe('id,name,email,status,ghost,updated,created,problems')
    expect(lines.slice(1).map((l) => Number(l.split(',')[0]))).toEqual(all.slice(0, 2).map((u) => u.id))
    expect(first.stderr).toMatch(new RegExp(`${all.length} users of tenant ".*" \\(east:2, #\\d+\\) match; showing 2 \\(ids ${all[0].id}–${all[1].id}\\)`))
    expect(first.stderr).toMatch(new RegExp(`next page: --after ${all[1].id}\\n`))
    const json = await cli(['user:list', '--tenant', 'east:2', '--after', String(all[1].id), '--json'])
    expect(json.code, json.stderr).toBe(0)
    const result = JSON.parse(json.stdout) as {users: FleetUser[]; total: number; nextAfter: number | null}
    expect(result.users.map((u) => u.id)).toEqual(all.slice(2).map((u) => u.id))
    expect(result).toMatchObject({total: all.length, nextAfter: null})
    expect(json.stdout).toContain('pat.shared@example.com')
  })

  it('without pii.view (read_only): emails masked', async () => {
    const table = await cli(['user:list', '--tenant', 'east:2', '--search', 'pat'], {RAIOPS_TOKEN: readOnly})
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toContain('p***@example.com')
    expect(table.stdout).not.toContain('pat.shared@')
  })

  it('bad flags: exit 2, one line', async () => {
    for (const args of [
      ['--tenant', 'east:2', '--limit', '0'],
      ['--tenant', 'east:2', '--ghosts', 'maybe'],
      ['--tenant', 'east:2', '--timeout', '-1'],
      ['--tenant', 'east:99'],
    ]) {
      const result = await cli(['user:list', ...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stdout).toBe('')
    }
  })

  it('its RDS refused: exit 3 naming the error, no rows', async () => {
    await fleet.proxies.west?.setMode('refuse')
    try {
      const result = await cli(['user:list', '--tenant', 'west:1', '--timeout', '2'])
      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/RDS west of tenant ".*" \(west:1, #\d+\) is unavailable: .*refused/)
      const json = await cli(['user:list', '--tenant', 'west:1', '--timeout', '2', '--json'])
      expect(json.code).toBe(3)
      expect(JSON.parse(json.stdout)).toMatchObject({users: [], total: null, error: expect.stringMatching(/refused/)})
    } finally {
      await fleet.proxies.west?.setMode('pass')
    }
  })
})
