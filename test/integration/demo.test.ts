import bcrypt from 'bcryptjs'
import Database from 'better-sqlite3'
import knexFactory, {type Knex} from 'knex'
import {spawn, type ChildProcess} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {DemoOutput} from '../../src/commands/demo.js'
import {buildDemo, demoEnvironment, type DemoResult} from '../../src/lib/demo/build.js'
import {DEMO_MARKER} from '../../src/lib/demo/directory.js'
import {
  FLEET_TABLES,
  FLEET_USER_PASSWORD,
  locationRows,
  planCounts,
  routingRows,
  tenantRows,
  userRows,
  type FleetRow,
  type RaiDataPlan,
  type RoutedDatabase,
} from '../../src/lib/demo/fleet-data.js'
import {writeRaiDatabase} from '../../src/lib/demo/fleet-load.js'
import {demoFleet} from '../../src/lib/demo/fleet.js'
import {UserError} from '../../src/lib/errors/index.js'
import {queryControlDb, runCli, type CliResult} from '../support/cli.js'
import {createTestDatabase, createTestDir, type TestDatabase, type TestDir} from '../support/servers.js'

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js')
const RDS_NAMES = ['eu-central-1', 'eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-2']
const dirs: TestDir[] = []

function tempDir(): string {
  const dir = createTestDir('raiops-demo-test-')
  dirs.push(dir)
  return dir.path
}

/**
 * The tour spawns a raiops process per step and mostly waits on them: it starts
 * with the file and runs while the tests before it do, and its tests read its output.
 */
let tourRun: {dir: string; operatorHome: string; result: Promise<CliResult>}

beforeAll(() => {
  const operatorHome = tempDir()
  const dir = join(tempDir(), 'demo')
  // The operator's own settings, which neither the demo nor its tour may use.
  const result = runCli(['demo', '--dir', dir], {
    env: {RAIOPS_HOME: operatorHome, RAIOPS_DATABASE_URL: 'mysql://nobody@127.0.0.1:9/not_there', NO_COLOR: '1'},
    cwd: operatorHome,
    timeoutMs: 120_000,
  })
  // Awaited by the tour's tests; a failure is reported there, not as an unhandled rejection.
  result.catch(() => {})
  tourRun = {dir, operatorHome, result}
})

afterAll(async () => {
  await tourRun?.result.catch(() => {})
  for (const dir of dirs.splice(0)) dir.drop()
})

// ---------------------------------------------------------------------------
// Reading what a demo holds

function readSqlite<T = FleetRow>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, {readonly: true, fileMustExist: true})
  try {
    return db.prepare(sql).all(...params) as T[]
  } finally {
    db.close()
  }
}

/** A SQLite database as SQL sees it: its schema, and per table the row count and a hash of every row in id order. */
function sqliteContents(file: string): Record<string, string> {
  const contents: Record<string, string> = {}
  const schema = readSqlite<{type: string; name: string; sql: string | null}>(
    file,
    `SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
  )
  contents.schema = JSON.stringify(schema)
  for (const {name} of schema.filter((s) => s.type === 'table')) {
    const rows = readSqlite(file, `SELECT * FROM "${name}" ORDER BY id`)
    contents[name] = `${rows.length} rows, sha256 ${createHash('sha256').update(JSON.stringify(rows)).digest('hex')}`
  }
  return contents
}

function fleetFile(dir: string, rds: string): string {
  return join(dir, 'fleet', `${rds}.sqlite`)
}

/** The database files of a demo's fleet (a WAL database read here gets -wal and -shm files next to it). */
function sqliteFiles(dir: string): string[] {
  return readdirSync(join(dir, 'fleet'))
    .filter((entry) => entry.endsWith('.sqlite'))
    .sort()
}

function readMarkerFile(dir: string): {state: string; size: string; startedAt: string} {
  return JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as {state: string; size: string; startedAt: string}
}

function controlCounts(home: string): {audit: number; sessions: number} {
  const [row] = queryControlDb<{audit: number; sessions: number}>(
    home,
    'SELECT (SELECT COUNT(*) FROM audit_logs) AS audit, (SELECT COUNT(*) FROM auth_sessions) AS sessions',
  )
  return row
}

/** The argument list of a line printed for a shell (words, and words in single quotes as shellQuote writes them). */
function shellWords(line: string): string[] {
  const words: string[] = []
  for (const match of line.matchAll(/(?:'[^']*'|\\'|[^\s'\\]+)+/g)) {
    words.push(match[0].replace(/'([^']*)'|\\(')/g, (_, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? ''))
  }
  return words
}

// ---------------------------------------------------------------------------

describe('buildDemo: the data of the small demo', () => {
  let first: DemoResult
  let second: DemoResult
  let registry: Array<{id: number; name: string; is_master: number; state: string; rai_database: string}>

  beforeAll(async () => {
    first = await buildDemo({dir: join(tempDir(), 'demo'), size: 'small', reset: false})
    second = await buildDemo({dir: join(tempDir(), 'a', 'b', 'demo'), size: 'small', reset: false})
    registry = queryControlDb(first.home, 'SELECT id, name, is_master, state, rai_database FROM rds_instances ORDER BY id')
  })

  it('two builds in two directories hold the same rows, and the same generator with another seed does not', async () => {
    expect(first.status).toBe('created')
    expect(second.status).toBe('created')
    for (const name of RDS_NAMES.slice(0, 3)) {
      const contents = sqliteContents(fleetFile(first.dir, name))
      expect(Object.keys(contents).sort()).toEqual(
        ['schema', 'locations', 'tenants', 'users', ...(name === 'eu-central-1' ? ['user_email_routing'] : [])].sort(),
      )
      expect(sqliteContents(fleetFile(second.dir, name)), name).toEqual(contents)
    }
    const registryOf = (home: string) => queryControlDb(home, 'SELECT id, name, engine, is_master, state, app_url FROM rds_instances ORDER BY id')
    expect(registryOf(second.home)).toEqual(registryOf(first.home))

    // The comparison sees a difference: eu-west-1 written again with its own plan is the same, with another seed it is not.
    const plan = demoFleet('small').rds[1].plan
    const written = async (seed: number) => {
      const file = join(tempDir(), 'rai.sqlite')
      const db = knexFactory({client: 'better-sqlite3', connection: {filename: file}, useNullAsDefault: true})
      try {
        await writeRaiDatabase(db, {plan: {...plan, seed}})
      } finally {
        await db.destroy()
      }
      return sqliteContents(file)
    }
    const original = sqliteContents(fleetFile(first.dir, 'eu-west-1'))
    expect(await written(plan.seed)).toEqual(original)
    const reseeded = await written(plan.seed + 1)
    expect(reseeded.schema).toBe(original.schema)
    for (const table of ['tenants', 'users', 'locations']) expect(reseeded[table], table).not.toBe(original[table])
  })

  it('has five RDS: eu-central-1 the master, us-east-1 draining in the control database, the file of us-west-2 missing, ap-southeast-2 back and locked', () => {
    expect(registry.map((r) => r.name)).toEqual(RDS_NAMES)
    expect(registry.filter((r) => r.is_master).map((r) => r.name)).toEqual(['eu-central-1'])
    expect(Object.fromEntries(registry.map((r) => [r.name, r.state]))).toEqual({
      'eu-central-1': 'online',
      'eu-west-1': 'online',
      'us-east-1': 'draining',
      'us-west-2': 'online',
      'ap-southeast-2': 'locked',
    })
    for (const r of registry) expect(r.rai_database).toBe(fleetFile(first.dir, r.name))
    expect(sqliteFiles(first.dir)).toEqual(['ap-southeast-2.sqlite', 'eu-central-1.sqlite', 'eu-west-1.sqlite', 'us-east-1.sqlite'])
    expect(readdirSync(join(first.dir, 'fleet')).filter((entry) => entry.startsWith('us-west-2'))).toEqual([])
    expect(first.rds.map((r) => [r.name, r.master, r.state, r.missing])).toEqual([
      ['eu-central-1', true, 'online', false],
      ['eu-west-1', false, 'online', false],
      ['us-east-1', false, 'draining', false],
      ['us-west-2', false, 'online', true],
      ['ap-southeast-2', false, 'locked', false],
    ])
    // The creation sent to ap-southeast-2 while it was down: failed at its tenant step, nothing written there.
    expect(first.failedJob).toEqual({id: expect.any(Number), rds: 'ap-southeast-2', state: 'failed'})
    expect(readSqlite(fleetFile(first.dir, 'ap-southeast-2'), "SELECT id FROM tenants WHERE name = 'Corner Cafe'")).toEqual([])
    expect(readMarkerFile(first.dir)).toMatchObject({state: 'complete', size: 'small'})
  })

  it('holds a few hundred tenants, as many as it says', () => {
    expect(first.totals.tenants).toBeGreaterThanOrEqual(200)
    expect(first.totals.tenants).toBeLessThan(1000)
    const fleet = demoFleet('small')
    let tenants = 0
    for (const [index, name] of RDS_NAMES.entries()) {
      const count =
        name === 'us-west-2' ? fleet.rds[index].plan.tenants : readSqlite<{n: number}>(fleetFile(first.dir, name), 'SELECT COUNT(*) AS n FROM tenants')[0].n
      expect(count, name).toBe(first.rds[index].tenants)
      tenants += count
    }
    expect(tenants).toBe(first.totals.tenants)
  })

  it("lists every regular user of all five RDS in the master's routing directory, under the registry's ids", () => {
    const master = fleetFile(first.dir, 'eu-central-1')
    const routing = readSqlite(master, 'SELECT * FROM user_email_routing ORDER BY id')
    expect(routing.length).toBe(first.totals.users)
    expect(new Set(routing.map((r) => r.rds_instance_id))).toEqual(new Set(registry.map((r) => r.id)))
    const key = (tenant: unknown, user: unknown, email: unknown, hash: unknown, status: unknown) => `${tenant}/${user}/${email}/${hash}/${status}`
    for (const [index, r] of registry.entries()) {
      const routed = routing
        .filter((row) => row.rds_instance_id === r.id)
        .map((row) => key(row.tenant_id, row.user_id, row.email, row.password_hash, row.status))
      // us-west-2 has no file: its users are those the generator makes for its plan.
      const users =
        r.name === 'us-west-2'
          ? [...userRows(demoFleet('small').rds[index].plan)].filter((u) => !u.is_ghost)
          : readSqlite(fleetFile(first.dir, r.name), 'SELECT * FROM users WHERE is_ghost = 0')
      expect(users.length, r.name).toBe(first.rds[index].users)
      expect(routed.sort(), r.name).toEqual(users.map((u) => key(u.tenant_id, u.id, u.email, u.password, u.status)).sort())
    }
  })

  it('has shared emails: users of several tenants on at least two RDS, in the routing directory and in the RAI databases', () => {
    expect(first.sharedEmails.length).toBeGreaterThanOrEqual(2)
    const master = fleetFile(first.dir, 'eu-central-1')
    const nameOf = new Map(registry.map((r) => [r.id, r.name]))
    let onTwoFiles = 0
    for (const email of first.sharedEmails) {
      const routed = readSqlite(master, 'SELECT rds_instance_id, tenant_id, user_id FROM user_email_routing WHERE email = ?', email)
      expect(routed.length, email).toBeGreaterThanOrEqual(2)
      expect(new Set(routed.map((r) => r.rds_instance_id)).size, email).toBeGreaterThanOrEqual(2)
      const inFiles: string[] = []
      for (const name of RDS_NAMES.slice(0, 3)) {
        const users = readSqlite(fleetFile(first.dir, name), 'SELECT tenant_id, id FROM users WHERE email = ? AND is_ghost = 0', email)
        const routedHere = routed.filter((r) => nameOf.get(Number(r.rds_instance_id)) === name)
        expect(users.map((u) => `${u.tenant_id}/${u.id}`).sort(), `${email} on ${name}`).toEqual(routedHere.map((r) => `${r.tenant_id}/${r.user_id}`).sort())
        if (users.length > 0) inFiles.push(name)
      }
      if (inFiles.length >= 2) onTwoFiles++
    }
    expect(onTwoFiles).toBeGreaterThan(0)
  })

  it('has ghost users in every RAI database, never in the routing directory', () => {
    const routing = readSqlite(fleetFile(first.dir, 'eu-central-1'), 'SELECT rds_instance_id, tenant_id, email FROM user_email_routing')
    const routed = new Set(routing.map((r) => `${r.rds_instance_id}/${r.tenant_id}/${r.email}`))
    for (const r of registry.filter((x) => x.name !== 'us-west-2')) {
      const ghosts = readSqlite(fleetFile(first.dir, r.name), 'SELECT tenant_id, email FROM users WHERE is_ghost = 1')
      expect(ghosts.length, r.name).toBeGreaterThan(0)
      expect(ghosts.length, r.name).toBe(first.rds.find((s) => s.name === r.name)?.ghostUsers)
      for (const ghost of ghosts) expect(routed.has(`${r.id}/${ghost.tenant_id}/${ghost.email}`), String(ghost.email)).toBe(false)
    }
    expect(routing.filter((r) => String(r.email).endsWith('@ghost.example.com'))).toEqual([])
  })

  it('stores passwords as Laravel bcrypt hashes ($2y$) that verify against FLEET_USER_PASSWORD', async () => {
    for (const name of RDS_NAMES.slice(0, 3)) {
      const [{other}] = readSqlite<{other: number}>(
        fleetFile(first.dir, name),
        `SELECT COUNT(*) AS other FROM users WHERE password NOT LIKE '$2y$10$%' OR length(password) <> 60`,
      )
      expect(other, name).toBe(0)
    }
    const master = fleetFile(first.dir, 'eu-central-1')
    const [{other}] = readSqlite<{other: number}>(master, `SELECT COUNT(*) AS other FROM user_email_routing WHERE password_hash NOT LIKE '$2y$10$%'`)
    expect(other).toBe(0)
    const [user] = readSqlite(fleetFile(first.dir, 'us-east-1'), 'SELECT password FROM users WHERE is_ghost = 0 ORDER BY id DESC LIMIT 1')
    const [routed] = readSqlite(master, 'SELECT password_hash FROM user_email_routing WHERE email = ? LIMIT 1', first.sharedEmails[0])
    expect(await bcrypt.compare(FLEET_USER_PASSWORD, String(user.password))).toBe(true)
    expect(await bcrypt.compare(FLEET_USER_PASSWORD, String(routed.password_hash))).toBe(true)
    expect(await bcrypt.compare('not-the-password', String(user.password))).toBe(false)
  })

  it('built again on a complete demo, changes nothing but a session with less than a day left', async () => {
    const before = controlCounts(second.home)
    const marker = readFileSync(join(second.dir, DEMO_MARKER), 'utf8')
    const soon = await buildDemo({
      dir: second.dir,
      size: 'small',
      reset: false,
      now: new Date(Date.parse(second.sessionExpiresAt) - 2 * 86_400_000),
    })
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000)
    expect(soon.status).toBe('exists')
    expect(seconds(soon.sessionExpiresAt)).toBe(seconds(second.sessionExpiresAt))
    expect(controlCounts(second.home)).toEqual(before)
    const late = await buildDemo({
      dir: second.dir,
      size: 'small',
      reset: false,
      now: new Date(Date.parse(second.sessionExpiresAt) - 3_600_000),
    })
    expect(late.status).toBe('exists')
    expect(Date.parse(late.sessionExpiresAt)).toBeGreaterThan(Date.parse(second.sessionExpiresAt))
    expect(controlCounts(second.home).sessions).toBe(before.sessions + 1)
    expect(readFileSync(join(second.dir, DEMO_MARKER), 'utf8')).toBe(marker)
  })
})

// ---------------------------------------------------------------------------

describe('the generator writes the same rows on MariaDB, PostgreSQL and SQLite', () => {
  const fleet = demoFleet('small')
  const masterPlan: RaiDataPlan = {...fleet.rds[0].plan, tenants: Math.max(8, Math.min(...(fleet.rds[0].plan.members?.keys() ?? [])))}
  const otherPlan: RaiDataPlan = {...fleet.rds[1].plan, tenants: 5}
  const routes: RoutedDatabase[] = [
    {plan: masterPlan, rdsInstanceId: 7},
    {plan: otherPlan, rdsInstanceId: 9},
  ]
  const databases: TestDatabase[] = []

  afterAll(async () => {
    await Promise.all(databases.splice(0).map((db) => db.drop()))
  })

  /** Every value as text ('1'/'0' for booleans, 'YYYY-MM-DD HH:MM:SS' for times): what each engine returns, made comparable. */
  function normalize(rows: readonly FleetRow[]): Array<Record<string, string | null>> {
    return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : v === true ? '1' : v === false ? '0' : String(v)])))
  }

  async function openEngine(engine: 'mysql' | 'postgres' | 'sqlite'): Promise<Knex> {
    if (engine === 'sqlite') return knexFactory({client: 'better-sqlite3', connection: {filename: join(tempDir(), 'rai.sqlite')}, useNullAsDefault: true})
    const database = await createTestDatabase(engine, 'rai_demo')
    databases.push(database)
    const connection = {host: database.host, port: database.port, user: database.user, password: database.password, database: database.name}
    if (engine === 'mysql') {
      return knexFactory({
        client: 'mysql2',
        connection: {...connection, charset: 'utf8mb4', dateStrings: true},
        pool: {
          min: 0,
          max: 4,
          afterCreate(conn: {query(sql: string, cb: (error: Error | null) => void): void}, done: (error: Error | null, conn: unknown) => void) {
            conn.query(`SET time_zone = '+00:00'`, (error) => done(error, conn))
          },
        },
      })
    }
    // Timestamps without a time zone read back as the text stored, not as a Date in this process's zone.
    const types = {
      getTypeParser: (oid: number, format: string) =>
        oid === pg.types.builtins.TIMESTAMP ? (value: string) => value : pg.types.getTypeParser(oid, format as 'text'),
    }
    return knexFactory({client: 'pg', connection: {...connection, types}, pool: {min: 0, max: 4}})
  }

  it.each(['mysql', 'postgres', 'sqlite'] as const)('%s', async (engine) => {
    const db = await openEngine(engine)
    try {
      const counts = await writeRaiDatabase(db, {plan: masterPlan, routes, batchSize: 7})
      expect(counts).toEqual({...planCounts(masterPlan), routing: planCounts(masterPlan).users + planCounts(otherPlan).users})
      const expected: Record<string, FleetRow[]> = {
        tenants: [...tenantRows(masterPlan)],
        users: [...userRows(masterPlan)],
        locations: [...locationRows(masterPlan)],
        user_email_routing: [...routingRows(routes)],
      }
      // The sample holds a shared email and a ghost user, the rows that differ from plain staff.
      expect(expected.users.some((u) => fleet.sharedEmails.includes(String(u.email)))).toBe(true)
      expect(expected.users.some((u) => u.is_ghost)).toBe(true)
      for (const table of FLEET_TABLES) {
        const rows = (await db(table).select(Object.keys(expected[table][0])).orderBy('id')) as FleetRow[]
        expect(normalize(rows), `${engine} ${table}`).toEqual(normalize(expected[table]))
      }
    } finally {
      await db.destroy()
    }
  })
})

// ---------------------------------------------------------------------------

describe('raiops demo on a directory that holds something else', () => {
  it('refuses, with exit 2, one line and nothing changed: --reset on a directory without a demo, a file, a path below a file', async () => {
    const root = tempDir()
    const other = join(root, 'other')
    mkdirSync(other)
    writeFileSync(join(other, 'keep.txt'), 'keep\n')
    const badMarker = join(root, 'bad-marker')
    mkdirSync(badMarker)
    writeFileSync(join(badMarker, DEMO_MARKER), '{"raiops": "something else"}\n')
    writeFileSync(join(badMarker, 'keep.txt'), 'keep\n')
    const file = join(root, 'file.txt')
    writeFileSync(file, 'a file\n')

    const cases: Array<{args: string[]; says: string}> = [
      {args: ['--reset', '--dir', other], says: 'is not empty and holds no raiops demo'},
      {args: ['--reset', '--dir', file], says: 'is a file'},
      {args: ['--dir', join(file, 'demo')], says: 'ENOTDIR'},
    ]
    const results = await Promise.all(cases.map((c) => runCli(['demo', '--quiet', ...c.args])))
    for (const [index, result] of results.entries()) {
      const label = cases[index].args.join(' ')
      expect(result.code, `${label}: ${result.stderr}`).toBe(2)
      expect(result.stdout, label).toBe('')
      const lines = result.stderr.trimEnd().split('\n')
      expect(lines, label).toHaveLength(1)
      expect(lines[0], label).toContain(cases[index].says)
    }
    // The same refusals from the service, for the other ways in.
    const refusals: Array<{dir: string; reset: boolean; says: string}> = [
      {dir: other, reset: false, says: 'holds no raiops demo'},
      {dir: badMarker, reset: true, says: 'holds no raiops demo'},
      {dir: file, reset: false, says: 'is a file'},
      {dir: join(file, 'a', 'demo'), reset: true, says: 'ENOTDIR'},
    ]
    for (const refusal of refusals) {
      const error = await buildDemo({dir: refusal.dir, size: 'small', reset: refusal.reset}).then(
        () => null,
        (error: unknown) => error,
      )
      expect(error, refusal.dir).toBeInstanceOf(UserError)
      expect((error as UserError).exitCode, refusal.dir).toBe(2)
      expect((error as UserError).message, refusal.dir).toContain(refusal.says)
    }
    expect(readdirSync(other)).toEqual(['keep.txt'])
    expect(readFileSync(join(other, 'keep.txt'), 'utf8')).toBe('keep\n')
    expect(readdirSync(badMarker).sort()).toEqual([DEMO_MARKER, 'keep.txt'].sort())
    expect(readFileSync(join(badMarker, DEMO_MARKER), 'utf8')).toBe('{"raiops": "something else"}\n')
    expect(readFileSync(file, 'utf8')).toBe('a file\n')
    expect(readdirSync(root).sort()).toEqual(['bad-marker', 'file.txt', 'other'])
  })
})

// ---------------------------------------------------------------------------

describe('raiops demo interrupted while it builds', () => {
  function startLargeBuild(dir: string): {child: ChildProcess; closed: Promise<void>} {
    const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1'}
    delete env.NODE_ENV
    delete env.RAIOPS_TOKEN
    const child = spawn(process.execPath, [bin, 'demo', '--size', 'large', '--quiet', '--dir', dir], {env, stdio: 'ignore'})
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
    return {child, closed}
  }

  /** Waits until `ready()` holds; fails if the build ends first (it should not: the large build takes far longer). */
  async function waitFor(build: {child: ChildProcess}, ready: () => boolean, what: string): Promise<void> {
    while (!ready()) {
      if (build.child.exitCode !== null || build.child.signalCode !== null) throw new Error(`the build ended before ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  function building(dir: string): boolean {
    try {
      return readMarkerFile(dir).state === 'building'
    } catch {
      return false
    }
  }

  it.each([
    {signal: 'SIGINT' as const, when: 'the marker says building', ready: (dir: string) => building(dir), rebuild: 'cli'},
    {
      signal: 'SIGKILL' as const,
      when: 'the fleet is being written',
      ready: (dir: string) => building(dir) && existsSync(fleetFile(dir, 'eu-central-1')),
      rebuild: 'service',
    },
  ])('by $signal once $when: the next run says it is incomplete, --reset builds it again', async ({signal, when, ready, rebuild}) => {
    const dir = join(tempDir(), 'demo')
    const build = startLargeBuild(dir)
    try {
      await waitFor(build, () => ready(dir), when)
    } finally {
      build.child.kill(signal)
      await build.closed
    }
    expect(readMarkerFile(dir)).toMatchObject({state: 'building', size: 'large'})

    const refused = await runCli(['demo', '--dir', dir])
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(refused.stderr).toContain('is incomplete')
    expect(refused.stderr).toContain('raiops demo --reset')
    expect(readMarkerFile(dir).state).toBe('building')

    if (rebuild === 'cli') {
      const rebuilt = await runCli(['demo', '--reset', '--quiet', '--dir', dir])
      expect(rebuilt.code, rebuilt.stderr).toBe(0)
    } else {
      expect((await buildDemo({dir, size: 'small', reset: true})).status).toBe('created')
    }
    expect(readMarkerFile(dir)).toMatchObject({state: 'complete', size: 'small'})
    expect(sqliteFiles(dir)).toEqual(['ap-southeast-2.sqlite', 'eu-central-1.sqlite', 'eu-west-1.sqlite', 'us-east-1.sqlite'])
    const [{n}] = readSqlite<{n: number}>(fleetFile(dir, 'eu-central-1'), 'SELECT COUNT(*) AS n FROM tenants')
    expect(n).toBe(demoFleet('small').rds[0].plan.tenants)
    expect(queryControlDb<{name: string}>(join(dir, 'home'), 'SELECT name FROM rds_instances ORDER BY id').map((r) => r.name)).toEqual(RDS_NAMES)
  })
})

// ---------------------------------------------------------------------------

describe('raiops demo: the tour', () => {
  let dir: string
  let operatorHome: string
  let tour: CliResult

  beforeAll(async () => {
    ;({dir, operatorHome} = tourRun)
    tour = await tourRun.result
  })

  /** The output of each tour step: the text between its `$ raiops …` line and the next step's heading. */
  function steps(): Map<string, string> {
    const sections = new Map<string, string>()
    const parts = tour.stdout.split(/^\$ raiops /m).slice(1)
    for (const part of parts) {
      const [command, ...rest] = part.split('\n')
      sections.set(
        command.split(' ')[0],
        rest
          .join('\n')
          .split(/^─{20,}$/m)[0]
          .split(/^Try next:/m)[0],
      )
    }
    return sections
  }

  it('builds the demo and runs each step for real, with its output', () => {
    expect(tour.code, tour.stderr).toBe(0)
    expect(tour.stdout).toContain(`built the raiops demo in ${dir}`)
    const commands = [
      '$ raiops rds:list\n',
      '$ raiops alerts:run\n',
      '$ raiops alerts:list\n',
      '$ raiops rds:health\n',
      '$ raiops sync:all\n',
      '$ raiops status\n',
      '$ raiops placement:explain --for-locations 2\n',
      '$ raiops tenant:create --name ',
      '$ raiops job:show ',
      '$ raiops alerts:silence --matcher rds=us-west-2 ',
      '$ raiops alerts:list --rule rds-down --all\n',
      '$ raiops alerts:history --rule rds-down\n',
      '$ raiops tenant:list --sort health --limit 8\n',
      '$ raiops tenant:show ',
      '$ raiops plan:list\n',
      '$ raiops billing:report --from ',
      '$ raiops billing:explain eu-central-1:',
      '$ raiops billing:alerts\n',
      '$ raiops user:find ',
      '$ raiops user:suspend ',
      '$ raiops user:reactivate ',
      '$ raiops password:check ',
      '$ raiops password:sync ',
      '$ raiops sync:ghost-users\n',
      '$ raiops tenant:impersonate ',
      '$ raiops audit:list --limit 12\n',
      '$ raiops audit:verify\n',
    ]
    const at = commands.map((line) => tour.stdout.indexOf(line))
    for (const [index, position] of at.entries()) expect(position, commands[index]).toBeGreaterThan(0)
    expect(at).toEqual([...at].sort((a, b) => a - b))

    const output = steps()
    expect([...output.keys()]).toEqual([
      'rds:list',
      'alerts:run',
      'alerts:list',
      'rds:health',
      'sync:all',
      'status',
      'placement:explain',
      'tenant:create',
      'job:show',
      'rds:online',
      'job:retry',
      'alerts:silence',
      'alerts:history',
      'tenant:list',
      'tenant:show',
      'plan:list',
      'billing:report',
      'billing:explain',
      'billing:alerts',
      'user:find',
      'user:suspend',
      'user:reactivate',
      'password:check',
      'password:sync',
      'sync:ghost-users',
      'tenant:impersonate',
      'audit:list',
      'audit:verify',
    ])
    for (const name of RDS_NAMES) expect(output.get('rds:list'), name).toContain(name)
    expect(output.get('rds:health')).toMatch(/│ us-west-2\s+│ sqlite\s+│ down /)
    expect(output.get('rds:health')).toContain('(exit 4:')
    expect(output.get('sync:all')).toContain('(exit 3:')
    expect(output.get('status')).toContain('(exit 4:')
    // Placement: the draining and the down server excluded; the tenant created through its job; the failed job on the dead server, canceled.
    expect(output.get('placement:explain')).toMatch(/us-east-1 .*excluded: draining/)
    expect(output.get('placement:explain')).toMatch(/us-west-2 .*excluded: down/)
    expect(output.get('placement:explain')).toMatch(/ap-southeast-2 .*excluded: locked/)
    expect(output.get('tenant:create')).toMatch(/^created tenant "Harbor Bistro" on eu-(central|west)-1: /m)
    expect(tour.stderr).toMatch(/^\[10\/10\] done: done$/m)
    // The creation that failed while ap-southeast-2 was down: shown, the server put online, the job retried from its tenant step to done.
    expect(output.get('job:show')).toMatch(/^state: +failed$/m)
    expect(output.get('job:show')).toMatch(/ap-southeast-2/)
    expect(output.get('rds:online')).toMatch(/^RDS ap-southeast-2: locked → online$/m)
    expect(tour.stdout).toMatch(/^\$ raiops job:retry \d+$/m)
    expect(tour.stderr).toMatch(/^\[2\/10\] tenant: running \(attempt 2\)\n\[2\/10\] tenant: done\n/m)
    expect(tour.stderr).toMatch(/^job \d+ \(tenant\.create\) done$/m)
    expect(readSqlite(fleetFile(dir, 'ap-southeast-2'), "SELECT id FROM tenants WHERE name = 'Corner Cafe'")).toHaveLength(1)
    expect(tour.stdout.match(/^\(exit \d+/gm)).toEqual(['(exit 4', '(exit 3', '(exit 4', '(exit 4', '(exit 4', '(exit 3', '(exit 3'])
    expect(tour.stdout).not.toContain('not expected on the demo')
    // The least healthy tenants first, each with its score; one of them shown with its score signal by signal.
    const scores = [...(output.get('tenant:list') ?? '').matchAll(/^│ \d+ .*│ (\d+) +│/gm)].map((m) => Number(m[1]))
    expect(scores.length).toBe(8)
    expect(scores).toEqual([...scores].sort((a, b) => a - b))
    expect(output.get('tenant:show')).toMatch(/^Health score \d+\/100 \(from this read\)$/m)
    for (const signal of ['status', 'activeShare', 'users', 'locations', 'recency', 'rds', 'freshness'])
      expect(output.get('tenant:show')).toMatch(new RegExp(`│ ${signal} +│ [\\d.]+ / \\d+ +│`))
    // The demo's plans, each in its own currency, the yearly one normalised to a month.
    expect(output.get('plan:list')).toMatch(/│ starter\s+│ Starter\s+│ USD\s+│ month\s+│ 49\.00\s+│ 49\.00\s+│ 19\.00 per location over 1 /)
    expect(output.get('plan:list')).toMatch(/│ pro-yearly\s+│ Pro yearly\s+│ USD\s+│ year\s+│ 990\.00\s+│ 82\.50\s+│/)
    expect(output.get('plan:list')).toMatch(/│ eu-team\s+│ Team \(EU\)\s+│ EUR\s+│ quarter\s+│ 129\.00\s+│ 43\.00\s+│/)
    // The shared email: a user of at least three tenants on at least two servers.
    const found = [...(output.get('user:find') ?? '').matchAll(/^│ (eu-central-1|eu-west-1|us-east-1|us-west-2):\d+ /gm)].map((m) => m[1])
    expect(found.length).toBeGreaterThanOrEqual(3)
    expect(new Set(found).size).toBeGreaterThanOrEqual(2)
    expect(output.get('user:suspend')).toMatch(/users: id \d+ status active → suspended/)
    expect(output.get('user:suspend')).toMatch(/user_email_routing: id \d+ status active → suspended/)
    expect(output.get('user:reactivate')).toMatch(/users: id \d+ status suspended → active/)
    expect(output.get('audit:list')).toContain('user.suspend')
    // The drifted password found (two groups), then one hash copied to the tenant that differed: one user row, one routing entry.
    expect(output.get('password:check')).toMatch(/│ A \(\d+\) /)
    expect(output.get('password:check')).toMatch(/│ B \(\d+\) /)
    expect(output.get('password:sync')).toMatch(/^RDS \S+ users: changed \(1 row\)$/m)
    expect(output.get('password:sync')).toMatch(/^master \S+ user_email_routing: changed \(1 row\)$/m)
    expect(tour.stdout).not.toMatch(/\$2[aby]\$/)
    // Ghost users: created on the four readable RDS (ap-southeast-2 online again by then), then a second run (the output kept under the name) changing nothing.
    expect(tour.stdout).toMatch(/^ghost users \(1 operator\(s\), @raiops\.invalid\): partial · 4 RDS done, 1 failed · created [1-9]\d*, updated 0/m)
    expect(output.get('sync:ghost-users')).toMatch(/created 0, updated 0, pruned 0, [1-9]\d* unchanged · nothing changed/)
    // The link names the admin's ghost user on the tenant.
    const token = /token=([\w-]+\.([\w-]+)\.[\w-]+)/.exec(output.get('tenant:impersonate') ?? '')
    expect(JSON.parse(Buffer.from(token?.[2] ?? '', 'base64url').toString())).toMatchObject({ghost_user_id: expect.any(Number)})
    expect(output.get('tenant:impersonate')).toMatch(/^https:\/\/eu\.rai\.example\.com\/raiops\/impersonate\?token=\S+$/m)
    expect(output.get('audit:list')).toContain('tenant.impersonate')
    expect(output.get('audit:verify')).toMatch(/^intact: \d+ entries/m)
  })

  it('shows two years of billing: a report of its last months that fits a screen, every movement over the two years, one tenant explained, the alerts', async () => {
    const output = steps()
    const report = output.get('billing:report') ?? ''
    const args = /^\$ raiops billing:report --from (\d{4}-\d{2}-\d{2}) --to (\d{4}-\d{2}-\d{2}) --by month --currency USD$/m.exec(tour.stdout)
    expect(args).not.toBeNull()
    const [reportFrom, to] = [args![1], args![2]]
    const monthIndex = (day: string) => Number(day.slice(0, 4)) * 12 + Number(day.slice(5, 7)) - 1
    // The last 8 whole months of the history, ending where the build's month starts, on one screen.
    expect(reportFrom.slice(8)).toBe('01')
    expect(to.slice(8)).toBe('01')
    expect(monthIndex(to) - monthIndex(reportFrom)).toBe(8)
    expect(report.trimEnd().split('\n').length, report).toBeLessThanOrEqual(60)
    expect(report).toContain(`Revenue report ${reportFrom} to ${to} (exclusive) by month, only USD`)
    expect(report).toMatch(/^USD: MRR [\d,]+\.\d{2}, ARR/m)
    expect(report).not.toMatch(/^EUR: /m)
    expect(report).toContain('MRR (USD): start + new + expansion + reactivation - contraction - churn = end')
    expect(report).toContain('MRR at period end (USD)')
    expect(report.match(/^\d{4}-\d{2} #+ +[\d,]+\.\d{2}$/gm)).toHaveLength(8)

    const env = {...demoEnvironment(dir), RAIOPS_TOKEN: undefined, RAIOPS_MASTER_KEY: undefined}
    type Period = {period: string; mrrStartMinor: number; mrrEndMinor: number} & Record<
      `${'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation'}Minor`,
      number
    >
    type Parsed = {currencies: Array<{currency: string; periods: Period[]; movements: Array<{tenantId: number; type: string; cause: string}>}>}
    // Every movement type shows in the tour's months.
    const shown = await runCli(['billing:report', '--from', reportFrom, '--to', to, '--by', 'month', '--currency', 'USD', '--format', 'json'], {env})
    expect(shown.code, shown.stderr).toBe(0)
    const [usd] = (JSON.parse(shown.stdout) as Parsed).currencies
    for (const type of ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const)
      expect(
        usd.periods.some((p) => p[`${type}Minor`] > 0),
        type,
      ).toBe(true)

    // The two years as JSON: every movement type, the roll-forward exact in each currency and month.
    const from = `${Math.floor((monthIndex(to) - 24) / 12)}-${String(((monthIndex(to) - 24) % 12) + 1).padStart(2, '0')}-01`
    const json = await runCli(['billing:report', '--from', from, '--to', to, '--by', 'month', '--format', 'json'], {env})
    expect(json.code, json.stderr).toBe(0)
    const parsed = JSON.parse(json.stdout) as Parsed
    expect(parsed.currencies.map((c) => c.currency)).toEqual(['EUR', 'USD'])
    const totals = {new: 0, expansion: 0, contraction: 0, churn: 0, reactivation: 0}
    for (const currency of parsed.currencies) {
      expect(currency.periods).toHaveLength(24)
      for (const [index, p] of currency.periods.entries()) {
        expect(
          p.mrrStartMinor + p.newMinor + p.expansionMinor + p.reactivationMinor - p.contractionMinor - p.churnMinor,
          `${currency.currency} ${p.period}`,
        ).toBe(p.mrrEndMinor)
        if (index > 0) expect(p.mrrStartMinor).toBe(currency.periods[index - 1].mrrEndMinor)
        for (const type of Object.keys(totals) as Array<keyof typeof totals>) totals[type] += p[`${type}Minor`]
      }
    }
    for (const [type, total] of Object.entries(totals)) expect(total, type).toBeGreaterThan(0)
    // Reactivation in both currencies; a subscriber who stopped paying churned as delinquent.
    for (const currency of parsed.currencies)
      expect(
        currency.movements.some((m) => m.type === 'reactivation'),
        currency.currency,
      ).toBe(true)
    expect(parsed.currencies.flatMap((c) => c.movements).some((m) => m.type === 'churn' && m.cause === 'delinquency')).toBe(true)

    // The ledger: a failed payment, a change recorded after the date it took effect, tenant_billing as the ledger says now.
    const home = join(dir, 'home')
    expect(queryControlDb<{n: number}>(home, `SELECT COUNT(*) AS n FROM payments WHERE status = 'failed'`)[0].n).toBeGreaterThanOrEqual(2)
    expect(queryControlDb<{n: number}>(home, `SELECT COUNT(*) AS n FROM billing_events WHERE recorded_at > effective_at`)[0].n).toBeGreaterThanOrEqual(1)
    expect(queryControlDb<{status: string}>(home, 'SELECT DISTINCT status FROM tenant_billing ORDER BY status').map((r) => r.status)).toEqual([
      'active',
      'canceled',
      'past_due',
      'trialing',
    ])

    // The tenant explained: each movement type it went through, the backdated expansion last.
    const explain = output.get('billing:explain') ?? ''
    const moved = [...explain.matchAll(/^│ \d{4}-\d{2}-\d{2}T[\d:]+Z │ (new|expansion|contraction|churn|reactivation) +│/gm)].map((m) => m[1])
    expect(moved).toEqual(['new', 'expansion', 'contraction', 'churn', 'reactivation', 'expansion'])
    expect(explain).toMatch(/^USD: MRR [\d.]+ now \(paying\)$/m)

    // The alerts: exit 4, each kind the history leaves.
    const alerts = output.get('billing:alerts') ?? ''
    expect(alerts).toContain('(exit 4:')
    for (const kind of ['overdue', 'failed-payment', 'contraction', 'trial-ending']) expect(alerts, kind).toMatch(new RegExp(`^│ ${kind} +│`, 'm'))
  })

  /** Each step's command line and output, in the tour's order (a command run twice is there twice). */
  function stepList(): Array<{command: string; output: string}> {
    return tour.stdout
      .split(/^\$ raiops /m)
      .slice(1)
      .map((part) => {
        const [command, ...rest] = part.split('\n')
        return {command, output: rest.join('\n').split(/^─{20,}$/m)[0]}
      })
  }

  it('shows the alerts cron fired for the servers it found down, silences the one still down and sees the one back resolve', () => {
    const list = stepList()
    const index = (command: string, from = 0) => list.findIndex((step, i) => i >= from && step.command === command)
    const firstRun = index('alerts:run')
    const firstList = index('alerts:list')
    const health = index('rds:health')
    const retry = list.findIndex((step) => step.command.startsWith('job:retry '))
    const silence = list.findIndex((step) => step.command.startsWith('alerts:silence '))
    const secondRun = index('alerts:run', firstRun + 1)
    const all = index('alerts:list --rule rds-down --all')
    const history = index('alerts:history --rule rds-down')
    // Before the health check that sees ap-southeast-2 back; silenced, run and shown after the job's retry.
    expect([firstRun, firstList, health, retry, silence, secondRun, all, history]).toEqual(
      [firstRun, firstList, health, retry, silence, secondRun, all, history].sort((a, b) => a - b),
    )
    expect(firstRun).toBeGreaterThan(0)
    expect(firstList).toBe(firstRun + 1)
    expect(health).toBe(firstList + 1)

    // Cron's runs before the tour left rds-down firing for both servers its health checks found down.
    expect(list[firstRun].output).toMatch(/^evaluated \d+ rule\(s\) at \S+: [1-9]\d* firing/m)
    for (const rds of ['us-west-2', 'ap-southeast-2'])
      expect(list[firstList].output, rds).toMatch(new RegExp(`^│ \\d+ +│ firing +│ critical +│ rds-down +│ rds=${rds} +│`, 'm'))
    // The overview counts them.
    expect(stepList().find((step) => step.command === 'status')?.output).toMatch(/^Alerts +\[FAIL\] last run .*\b2 critical firing/m)

    expect(list[silence].command).toBe("alerts:silence --matcher rds=us-west-2 --reason 'us-west-2 is being restored from its backup' --for 2h")
    expect(list[silence].output).toMatch(/^silence \d+: rds=us-west-2 until \S+ \([1-9]\d* alert\(s\) match now\)$/m)
    // After the health check found ap-southeast-2 healthy: its alert resolves; us-west-2's fires on, muted.
    expect(list[secondRun].output).toContain('rds-down {alertname=rds-down,rds=ap-southeast-2,severity=critical}: firing → resolved')
    expect(list[secondRun].output).not.toMatch(/rds=us-west-2,severity=critical\}: firing → resolved/)
    expect(list[all].output).toMatch(/^│ \d+ +│ firing +│ critical +│ rds-down +│ rds=us-west-2 +│ [^│]+│ silence \d+ +│/m)
    expect(list[all].output).toMatch(/^│ \d+ +│ resolved +│ critical +│ rds-down +│ rds=ap-southeast-2 +│/m)
    for (const change of ['inactive → pending', 'pending → firing'])
      expect(list[history].output.match(new RegExp(`│ ${change} +│`, 'g')), change).toHaveLength(2)
    expect(list[history].output.match(/│ firing → resolved +│/g)).toHaveLength(1)

    // The control database: the instances as the tour left them, their changes in order, the silence.
    const home = join(dir, 'home')
    const instances = queryControlDb<{labels: string; state: string}>(
      home,
      "SELECT i.labels, i.state FROM alert_instances i JOIN alert_rules r ON r.id = i.rule_id WHERE r.name = 'rds-down' ORDER BY i.id",
    )
    expect(instances.map((i) => [JSON.parse(i.labels).rds, i.state])).toEqual([
      ['ap-southeast-2', 'resolved'],
      ['us-west-2', 'firing'],
    ])
    const transitions = queryControlDb<{labels: string; from_state: string; to_state: string; at: number | string}>(
      home,
      "SELECT t.labels, t.from_state, t.to_state, t.at FROM alert_transitions t JOIN alert_rules r ON r.id = t.rule_id WHERE r.name = 'rds-down' ORDER BY t.id",
    )
    const of = (rds: string) => transitions.filter((t) => JSON.parse(t.labels).rds === rds)
    expect(of('ap-southeast-2').map((t) => `${t.from_state} → ${t.to_state}`)).toEqual(['inactive → pending', 'pending → firing', 'firing → resolved'])
    expect(of('us-west-2').map((t) => `${t.from_state} → ${t.to_state}`)).toEqual(['inactive → pending', 'pending → firing'])
    // Firing once the rule's `for` (5 minutes) had passed since it went pending.
    const [pending, fired] = of('us-west-2').map((t) => new Date(t.at).getTime())
    expect(fired - pending).toBeGreaterThanOrEqual(5 * 60_000)
    const silences = queryControlDb<{matchers: string; reason: string}>(home, 'SELECT matchers, reason FROM alert_silences')
    expect(silences.map((row) => [JSON.parse(row.matchers), row.reason])).toEqual([[['rds=us-west-2'], 'us-west-2 is being restored from its backup']])
  })

  it("leaves the operator's own RAIOPS_HOME untouched", () => {
    expect(readdirSync(operatorHome)).toEqual([])
  })

  it('ends with lines to paste into a shell, which work there', async () => {
    const block = tour.stdout.split(/^Try next: paste these lines into your shell\.$/m)[1]
    expect(block).toBeDefined()
    const lines = block
      .split('\n')
      .filter((line) => line.startsWith('  '))
      .map((line) => line.trim())
    const exported = lines.find((line) => line.startsWith('export RAIOPS_HOME='))
    expect(exported).toBeDefined()
    const home = shellWords(exported!.slice('export '.length))[0].slice('RAIOPS_HOME='.length)
    expect(home).toBe(join(dir, 'home'))
    // The operator's shell has RAIOPS_DATABASE_URL set: the lines say to unset it.
    expect(lines).toContainEqual(expect.stringMatching(/^unset RAIOPS_DATABASE_URL\b/))
    const commands = lines.filter((line) => line.startsWith('raiops '))
    const show = commands.find((line) => line.startsWith('raiops rds:show '))
    const lookup = commands.find((line) => line.startsWith('raiops routing:lookup ') && line.endsWith(' --live'))
    expect(show).toBeDefined()
    expect(lookup).toBeDefined()

    const env = {
      RAIOPS_HOME: home,
      RAIOPS_DATABASE_URL: undefined,
      RAIOPS_MASTER_KEY: undefined,
      RAIOPS_MASTER_KEY_FILE: undefined,
      RAIOPS_TOKEN: undefined,
    }
    const [shown, looked] = await Promise.all([runCli(shellWords(show!).slice(1), {env}), runCli(shellWords(lookup!).slice(1), {env})])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^name:\s+eu-central-1$/m)
    expect(looked.code, looked.stderr).toBe(0)
    expect(looked.stdout).toContain('live from the master RDS')
    expect(looked.stdout).toContain('the cache matches the master')
  })

  it('run again, leaves the demo as it is and says how to use it', async () => {
    writeFileSync(join(dir, 'notes.txt'), 'mine\n')
    const marker = readFileSync(join(dir, DEMO_MARKER), 'utf8')
    expect(JSON.parse(marker)).toMatchObject({state: 'complete', size: 'small'})
    const home = join(dir, 'home')
    const before = controlCounts(home)
    const master = sqliteContents(fleetFile(dir, 'eu-central-1'))

    const again = await runCli(['demo', '--dir', dir])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`The raiops demo is already in ${dir}`)
    expect(again.stdout).not.toContain('$ raiops')
    expect(again.stdout).toContain(`export RAIOPS_HOME=${home}`)
    expect(again.stdout).toContain(`raiops demo --tour --dir ${dir}`)
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n')
    expect(readFileSync(join(dir, DEMO_MARKER), 'utf8')).toBe(marker)
    // Its session is good for 30 days: not even renewed.
    expect(controlCounts(home)).toEqual(before)
    expect(sqliteContents(fleetFile(dir, 'eu-central-1'))).toEqual(master)
  })

  it('toured again, runs every step as expected: the job shown done, the alert of the server back still resolved, the one still down still firing', async () => {
    const again = await runCli(['demo', '--tour', '--dir', dir], {env: {NO_COLOR: '1'}, timeoutMs: 120_000})
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).not.toContain('not expected on the demo')
    // The passwords made one by the first tour: password:check finds them in step (exit 0).
    expect(again.stdout.match(/^\(exit \d+/gm)).toEqual(['(exit 4', '(exit 3', '(exit 4', '(exit 4', '(exit 3', '(exit 3'])
    expect(again.stdout).not.toMatch(/^\$ raiops (rds:online|job:retry) /m)
    expect(again.stdout).toMatch(/^\$ raiops alerts:silence --matcher rds=us-west-2 /m)
    expect(again.stdout).not.toMatch(/: firing → resolved/)
    const home = join(dir, 'home')
    const instances = queryControlDb<{labels: string; state: string}>(
      home,
      "SELECT i.labels, i.state FROM alert_instances i JOIN alert_rules r ON r.id = i.rule_id WHERE r.name = 'rds-down' ORDER BY i.id",
    )
    expect(instances.map((i) => [JSON.parse(i.labels).rds, i.state])).toEqual([
      ['ap-southeast-2', 'resolved'],
      ['us-west-2', 'firing'],
    ])
  })

  it('--reset --quiet --json deletes the demo (only its own entries) and builds it again, and prints the demo and how to use it as one JSON document', async () => {
    const home = join(dir, 'home')
    const startedBefore = readMarkerFile(dir).startedAt
    const reset = await runCli(['demo', '--reset', '--quiet', '--json', '--dir', dir])
    expect(reset.code, reset.stderr).toBe(0)
    const output = JSON.parse(reset.stdout) as DemoOutput
    expect(output).toMatchObject({status: 'created', dir, home, size: 'small', seed: 2026, env: {RAIOPS_HOME: home}})
    expect(output.rds.map((r) => [r.name, r.master, r.state, r.missing])).toEqual([
      ['eu-central-1', true, 'online', false],
      ['eu-west-1', false, 'online', false],
      ['us-east-1', false, 'draining', false],
      ['us-west-2', false, 'online', true],
      ['ap-southeast-2', false, 'locked', false],
    ])
    expect(output.totals.tenants).toBe(output.rds.reduce((sum, r) => sum + r.tenants, 0))
    expect(output.totals.routing).toBe(output.totals.users)
    expect(output.sharedEmails.length).toBeGreaterThanOrEqual(2)
    expect(output.tryNext).toContain('raiops rds:show eu-central-1')
    expect(output.tryNext.every((line) => line.startsWith('raiops '))).toBe(true)

    // What is not the demo's own stays, and is named.
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n')
    expect(output.keptEntries).toEqual(['notes.txt'])
    expect(output.setup).toEqual([`export RAIOPS_HOME=${home}`, expect.stringMatching(/^alias raiops=/)])
    expect(readMarkerFile(dir)).toMatchObject({state: 'complete', size: 'small'})
    expect(readMarkerFile(dir).startedAt).not.toBe(startedBefore)
    // A new control database: no health check, sync or impersonation of the tour in it.
    expect(queryControlDb<{n: number}>(home, `SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'tenant.impersonate'`)[0].n).toBe(0)
    // The only health checks are the two of cron's the build plays before it started (5 RDS each), none of the tour's.
    const checks = queryControlDb<{checked_at: number | string}>(home, 'SELECT checked_at FROM health_checks')
    expect(checks).toHaveLength(10)
    const started = Date.parse(readMarkerFile(dir).startedAt)
    expect(checks.filter((c) => new Date(c.checked_at).getTime() >= started)).toEqual([])
    expect(queryControlDb<{n: number}>(home, "SELECT COUNT(*) AS n FROM alert_transitions WHERE to_state = 'resolved'")[0].n).toBe(0)
    expect(queryControlDb<{name: string}>(home, 'SELECT name FROM rds_instances ORDER BY id').map((r) => r.name)).toEqual(RDS_NAMES)
  })
})

// ---------------------------------------------------------------------------

describe('raiops demo: what it refuses or says besides', () => {
  it('pasted into an interactive bash, the lines to use the demo work, in a directory whose name has a space', async () => {
    const dir = join(tempDir(), 'my demo')
    const built = await runCli(['demo', '--quiet', '--dir', dir])
    expect(built.code, built.stderr).toBe(0)
    const block = built.stdout.split(/^Use the demo: paste these lines into your shell.*$/m)[1]
    const lines = block
      .split('\n')
      .filter((line) => line.startsWith('  '))
      .map((line) => line.trim())
      // The tour itself is tested above.
      .filter((line) => !line.startsWith('raiops demo '))
    expect(lines[0]).toBe(`export RAIOPS_HOME='${join(dir, 'home')}'`)
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('RAIOPS_')) env[key] = value
    delete env.NODE_ENV
    const shell = await new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
      const child = spawn('bash', ['--norc', '--noprofile', '-i'], {
        env: {...env, NO_COLOR: '1', HOME: tempDir()},
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('error', reject)
      child.on('close', (code) => resolve({code, stdout, stderr}))
      // Each line, then its exit code, as a person pasting them would see it.
      child.stdin.end(`${lines.map((line) => `${line}\necho "exit=$?"`).join('\n')}\nexit\n`)
    })
    expect(shell.stdout.match(/^exit=\d+$/gm)).toEqual(lines.map(() => 'exit=0'))
    expect(shell.stdout).toMatch(/^name:\s+eu-central-1$/m)
    expect(shell.stdout).toContain('live from the master RDS')
    expect(shell.stderr).not.toMatch(/command not found|Error:/)
  })

  it("refuses --dir with ~ the shell left unexpanded or control characters, --tour with --json, a size other than the demo's (exit 2); a build in progress is busy (exit 6)", async () => {
    const parent = tempDir()
    const refused = await Promise.all([
      runCli(['demo', '--dir=~/demo'], {cwd: parent}),
      runCli(['demo', '--dir', join(parent, 'a\u001b[31mb')]),
      runCli(['demo', '--tour', '--json', '--dir', join(parent, 'x')]),
    ])
    for (const result of refused) {
      expect(result.code, result.stdout + result.stderr).toBe(2)
      expect(result.stdout + result.stderr).not.toContain('\u001b[31m')
    }
    expect(refused[0].stderr).toContain('starts with ~')
    expect(refused[1].stderr).toContain('control characters')
    expect(readdirSync(parent)).toEqual([])

    const dir = join(parent, 'demo')
    expect((await buildDemo({dir, reset: false})).size).toBe('small')
    const other = await runCli(['demo', '--size', 'large', '--dir', dir])
    expect(other.code).toBe(2)
    expect(other.stderr).toContain(`raiops demo --reset --size large --dir ${dir}`)
    // Without --size, the demo keeps its own.
    expect((await buildDemo({dir, reset: false})).status).toBe('exists')

    // Another process building right now: the marker names it, and it is alive.
    const marker = JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as Record<string, unknown>
    const sleeper = spawn('sleep', ['30'])
    try {
      writeFileSync(join(dir, DEMO_MARKER), JSON.stringify({...marker, state: 'building', builder: {host: hostname(), pid: sleeper.pid}}))
      const busy = await runCli(['demo', '--reset', '--dir', dir])
      expect(busy.code).toBe(6)
      expect(busy.stderr).toContain(`being built in ${dir} right now (process ${sleeper.pid})`)
      expect(existsSync(join(dir, 'home', 'raiops.sqlite'))).toBe(true)
    } finally {
      sleeper.kill('SIGKILL')
    }
  })

  it('a demo whose control database was removed by hand is called damaged, with the way back', async () => {
    const dir = join(tempDir(), 'demo')
    await buildDemo({dir, reset: false})
    rmSync(join(dir, 'home', 'raiops.sqlite'))
    const damaged = await runCli(['demo', '--dir', dir])
    expect(damaged.code).toBe(2)
    expect(damaged.stderr).toContain(`the demo in ${dir} is damaged`)
    expect(damaged.stderr).toContain(`raiops demo --reset --dir ${dir}`)
  })
})
