import Database from 'better-sqlite3'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {acquireTimeoutFor, knexConfigFor} from '../../src/lib/db/knex-config.js'
import {ConnectionRegistry} from '../../src/lib/db/registry.js'
import {UserError} from '../../src/lib/errors/index.js'
import {fanOut, inShard, parseShard} from '../../src/lib/fleet/fan-out.js'
import {testConnection} from '../../src/lib/fleet/probe.js'
import type {RdsConnectionSpec} from '../../src/lib/rds/types.js'
import {type FaultProxy, startFaultProxy} from '../support/fault-proxy.js'
import {createMysqlUser, createTestDatabase, createTestDir, type TestDatabase, type TestDir} from '../support/servers.js'

const CONNECT_TIMEOUT_MS = 1000
/**
 * The upper bounds on elapsed time below are hang checks, not benchmarks (speed
 * is proven in bench/): each is the time the behaviour should take plus this
 * margin, so a slow, loaded CI machine cannot fail them, and each stays well
 * below the time the broken behaviour would take (a longer timeout, or forever).
 */
const HANG_MARGIN_MS = 3000

let mysqlDb: TestDatabase
let pgDb: TestDatabase
let dir: TestDir
let sqliteFile: string
const proxies: FaultProxy[] = []
const registries: ConnectionRegistry[] = []

beforeAll(async () => {
  ;[mysqlDb, pgDb] = await Promise.all([createTestDatabase('mysql'), createTestDatabase('postgres')])
  dir = createTestDir()
  sqliteFile = join(dir.path, 'rai.sqlite')
  const file = new Database(sqliteFile)
  file.exec('CREATE TABLE t (x INTEGER)')
  file.close()
})

afterAll(async () => {
  await Promise.all([mysqlDb?.drop(), pgDb?.drop()])
  dir?.drop()
})

afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.destroyAll({timeoutMs: 2000})))
  await Promise.all(proxies.splice(0).map((p) => p.close()))
})

function registry(options: Partial<ConstructorParameters<typeof ConnectionRegistry>[0]> = {}): ConnectionRegistry {
  const created = new ConnectionRegistry({connectTimeoutMs: CONNECT_TIMEOUT_MS, queryTimeoutMs: 5000, ...options})
  registries.push(created)
  return created
}

async function proxyTo(db: TestDatabase, mode: Parameters<FaultProxy['setMode']>[0] = 'pass'): Promise<FaultProxy> {
  const proxy = await startFaultProxy({targetHost: db.host, targetPort: db.port, mode})
  proxies.push(proxy)
  return proxy
}

let nextId = 1000

function specFor(db: TestDatabase, overrides: Partial<RdsConnectionSpec> = {}): RdsConnectionSpec {
  const id = nextId++
  return {
    id,
    name: `rds-${id}`,
    engine: db.engine,
    host: db.host,
    port: db.port,
    username: db.user,
    password: db.password || null,
    database: db.name,
    ...overrides,
  }
}

function sqliteSpec(file: string): RdsConnectionSpec {
  const id = nextId++
  return {id, name: `rds-${id}`, engine: 'sqlite', host: null, port: null, username: null, password: null, database: file}
}

async function timed<T>(fn: () => Promise<T>): Promise<{value: T; ms: number}> {
  const started = performance.now()
  const value = await fn()
  return {value, ms: performance.now() - started}
}

describe('knexConfigFor', () => {
  const options = {connectTimeoutMs: 5000, queryTimeoutMs: 30_000}

  it('mysql: mysql2, utf8mb4, UTC, small pool, acquire timeout above the connect timeout', () => {
    const spec: RdsConnectionSpec = {
      id: 1,
      name: 'one',
      engine: 'mysql',
      host: '127.0.0.1',
      port: 3306,
      username: 'u',
      password: 'p',
      database: 'rai',
    }
    const config = knexConfigFor(spec, options)
    expect(config.client).toBe('mysql2')
    expect(config.connection).toMatchObject({charset: 'utf8mb4', timezone: 'Z', connectTimeout: 5000, database: 'rai'})
    expect(config.pool).toMatchObject({min: 0, max: 2})
    expect(config.pool?.afterCreate).toBeTypeOf('function')
    expect(config.acquireConnectionTimeout).toBeGreaterThan(5000)
    expect(acquireTimeoutFor(options)).toBe(config.acquireConnectionTimeout)
    expect(knexConfigFor(specFor(mysqlDb), {...options, poolMax: 4}).pool?.max).toBe(4)
  })

  it('postgres: pg with connect, statement and query timeouts', () => {
    const config = knexConfigFor(specFor(pgDb), options)
    expect(config.client).toBe('pg')
    expect(config.connection).toMatchObject({connectionTimeoutMillis: 5000, statement_timeout: 30_000})
    expect((config.connection as {query_timeout: number}).query_timeout).toBeGreaterThanOrEqual(30_000)
  })

  it('sqlite: better-sqlite3 on the file, null as default', () => {
    const config = knexConfigFor(sqliteSpec(sqliteFile), options)
    expect(config.client).toBe('better-sqlite3')
    expect(config.useNullAsDefault).toBe(true)
    expect(config.pool).toMatchObject({min: 0, max: 1})
  })
})

describe('testConnection', () => {
  it('MariaDB: ok, with the server version and a latency', async () => {
    const result = await testConnection(registry(), specFor(mysqlDb), {deadlineMs: 5000})
    expect(result).toMatchObject({ok: true, serverVersion: expect.stringMatching(/mariadb/i)})
    if (result.ok) expect(result.latencyMs).toBeGreaterThanOrEqual(0)
  })

  it('PostgreSQL: ok', async () => {
    const result = await testConnection(registry(), specFor(pgDb), {deadlineMs: 5000})
    expect(result).toMatchObject({ok: true, serverVersion: expect.stringMatching(/^\d+/)})
  })

  it('SQLite file: ok', async () => {
    const result = await testConnection(registry(), sqliteSpec(sqliteFile), {deadlineMs: 5000})
    expect(result).toMatchObject({ok: true, serverVersion: expect.stringMatching(/^3\.\d+/)})
  })

  it('a missing SQLite file is a clear error, and no file gets created', async () => {
    const missing = join(dir.path, 'nope', 'missing.sqlite')
    const result = await testConnection(registry(), sqliteSpec(missing), {deadlineMs: 5000})
    expect(result.ok).toBe(false)
    if (!result.ok) {
      expect(result.error).toMatch(/cannot open the SQLite file/)
      expect(result.error).toContain(missing)
    }
    expect(existsSync(missing)).toBe(false)
  })

  it('refused port: says refused, at once', async () => {
    const proxy = await proxyTo(mysqlDb, 'refuse')
    const {value, ms} = await timed(() => testConnection(registry(), specFor(mysqlDb, {port: proxy.port}), {deadlineMs: 5000}))
    expect(value).toMatchObject({ok: false, error: expect.stringMatching(/refused/)})
    // at once: not after the 5 s deadline
    expect(ms).toBeLessThan(HANG_MARGIN_MS)
  })

  it('refused PostgreSQL port: says refused', async () => {
    const proxy = await proxyTo(pgDb, 'refuse')
    const result = await testConnection(registry(), specFor(pgDb, {port: proxy.port}), {deadlineMs: 5000})
    expect(result).toMatchObject({ok: false, error: expect.stringMatching(/refused/)})
  })

  it('blackholed MariaDB: says timed out after about the connect timeout, and a fan-out returns within its deadline', async () => {
    const proxy = await proxyTo(mysqlDb, 'blackhole')
    const reg = registry()
    // a deadline far beyond the connect timeout: what ends the attempt is the connect timeout
    const {value, ms} = await timed(() => testConnection(reg, specFor(mysqlDb, {port: proxy.port}), {deadlineMs: 10_000}))
    expect(value).toMatchObject({ok: false, error: expect.stringMatching(/timed out/)})
    expect(value.ok ? 0 : value.error).not.toMatch(/pool is probably full/)
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50)
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS + HANG_MARGIN_MS)

    const deadlineMs = 3000
    const specs = [specFor(mysqlDb), specFor(mysqlDb, {port: proxy.port}), specFor(pgDb)]
    const fan = await timed(() => fanOut(specs, (spec, signal) => testConnection(reg, spec, {deadlineMs: 5000, signal}), {concurrency: 3, deadlineMs}))
    expect(fan.ms).toBeLessThan(deadlineMs + HANG_MARGIN_MS)
    expect(fan.value.map((r) => r.ok && r.value.ok)).toEqual([true, false, true])
    const silent = fan.value[1]
    expect(silent.ok && !silent.value.ok && silent.value.error).toMatch(/timed out/)
  })

  it('blackholed PostgreSQL: says timed out', async () => {
    const proxy = await proxyTo(pgDb, 'blackhole')
    const {value, ms} = await timed(() => testConnection(registry(), specFor(pgDb, {port: proxy.port}), {deadlineMs: 10_000}))
    expect(value).toMatchObject({ok: false, error: expect.stringMatching(/timed out/)})
    expect(ms).toBeLessThan(CONNECT_TIMEOUT_MS + HANG_MARGIN_MS)
  })

  it('the probe deadline wins over a longer connect timeout', async () => {
    const proxy = await proxyTo(mysqlDb, 'blackhole')
    const reg = registry({connectTimeoutMs: 10_000})
    const {value, ms} = await timed(() => testConnection(reg, specFor(mysqlDb, {port: proxy.port}), {deadlineMs: 800}))
    expect(value).toMatchObject({ok: false, timedOut: true, error: expect.stringMatching(/timed out after 800 ms/)})
    expect(ms).toBeLessThan(800 + HANG_MARGIN_MS)
    const report = await reg.destroyAll({timeoutMs: 500})
    expect(report.unfinished).toHaveLength(1)
  })

  it('wrong password: says access denied and shows neither password', async () => {
    const user = await createMysqlUser(mysqlDb.name)
    try {
      const wrong = `${user.password}-wrong`
      const result = await testConnection(registry(), specFor(mysqlDb, {username: user.user, password: wrong}), {deadlineMs: 5000})
      expect(result).toMatchObject({ok: false, error: expect.stringMatching(/access denied/i)})
      const error = result.ok ? '' : result.error
      expect(error).not.toContain(user.password)
      expect(error).not.toContain(wrong)
      // and the right one works
      const right = await testConnection(registry(), specFor(mysqlDb, {username: user.user, password: user.password}), {deadlineMs: 5000})
      expect(right.ok).toBe(true)
    } finally {
      await user.drop()
    }
  })

  it('a slow link (delay mode) still works, with a latency of at least the delay', async () => {
    const proxy = await proxyTo(mysqlDb, {delayMs: 200})
    const result = await testConnection(registry(), specFor(mysqlDb, {port: proxy.port}), {deadlineMs: 10_000})
    expect(result).toMatchObject({ok: true})
    if (result.ok) expect(result.latencyMs).toBeGreaterThanOrEqual(200)
  })
})

describe('statement caps', () => {
  it('MariaDB: max_statement_time stops a long statement on the server', async () => {
    const reg = registry({queryTimeoutMs: 1000})
    const db = await reg.get(specFor(mysqlDb))
    const [rows] = (await db.raw('SELECT @@SESSION.max_statement_time AS cap')) as unknown as [Array<{cap: number}>]
    expect(Number(rows[0].cap)).toBe(1)
    const {ms} = await timed(async () => {
      // uncapped, the statement would run 20 s
      await expect(db.raw('SELECT SLEEP(20)')).rejects.toThrow(/max_statement_time/)
    })
    expect(ms).toBeLessThan(1000 + HANG_MARGIN_MS)
  })

  it('PostgreSQL: statement_timeout stops a long statement on the server', async () => {
    const db = await registry({queryTimeoutMs: 1000}).get(specFor(pgDb))
    await expect(db.raw('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/)
  })
})

describe('fanOut', () => {
  it('20 RDS of which 5 blackholed: 15 ok and 5 timed out, within the deadline, in input order', async () => {
    const proxy = await proxyTo(mysqlDb, 'blackhole')
    // A connect timeout far longer than the deadline: the fan-out deadline is what ends the silent ones.
    const reg = registry({connectTimeoutMs: 15_000})
    const specs = Array.from({length: 20}, (_, i) => {
      if (i % 4 === 3) return specFor(mysqlDb, {port: proxy.port})
      return i % 2 === 0 ? specFor(mysqlDb) : specFor(pgDb)
    })
    const deadlineMs = 2000
    const {value: results, ms} = await timed(() =>
      fanOut(specs, (spec) => reg.query(spec, async (db) => db.raw('SELECT 1').timeout(10_000)), {concurrency: 20, deadlineMs}),
    )
    expect(ms).toBeLessThan(deadlineMs + HANG_MARGIN_MS)
    expect(results.map((r) => r.item)).toEqual(specs)
    expect(results.filter((r) => r.ok)).toHaveLength(15)
    const timedOut = results.filter((r) => !r.ok && r.timedOut)
    expect(timedOut.map((r) => r.item.port)).toEqual([proxy.port, proxy.port, proxy.port, proxy.port, proxy.port])
    for (const r of timedOut) if (!r.ok) expect(r.error).toMatch(/timed out after 2000 ms/)

    // destroyAll against the silent servers returns within its timeout and names them
    const destroy = await timed(() => reg.destroyAll({timeoutMs: 1000}))
    expect(destroy.ms).toBeLessThan(1000 + HANG_MARGIN_MS)
    expect(destroy.value.unfinished.map((r) => r.id).sort()).toEqual(timedOut.map((r) => r.item.id).sort())
    expect(destroy.value.destroyed).toHaveLength(15)
  })

  it('frees a slot at the deadline: 5 silent items with concurrency 4 cost about 2 deadlines', async () => {
    const aborted: number[] = []
    const {value: results, ms} = await timed(() =>
      fanOut(
        [1, 2, 3, 4, 5],
        (n, signal) =>
          new Promise<never>(() => {
            signal.addEventListener('abort', () => aborted.push(n))
          }),
        {concurrency: 4, deadlineMs: 600},
      ),
    )
    expect(ms).toBeGreaterThanOrEqual(1150)
    expect(ms).toBeLessThan(2 * 600 + HANG_MARGIN_MS)
    expect(results.every((r) => !r.ok && r.timedOut)).toBe(true)
    expect(aborted.sort()).toEqual([1, 2, 3, 4, 5])
  })

  it('reports failures without throwing, keeps order, bounds concurrency', async () => {
    let running = 0
    let peak = 0
    const seen: number[] = []
    const results = await fanOut(
      [5, 1, 4, 2, 3, 0],
      async (n) => {
        running++
        peak = Math.max(peak, running)
        await new Promise((resolve) => setTimeout(resolve, n * 20))
        running--
        if (n === 4) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED', address: '127.0.0.1', port: 1})
        if (n === 0) throw new Error('boom')
        return n * 10
      },
      {concurrency: 2, deadlineMs: 5000, onResult: (result) => seen.push(result.item)},
    )
    expect(peak).toBe(2)
    expect(results.map((r) => r.item)).toEqual([5, 1, 4, 2, 3, 0])
    expect(results.map((r) => (r.ok ? r.value : r.error))).toEqual([50, 10, expect.stringMatching(/refused/), 20, 30, 'boom'])
    expect(results.every((r) => r.ok || !r.timedOut)).toBe(true)
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('an empty list and a synchronous throw are fine', async () => {
    expect(await fanOut([], async () => 1, {concurrency: 3, deadlineMs: 100})).toEqual([])
    const [result] = await fanOut(
      [1],
      () => {
        throw new Error('sync')
      },
      {concurrency: 1, deadlineMs: 100},
    )
    expect(result).toMatchObject({ok: false, error: 'sync', timedOut: false})
  })

  it('rejects a nonsensical concurrency or deadline', async () => {
    await expect(fanOut([1], async () => 1, {concurrency: 0, deadlineMs: 100})).rejects.toThrow(UserError)
    await expect(fanOut([1], async () => 1, {concurrency: 1, deadlineMs: 0})).rejects.toThrow(UserError)
  })
})

describe('shards', () => {
  it('parses K/N and rejects the rest with one clear line', () => {
    expect(parseShard('1/4')).toEqual({index: 1, count: 4})
    expect(parseShard(' 3 / 3 ')).toEqual({index: 3, count: 3})
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3', '-1/2', '']) {
      expect(() => parseShard(bad)).toThrow(UserError)
    }
    expect(() => parseShard('5/4')).toThrow(/K must be between 1 and 4/)
    expect(() => parseShard('x')).toThrow(/expected K\/N/)
  })

  it('deals every id to exactly one shard, ids 1…N to shards 1…N', () => {
    const shards = [1, 2, 3].map((k) => parseShard(`${k}/3`))
    for (let id = 1; id <= 30; id++) expect(shards.filter((s) => inShard(id, s))).toHaveLength(1)
    expect([1, 2, 3].map((id) => shards.findIndex((s) => inShard(id, s)) + 1)).toEqual([1, 2, 3])
    expect(inShard(7, parseShard('1/1'))).toBe(true)
  })
})

describe('ConnectionRegistry', () => {
  it('one instance per RDS; rebuilt after destroyAll and when the spec changes', async () => {
    const reg = registry()
    const spec = specFor(mysqlDb)
    const first = await reg.get(spec)
    expect(await reg.get(spec)).toBe(first)
    expect(reg.has(spec.id)).toBe(true)
    const other = await reg.get(specFor(pgDb))
    expect(other).not.toBe(first)
    expect(reg.size).toBe(2)

    const report = await reg.destroyAll({timeoutMs: 2000})
    expect(report.unfinished).toEqual([])
    expect(report.destroyed.map((r) => r.id).sort()).toEqual([spec.id, spec.id + 1].sort())
    expect(reg.size).toBe(0)

    const rebuilt = await reg.get(spec)
    expect(rebuilt).not.toBe(first)
    expect(await reg.query(spec, async (db) => (await db.raw('SELECT 2 AS two'))[0][0].two)).toBe(2)

    const changed = await reg.get({...spec, database: 'mysql'})
    expect(changed).not.toBe(rebuilt)
    expect(reg.size).toBe(1)
  })

  it('destroyAll cuts a query hung on a silent server and returns within its timeout', async () => {
    const proxy = await proxyTo(mysqlDb)
    const reg = registry()
    const db = await reg.get(specFor(mysqlDb, {port: proxy.port}))
    await db.raw('SELECT 1')
    await proxy.setMode('blackhole')
    // no .timeout(): this one would wait forever
    const hung = db.raw('SELECT 1').then(
      () => 'answered',
      (error: Error) => error.message,
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    const {value: report, ms} = await timed(() => reg.destroyAll({timeoutMs: 800}))
    expect(ms).toBeLessThan(800 + HANG_MARGIN_MS)
    expect(report.unfinished).toHaveLength(1)
    expect(await hung).toMatch(/abandoned|closed|lost/i)
  })
})

describe('process exit', () => {
  const fixture = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'fleet-exit.ts')
  const root = fileURLToPath(new URL('../..', import.meta.url))

  interface ChildRun {
    code: number | null
    signal: NodeJS.Signals | null
    /** From the moment the child starts its fan-out to its exit. */
    ms: number
    stdout: string
    stderr: string
    result: Record<string, unknown> | null
  }

  /** Runs the fixture; kills it (and fails) if it is still alive after `limitMs`. */
  function runChild(args: string[], limitMs: number, onReady?: (child: ReturnType<typeof spawn>) => void): Promise<ChildRun> {
    return new Promise((resolve, reject) => {
      const started = performance.now()
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {cwd: root, stdio: ['pipe', 'pipe', 'pipe']})
      let stdout = ''
      let stderr = ''
      let readyAt = 0
      let fanOutAt = 0
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (!readyAt && stdout.includes('READY\n')) {
          readyAt = performance.now()
          onReady?.(child)
        }
        if (!fanOutAt && stdout.includes('FAN-OUT\n')) fanOutAt = performance.now()
      })
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      const killer = setTimeout(() => child.kill('SIGKILL'), limitMs)
      child.on('error', reject)
      child.on('close', (code, signal) => {
        clearTimeout(killer)
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
        resolve({
          code,
          signal,
          ms: performance.now() - (fanOutAt || started),
          stdout,
          stderr,
          result: line ? (JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>) : null,
        })
      })
    })
  }

  it('importing the fleet modules does not load knex or a driver', async () => {
    const run = await runChild(['import-only'], 20_000)
    expect(run.stderr).toBe('')
    expect(run.result).toEqual({knexLoaded: false})
  })

  it('a fan-out against a blackholed server, then destroyAll: the process exits by itself', async () => {
    const proxy = await proxyTo(mysqlDb, 'blackhole')
    const deadlineMs = 1500
    // a hang check, not a benchmark: the bounds are generous. The fixture's connects
    // would end by themselves only after its 20 s connect timeout.
    const run = await runChild(['connect-hang', String(proxy.port), String(deadlineMs)], deadlineMs + 15_000)
    expect(run.signal, run.stderr).toBeNull()
    expect(run.code, run.stderr).toBe(0)
    expect(run.result).toMatchObject({timedOut: 3, unfinished: 3})
    expect(run.result?.fanOutMs as number).toBeLessThan(deadlineMs + HANG_MARGIN_MS)
    expect(run.result?.destroyMs as number).toBeLessThan(1000 + HANG_MARGIN_MS)
    // fan-out, destroyAll (1 s timeout), then the process ends; a second margin for its exit
    expect(run.ms).toBeLessThan(deadlineMs + 1000 + 2 * HANG_MARGIN_MS)
  })

  it('queries hung on a server that went silent, then destroyAll: the process exits by itself', async () => {
    const proxy = await proxyTo(mysqlDb)
    const deadlineMs = 1500
    const run = await runChild(['query-hang', String(proxy.port), String(deadlineMs)], 30_000, (child) => {
      void proxy.setMode('blackhole').then(() => child.stdin?.write('go\n'))
    })
    expect(run.signal, run.stderr).toBeNull()
    expect(run.code, run.stderr).toBe(0)
    expect(run.result).toMatchObject({timedOut: 3, unfinished: 3})
    expect(run.ms).toBeLessThan(deadlineMs + 1000 + 2 * HANG_MARGIN_MS)
  })
})
