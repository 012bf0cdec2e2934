import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {migrations} from '../../migrations/index.js'
import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {createTestDatabase, createTestDir, type TestDatabase, type TestDir} from '../support/servers.js'
import {CliSession, homeEnv} from '../support/session.js'

const ADMIN_PASSWORD = 'admin-pass-Zq81x!'

function initArgs(extra: string[] = []): string[] {
  return ['init', '--admin-email', 'Ops@Example.com', '--admin-name', 'Ops Admin', '--password-stdin', ...extra]
}

describe('raiops init and the control database', () => {
  let home: TestDir
  let env: Record<string, string>
  // In-process: what is tested is init and the control database, not the process around them; start-up is spawned.
  let session: CliSession
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}) => session.run(args, options)

  beforeAll(() => {
    home = createTestDir('raiops-home-')
    session = new CliSession(homeEnv(join(home.path, 'raiops')), {runner: 'in-process'})
    env = session.env
  })
  afterAll(() => home.drop())

  it('prints its version without touching a database', async () => {
    const result = await new CliSession(env).run(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^raiops\/\d+\.\d+\.\d+/)
    expect(existsSync(env.RAIOPS_HOME)).toBe(false)
  })

  it('refuses to run a command before init, saying what to do', async () => {
    const result = await cli(['rds:list'])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('raiops is not initialised')
    expect(result.stderr).toContain('raiops init')
  })

  it('needs the first admin without a terminal, and creates no key before it has one', async () => {
    const result = await cli(['init'])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('--admin-email is required')
    expect(existsSync(join(env.RAIOPS_HOME, 'master.key'))).toBe(false)
  })

  it('rejects a short admin password with exit 2', async () => {
    const result = await cli(initArgs(), {input: 'short\n'})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('the admin password must be at least 10 characters')
  })

  it('initialises once: key file 0600, migrations, roles, admin', async () => {
    const result = await cli([...initArgs(), '--json'], {input: `${ADMIN_PASSWORD}\n`})
    expect(result.code, result.stderr).toBe(0)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({changed: true, admin: {email: 'ops@example.com', created: true}, key: {source: 'file', created: true}})
    expect(json.roles.created.sort()).toEqual(['billing_admin', 'read_only', 'support_admin', 'system_admin'])
    const keyFile = join(env.RAIOPS_HOME, 'master.key')
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    expect(existsSync(join(env.RAIOPS_HOME, 'raiops.sqlite'))).toBe(true)
    expect(result.stdout + result.stderr).not.toContain(ADMIN_PASSWORD)
  })

  it('two inits at once in a new home: one sets it up, the other is refused as busy (exit 6), and the control database stays', async () => {
    const other = createTestDir('raiops-race-')
    try {
      const racing = new CliSession(homeEnv(join(other.path, 'raiops')))
      const results = await Promise.all([racing.run(initArgs(), {input: ADMIN_PASSWORD}), racing.run(initArgs(), {input: ADMIN_PASSWORD})])
      const codes = results.map((r) => r.code).sort()
      // Both may also succeed one after the other (the second finds everything done); never a lost database.
      expect([
        [0, 6],
        [0, 0],
      ]).toContainEqual(codes)
      for (const busy of results.filter((r) => r.code === 6)) expect(busy.stderr).toMatch(/another raiops init or db:migrate is running/)
      expect(existsSync(join(other.path, 'raiops', 'raiops.sqlite'))).toBe(true)
      expect(existsSync(join(other.path, 'raiops', '.raiops-setup.lock'))).toBe(false)
      expect((await racing.run(['rds:list', '--json'])).code).toBe(0)
    } finally {
      other.drop()
    }
  })

  it('changes nothing the second time, and says so', async () => {
    const key = readFileSync(join(env.RAIOPS_HOME, 'master.key'), 'utf8')
    const result = await cli(['init'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('already initialised')
    expect(result.stdout).toContain('nothing changed')
    expect(readFileSync(join(env.RAIOPS_HOME, 'master.key'), 'utf8')).toBe(key)
    const json = JSON.parse((await cli(['init', '--json'])).stdout)
    expect(json).toMatchObject({changed: false, migrationsApplied: [], admin: {created: false}})
  })

  it('reports migration status', async () => {
    const result = await cli(['db:migrate', '--status', '--json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({pending: [], applied: migrations.map((m) => m.name)})
  })

  it('gives one-line errors for a bad control database URL', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['sqlite:///no/such/dir/raiops.db', 2, /directory \/no\/such\/dir does not exist/],
      ['mysql://root@[::1/raiops', 2, /RAIOPS_DATABASE_URL is not a valid URL/],
      ['mysql://root@127.0.0.1:1/raiops', 1, /cannot use the control database mysql:\/\/root@127\.0\.0\.1:1\/raiops: connection refused/],
      ['oracle://x/y', 2, /RAIOPS_DATABASE_URL: expected mysql:\/\//],
    ]
    for (const [url, code, message] of cases) {
      const result = await cli(['rds:list'], {env: {RAIOPS_DATABASE_URL: url}})
      expect(result.code, url).toBe(code)
      expect(result.stderr.trim().split('\n'), url).toHaveLength(1)
      expect(result.stderr, url).toMatch(message)
    }
  })

  it('names an invalid environment variable', async () => {
    const result = await cli(['rds:list'], {env: {RAIOPS_CONNECT_TIMEOUT_MS: 'soon'}})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/RAIOPS_CONNECT_TIMEOUT_MS: expected a whole number of milliseconds/)
  })
})

describe('raiops init on a MariaDB and a PostgreSQL control database', () => {
  const databases: TestDatabase[] = []
  let home: TestDir

  beforeAll(async () => {
    home = createTestDir('raiops-home-')
    databases.push(await createTestDatabase('mysql', 'raiops_ctl'), await createTestDatabase('postgres', 'raiops_ctl'))
  })
  afterAll(async () => {
    home.drop()
    await Promise.all(databases.map((d) => d.drop()))
  })

  it('initialises and lists through RAIOPS_DATABASE_URL', async () => {
    for (const database of databases) {
      const session = new CliSession(homeEnv(join(home.path, database.engine), {RAIOPS_DATABASE_URL: database.url}), {runner: 'in-process'})
      const cli = (args: string[], options: {input?: string} = {}) => session.run(args, options)
      const init = await cli(initArgs(), {input: `${ADMIN_PASSWORD}\n`})
      expect(init.code, init.stderr).toBe(0)
      expect(init.stdout).toContain(`${database.engine}://`)
      const add = await cli(['rds:add', '--name', 'local', '--engine', 'sqlite', '--file', '/tmp/rai-local.sqlite', '--no-test', '--json'])
      expect(add.code, add.stderr).toBe(0)
      const list = await cli(['rds:list', '--json'])
      expect(JSON.parse(list.stdout).map((r: {name: string}) => r.name)).toEqual(['local'])
      const again = await cli(['init'])
      expect(again.stdout).toContain('nothing changed')
    }
  })

  it('says a database is not initialised, or not up to date, before any command works on it', async () => {
    for (const engine of ['mysql', 'postgres'] as const) {
      const database = await createTestDatabase(engine, 'raiops_ctl')
      databases.push(database)
      const session = new CliSession(homeEnv(join(home.path, `${engine}-upgrade`), {RAIOPS_DATABASE_URL: database.url}), {
        runner: 'in-process',
      })
      const cli = (args: string[], options: {input?: string} = {}) => session.run(args, options)
      const empty = await cli(['rds:list'])
      expect(empty.code, engine).toBe(2)
      expect(empty.stderr.trim().split('\n')).toHaveLength(1)
      expect(empty.stderr).toContain(`is not initialised (${migrations.length} migration(s) pending)`)
      expect(empty.stderr).toContain('raiops init')

      expect((await cli(initArgs(), {input: `${ADMIN_PASSWORD}\n`})).code).toBe(0)
      // The database as the release before the newest migration left it.
      const db = await openControlDb(parseDatabaseUrl(database.url, home.path))
      try {
        const newest = migrations[migrations.length - 1]
        await newest.down(db)
        await db('knex_migrations').where({name: newest.name}).delete()
      } finally {
        await db.destroy()
      }
      const stale = await cli(['rds:list'])
      expect(stale.code, engine).toBe(2)
      expect(stale.stderr).toContain('is not up to date (1 migration(s) pending)')
      expect(stale.stderr).toContain('raiops db:migrate')
      expect((await cli(['db:migrate'])).code).toBe(0)
      // Signed in afresh, whatever the newest migration changed in the sign-in tables.
      expect((await cli(['auth:login', '--email', 'ops@example.com', '--password-stdin'], {input: `${ADMIN_PASSWORD}\n`})).code).toBe(0)
      const list = await cli(['rds:list', '--json'])
      expect(list.code, list.stderr).toBe(0)
      expect(JSON.parse(list.stdout)).toEqual([])
    }
  })
})
