import bcrypt from 'bcryptjs'
import type {Knex} from 'knex'
import {existsSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createRaiFixture, LARAVEL_TEST_PASSWORD, type FixtureEngine, type RaiFixture} from '../support/rai-fixture.js'
import {withMysqlAdmin, withPgAdmin} from '../support/servers.js'

const ENGINES: FixtureEngine[] = ['mysql', 'postgres', 'sqlite']

const TRICKY_NAMES = [
  `O'Reilly "Quoted" Dental`,
  'Back\\slash \\\\ and \\n literal',
  'Emoji 🦄🍕 Café Zürich — 東京',
  "Robert'); DROP TABLE tenants; --",
  'percent % underscore _ `backtick` ?? ?',
]

async function countRows(db: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const row = await db(table).where(where).count({n: '*'}).first()
  return Number(row?.n)
}

/** Timestamps come back as Date (mysql2, pg) or as the stored 'YYYY-MM-DD HH:MM:SS' text (SQLite). */
function epochMs(value: unknown): number {
  if (value instanceof Date) return value.getTime()
  return Date.parse(`${String(value).replace(' ', 'T')}Z`)
}

async function databaseExists(fixture: RaiFixture): Promise<boolean> {
  if (fixture.engine === 'sqlite') return existsSync(fixture.database)
  if (fixture.engine === 'mysql') {
    return withMysqlAdmin(async (conn) => {
      const [rows] = await conn.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [fixture.database])
      return (rows as unknown[]).length === 1
    })
  }
  return withPgAdmin(async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [fixture.database])).rowCount === 1)
}

describe.each(ENGINES)('RAI fixture on %s', (engine) => {
  let fixture: RaiFixture
  let db: Knex
  const startedAt = Date.now()

  beforeAll(async () => {
    fixture = await createRaiFixture({
      engine,
      tenants: 5,
      usersPerTenant: 3,
      ghostUsersPerTenant: 1,
      locationsPerTenant: 2,
      master: true,
      tenantNames: TRICKY_NAMES,
      batchSize: 4, // several INSERT statements per table
    })
    db = await fixture.knex()
  })

  afterAll(async () => {
    await db?.destroy()
    await fixture?.drop()
  })

  it('reports the counts it wrote, and the database holds exactly those rows', async () => {
    expect(fixture.counts).toEqual({tenants: 5, users: 15, ghostUsers: 5, locations: 10, routing: 15})
    expect(await countRows(db, 'tenants')).toBe(5)
    expect(await countRows(db, 'users', {is_ghost: false})).toBe(15)
    expect(await countRows(db, 'users', {is_ghost: true})).toBe(5)
    expect(await countRows(db, 'users')).toBe(20)
    expect(await countRows(db, 'locations')).toBe(10)
    expect(await countRows(db, 'user_email_routing')).toBe(15)
    for (let tenantId = 1; tenantId <= 5; tenantId++) {
      expect(await countRows(db, 'users', {tenant_id: tenantId, is_ghost: false})).toBe(3)
      expect(await countRows(db, 'users', {tenant_id: tenantId, is_ghost: true})).toBe(1)
      expect(await countRows(db, 'locations', {tenant_id: tenantId})).toBe(2)
    }
  })

  it('describes where it lives', () => {
    if (engine === 'sqlite') {
      expect(fixture.host).toBeNull()
      expect(fixture.database.startsWith('/')).toBe(true)
    } else {
      expect(fixture.host).toBe('127.0.0.1')
      expect(fixture.port).toBe(engine === 'mysql' ? 3306 : 5432)
      expect(fixture.database).toMatch(/^rai_fx_/)
    }
  })

  it('has the columns of the fleet contract', async () => {
    const columns = async (table: string) => Object.keys(await db(table).columnInfo()).sort()
    expect(await columns('tenants')).toEqual(['created_at', 'id', 'name', 'primary_contact_email', 'primary_contact_name', 'status', 'updated_at'])
    expect(await columns('users')).toEqual(['created_at', 'email', 'id', 'is_ghost', 'name', 'password', 'status', 'tenant_id', 'updated_at'])
    expect(await columns('locations')).toEqual(['created_at', 'id', 'name', 'tenant_id', 'updated_at'])
    expect(await columns('user_email_routing')).toEqual([
      'created_at',
      'email',
      'id',
      'password_hash',
      'rds_instance_id',
      'status',
      'tenant_id',
      'updated_at',
      'user_id',
    ])
  })

  it('stores Laravel bcrypt hashes ($2y$) of LARAVEL_TEST_PASSWORD', async () => {
    const users: Array<{password: string}> = await db('users').select('password')
    expect(users).toHaveLength(20)
    for (const {password} of users) expect(password).toMatch(/^\$2y\$04\$[./A-Za-z0-9]{53}$/)
    const distinct = [...new Set(users.map((user) => user.password))]
    expect(distinct.length).toBeGreaterThan(1)
    for (const hash of distinct) {
      expect(bcrypt.compareSync(LARAVEL_TEST_PASSWORD, hash)).toBe(true)
      expect(bcrypt.compareSync(`${LARAVEL_TEST_PASSWORD}x`, hash)).toBe(false)
    }
  })

  it('has unique emails, lower-case except a few typed with capitals', async () => {
    const emails = (await db('users').pluck('email')) as string[]
    expect(new Set(emails.map((email) => email.toLowerCase())).size).toBe(20)
    const mixed = emails.filter((email) => email !== email.toLowerCase())
    expect(mixed.length).toBeGreaterThanOrEqual(1)
    expect(mixed.length).toBeLessThanOrEqual(3)
    for (const email of emails) expect(email).toMatch(/^[^\s@]+@[^\s@]+\.[a-z]+$/i)
  })

  it('routes every regular user, and no ghost, from user_email_routing', async () => {
    const users: Array<{id: number | string; tenant_id: number | string; email: string; password: string; is_ghost: unknown}> = await db('users').select()
    const routes: Array<{
      user_id: number | string
      tenant_id: number | string
      email: string
      password_hash: string
      rds_instance_id: number | string
    }> = await db('user_email_routing').select()
    const byId = new Map(users.map((user) => [Number(user.id), user]))
    expect(routes).toHaveLength(15)
    expect(new Set(routes.map((route) => Number(route.user_id))).size).toBe(15)
    for (const route of routes) {
      const user = byId.get(Number(route.user_id))
      expect(user).toBeDefined()
      expect(Boolean(user?.is_ghost)).toBe(false)
      expect(route.email).toBe(user?.email)
      expect(Number(route.tenant_id)).toBe(Number(user?.tenant_id))
      expect(route.password_hash).toBe(user?.password)
      expect(Number(route.rds_instance_id)).toBe(1)
    }
  })

  it('spreads timestamps over the past year, updated never before created', async () => {
    const dayMs = 86_400_000
    for (const table of ['tenants', 'users', 'locations', 'user_email_routing']) {
      const rows: Array<{created_at: unknown; updated_at: unknown}> = await db(table).select('created_at', 'updated_at')
      for (const row of rows) {
        const created = epochMs(row.created_at)
        const updated = epochMs(row.updated_at)
        expect(created).toBeGreaterThan(startedAt - 366 * dayMs)
        expect(updated).toBeGreaterThanOrEqual(created)
        expect(updated).toBeLessThan(Date.now() + dayMs)
      }
    }
  })

  it('round-trips tenant names with quotes, backslashes and emoji exactly', async () => {
    const names = (await db('tenants').orderBy('id').limit(TRICKY_NAMES.length).pluck('name')) as string[]
    expect(names).toEqual(TRICKY_NAMES)
    const found = await db('tenants').where({name: TRICKY_NAMES[2]}).first('id')
    expect(Number(found?.id)).toBe(3)
  })

  it('leaves auto-increment ids ready for rows tests add', async () => {
    await db('tenants').insert({name: 'added by a test', status: 'active'})
    const added = await db('tenants').where({name: 'added by a test'}).first('id')
    expect(Number(added?.id)).toBe(6)
    await db('tenants').where({id: 6}).delete()
  })

  if (engine === 'mysql') {
    it('uses utf8mb4 (Laravel collation) on MariaDB', async () => {
      const [rows] = (await db.raw('SELECT TABLE_NAME AS t, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')) as [
        Array<{t: string; c: string}>,
      ]
      expect(rows.map((row) => row.t).sort()).toEqual(['locations', 'tenants', 'user_email_routing', 'users'])
      for (const row of rows) expect(row.c).toBe('utf8mb4_unicode_ci')
    })
  }

  it('drop() removes the database', async () => {
    await db.destroy()
    expect(await databaseExists(fixture)).toBe(true)
    await fixture.drop()
    expect(await databaseExists(fixture)).toBe(false)
  })
})

describe.each(ENGINES)('broken RAI fixture on %s', (engine) => {
  it('omitTables leaves the table out, and no routing table without master', async () => {
    const fixture = await createRaiFixture({engine, tenants: 2, usersPerTenant: 2, omitTables: ['locations']})
    const db = await fixture.knex()
    try {
      expect(await db.schema.hasTable('locations')).toBe(false)
      expect(await db.schema.hasTable('user_email_routing')).toBe(false)
      expect(await db.schema.hasTable('tenants')).toBe(true)
      expect(fixture.counts).toEqual({tenants: 2, users: 4, ghostUsers: 2, locations: 0, routing: 0})
      expect(await countRows(db, 'users')).toBe(6)
    } finally {
      await db.destroy()
      await fixture.drop()
    }
    expect(await databaseExists(fixture)).toBe(false)
  })
})

describe.each(ENGINES)('fixture loading on %s', (engine) => {
  it('splits a batchSize beyond the engine limits (bind parameters, compound SELECT terms)', async () => {
    // 8000 users x 9 columns: more than PostgreSQL's 65535 bind parameters and SQLite's 500 compound terms in one INSERT.
    const fixture = await createRaiFixture({
      engine,
      tenants: 1000,
      usersPerTenant: 8,
      ghostUsersPerTenant: 0,
      locationsPerTenant: 0,
      batchSize: 10_000,
    })
    const db = await fixture.knex()
    try {
      expect(fixture.counts).toEqual({tenants: 1000, users: 8000, ghostUsers: 0, locations: 0, routing: 0})
      expect(await countRows(db, 'users')).toBe(8000)
      expect(await countRows(db, 'locations')).toBe(0)
      const maxId = await db('users').max({m: 'id'}).first()
      expect(Number(maxId?.m)).toBe(8000)
    } finally {
      await db.destroy()
      await fixture.drop()
    }
  })
})

describe('fixture data', () => {
  it('is deterministic for a seed and a "now", and differs for another seed', async () => {
    const now = new Date('2026-01-15T12:00:00Z')
    const build = (seed: number) => createRaiFixture({engine: 'sqlite', tenants: 4, usersPerTenant: 6, master: true, seed, now})
    const fixtures = [await build(7), await build(7), await build(8)]
    try {
      const dump = async (fixture: RaiFixture) => {
        const db = await fixture.knex()
        try {
          return {
            tenants: await db('tenants').orderBy('id').select(),
            users: await db('users').orderBy('id').select(),
            locations: await db('locations').orderBy('id').select(),
            routing: await db('user_email_routing').orderBy('id').select(),
          }
        } finally {
          await db.destroy()
        }
      }
      const [a, b, c] = [await dump(fixtures[0]), await dump(fixtures[1]), await dump(fixtures[2])]
      expect(a.users).toHaveLength(28)
      expect(b).toEqual(a)
      expect(c.users.map((user) => user.email)).not.toEqual(a.users.map((user) => user.email))
      const latest = Math.max(...a.users.map((user) => epochMs(user.updated_at)))
      expect(latest).toBeLessThanOrEqual(now.getTime())
    } finally {
      for (const fixture of fixtures) await fixture.drop()
    }
  })
})
