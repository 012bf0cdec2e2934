import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {HEALTH_CHECKS_TABLE} from '../../src/lib/db/tables.js'
import {toIso, toNumberOrNull} from '../../src/lib/db/values.js'
import {NotFoundError} from '../../src/lib/errors/index.js'
import type {HealthProbe} from '../../src/lib/health/probe.js'
import {assessHealth, DEFAULT_MAX_CONNECTIONS_RATIO, isAtOrBelow, type HealthThresholds} from '../../src/lib/health/rules.js'
import {healthHistory, recordHealth, runHealth, type RdsHealthResult} from '../../src/lib/rds/health.js'
import {addRds, editRds} from '../../src/lib/rds/service.js'
import type {HealthStatus} from '../../src/lib/rds/types.js'
import type {RdsFields} from '../../src/lib/rds/validation.js'
import {makeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type ControlEngineName, type TestControlDb} from '../support/control-db.js'
import {type FaultMode, type FaultProxy, startFaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createMysqlUser, createTestDatabase, createTestDir} from '../support/servers.js'

/**
 * The upper bounds on elapsed time below are hang checks, not benchmarks: each is
 * the time the behaviour should take plus this margin, so a slow, loaded CI
 * machine cannot fail them, and each stays well below the time the broken
 * behaviour would take (a longer timeout, or forever).
 */
const HANG_MARGIN_MS = 3000
/** Deadlines and thresholds for the probes meant to be healthy: far from anything a loaded machine reaches. */
const GENEROUS = {timeoutMs: 15_000, slowMs: 5000}

type Ctx = ReturnType<typeof makeContext>

let mysqlRai: RaiFixture
let pgRai: RaiFixture
let sqliteRai: RaiFixture

/** Undone after each test, last first: proxies, contexts (registries), control databases, extra databases. */
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  const small = {tenants: 2, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 1}
  ;[mysqlRai, pgRai, sqliteRai] = await Promise.all([
    createRaiFixture({engine: 'mysql', ...small}),
    createRaiFixture({engine: 'postgres', ...small}),
    createRaiFixture({engine: 'sqlite', ...small}),
  ])
})

afterAll(async () => {
  await Promise.all([mysqlRai?.drop(), pgRai?.drop(), sqliteRai?.drop()])
})

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function controlContext(engine: ControlEngineName = 'sqlite', options: {connectTimeoutMs?: number} = {}): Promise<{control: TestControlDb; ctx: Ctx}> {
  const control = await createControlDb(engine)
  cleanups.push(() => control.drop())
  const ctx = makeContext(control.db, options)
  cleanups.push(() => ctx.close())
  return {control, ctx}
}

async function fixture(options: Parameters<typeof createRaiFixture>[0]): Promise<RaiFixture> {
  const created = await createRaiFixture({tenants: 1, usersPerTenant: 1, locationsPerTenant: 1, ...options})
  cleanups.push(() => created.drop())
  return created
}

async function proxyTo(target: RaiFixture, mode: FaultMode = 'pass'): Promise<FaultProxy> {
  const proxy = await startFaultProxy({targetHost: target.host ?? '127.0.0.1', targetPort: target.port ?? 0, mode})
  cleanups.push(() => proxy.close())
  return proxy
}

function fieldsFor(target: RaiFixture, name: string, overrides: Partial<RdsFields> = {}): RdsFields {
  return {
    name,
    engine: target.engine,
    host: target.host,
    port: target.port,
    username: target.user,
    password: target.password || null,
    raiDatabase: target.database,
    ...overrides,
  }
}

/** Registers an RDS without testing its connection; returns its id. */
async function register(ctx: Ctx, fields: RdsFields): Promise<number> {
  const {rds} = await addRds(ctx, {...fields, test: false})
  return rds.id
}

async function timed<T>(fn: () => Promise<T>): Promise<{value: T; ms: number}> {
  const started = performance.now()
  const value = await fn()
  return {value, ms: performance.now() - started}
}

function byName(results: readonly RdsHealthResult[], name: string): RdsHealthResult {
  const found = results.find((r) => r.name === name)
  if (!found) throw new Error(`no result named ${name} in ${results.map((r) => r.name).join(', ')}`)
  return found
}

interface StoredCheck {
  id: number
  rds_instance_id: number
  status: string
  latency_ms: unknown
  details: string
  checked_at: unknown
}

async function storedChecks(db: Knex, rdsId?: number): Promise<StoredCheck[]> {
  const query = db(HEALTH_CHECKS_TABLE).orderBy('id')
  if (rdsId !== undefined) query.where({rds_instance_id: rdsId})
  return (await query) as StoredCheck[]
}

/** The registry row and the latest health_checks row of the result's RDS hold exactly what the run returned. */
async function expectStored(db: Knex, result: RdsHealthResult): Promise<void> {
  const row = (await db('rds_instances').where({id: result.id}).first())!
  expect(row.health_status).toBe(result.status)
  expect(toNumberOrNull(row.health_latency_ms)).toBe(result.latencyMs)
  expect(row.health_error).toBe(result.reasons.length > 0 ? result.reasons.join('; ') : null)
  expect(toIso(row.health_checked_at)).toBe(result.checkedAt)

  const checks = await storedChecks(db, result.id)
  const last = checks.at(-1)
  expect(last, `a health_checks row for ${result.name}`).toBeDefined()
  expect(last?.status).toBe(result.status)
  expect(toNumberOrNull(last?.latency_ms)).toBe(result.latencyMs)
  expect(toIso(last?.checked_at)).toBe(result.checkedAt)
  expect(JSON.parse(last?.details ?? 'null')).toEqual({
    reasons: result.reasons,
    serverVersion: result.serverVersion,
    connectionsUsedRatio: result.connectionsUsedRatio,
    checks: result.checks,
  })
}

function outcomes(result: RdsHealthResult): Record<string, string> {
  return Object.fromEntries(result.checks.map((c) => [c.name, c.outcome]))
}

describe.each(CONTROL_ENGINES)('runHealth with a %s control database', (engine) => {
  it('MariaDB, PostgreSQL and SQLite RAI databases in one run: all healthy, stored on the registry and in health_checks', async () => {
    const {control, ctx} = await controlContext(engine)
    const ids = {
      maria: await register(ctx, fieldsFor(mysqlRai, 'maria')),
      pg: await register(ctx, fieldsFor(pgRai, 'pg')),
      lite: await register(ctx, fieldsFor(sqliteRai, 'lite')),
    }
    const seen: Array<[string, number, number]> = []
    const report = await runHealth(ctx, {...GENEROUS, onResult: (result, done, total) => seen.push([result.name, done, total])})

    expect(report.counts).toEqual({healthy: 3, degraded: 0, down: 0})
    expect(report.results.map((r) => [r.id, r.name, r.engine, r.status])).toEqual([
      [ids.maria, 'maria', 'mysql', 'healthy'],
      [ids.pg, 'pg', 'postgres', 'healthy'],
      [ids.lite, 'lite', 'sqlite', 'healthy'],
    ])
    expect(report).toMatchObject({timeoutMs: GENEROUS.timeoutMs, slowMs: GENEROUS.slowMs})
    expect(seen.map(([, done, total]) => [done, total])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ])
    expect(seen.map(([name]) => name).sort()).toEqual(['lite', 'maria', 'pg'])

    const maria = byName(report.results, 'maria')
    const pg = byName(report.results, 'pg')
    const lite = byName(report.results, 'lite')
    expect(maria.serverVersion).toMatch(/mariadb/i)
    expect(pg.serverVersion).toMatch(/^\d+(\.\d+)?/)
    expect(lite.serverVersion).toMatch(/^3\.\d+\.\d+$/)
    for (const result of [maria, pg]) {
      expect(result.reasons).toEqual([])
      expect(result.latencyMs).toBeTypeOf('number')
      expect(result.latencyMs).toBeGreaterThanOrEqual(0)
      expect(result.checks.map((c) => c.name)).toEqual(['connect', 'latency', 'schema', 'connections'])
      expect(outcomes(result)).toEqual({connect: 'ok', latency: 'ok', schema: 'ok', connections: 'ok'})
      expect(result.checks.find((c) => c.name === 'schema')?.value).toEqual([])
      expect(result.checks.find((c) => c.name === 'connect')?.value).toBe(result.serverVersion)
      // at least this probe's own connection is in use, and far from the limit
      expect(result.connectionsUsedRatio).toBeGreaterThan(0)
      expect(result.connectionsUsedRatio).toBeLessThanOrEqual(DEFAULT_MAX_CONNECTIONS_RATIO)
      expect(result.checks.find((c) => c.name === 'connections')?.value).toBe(result.connectionsUsedRatio)
    }
    expect(lite.reasons).toEqual([])
    expect(lite.latencyMs).toBeTypeOf('number')
    expect(lite.connectionsUsedRatio).toBeNull()
    expect(lite.checks.map((c) => c.name)).toEqual(['connect', 'latency', 'schema'])
    expect(outcomes(lite)).toEqual({connect: 'ok', latency: 'ok', schema: 'ok'})
    for (const result of report.results) {
      expect(result.checks.every((c) => c.reason === null)).toBe(true)
      expect(result.isMaster).toBe(false)
      expect(result.state).toBe('online')
    }
    expect(maria.port).toBe(mysqlRai.port)
    expect(lite.host).toBeNull()

    const checks = await storedChecks(control.db)
    expect(checks).toHaveLength(3)
    expect(checks.map((c) => Number(c.rds_instance_id)).sort()).toEqual(Object.values(ids).sort())
    for (const result of report.results) await expectStored(control.db, result)
  })
})

describe('runHealth: down', () => {
  it('refused, blackholed, wrong password, missing SQLite file and unreadable secret: each down with its cause, never a password', async () => {
    const {control, ctx} = await controlContext()
    const refused = await proxyTo(mysqlRai, 'refuse')
    const silent = await proxyTo(mysqlRai, 'blackhole')
    const user = await createMysqlUser(mysqlRai.database)
    cleanups.push(() => user.drop())
    const wrongPassword = `${user.password}-wrong`
    const dir = createTestDir('raiops-health-')
    cleanups.push(async () => dir.drop())
    const missingFile = join(dir.path, 'nope', 'missing.sqlite')

    await register(ctx, fieldsFor(mysqlRai, 'refused', {port: refused.port}))
    await register(ctx, fieldsFor(mysqlRai, 'silent', {port: silent.port}))
    const wrongId = await register(ctx, fieldsFor(mysqlRai, 'wrongpw', {username: user.user, password: wrongPassword}))
    await register(ctx, fieldsFor(sqliteRai, 'nofile', {raiDatabase: missingFile}))
    const movedId = await register(ctx, fieldsFor(mysqlRai, 'moved', {username: user.user, password: user.password}))
    await register(ctx, fieldsFor(mysqlRai, 'fine'))
    // a secret moved from another row cannot be decrypted: only that RDS fails
    const {password_enc: wrongSecret} = (await control.db('rds_instances').where({id: wrongId}).first('password_enc'))!
    await control.db('rds_instances').where({id: movedId}).update({password_enc: wrongSecret})

    const timeoutMs = 1500
    const {value: report, ms} = await timed(() => runHealth(ctx, {timeoutMs, slowMs: GENEROUS.slowMs}))
    // the silent one costs its deadline, not the 2 s connect timeout nor forever
    expect(ms).toBeLessThan(timeoutMs + HANG_MARGIN_MS)
    expect(report.counts).toEqual({healthy: 1, degraded: 0, down: 5})
    expect(byName(report.results, 'fine').status).toBe('healthy')

    const expected: Record<string, RegExp> = {
      refused: /connection refused/,
      silent: /timed out after 1500 ms connecting/,
      wrongpw: /access denied/i,
      nofile: /cannot open the SQLite file/,
      moved: /cannot decrypt/,
    }
    for (const [name, cause] of Object.entries(expected)) {
      const result = byName(report.results, name)
      expect(result.status, name).toBe('down')
      expect(result.reasons, name).toHaveLength(1)
      expect(result.reasons[0], name).toMatch(cause)
      expect(result.checks, name).toEqual([{name: 'connect', outcome: 'down', value: null, reason: result.reasons[0]}])
      expect(result.latencyMs, name).toBeNull()
      expect(result.serverVersion, name).toBeNull()
      expect(result.connectionsUsedRatio, name).toBeNull()
      await expectStored(control.db, result)
    }
    expect(byName(report.results, 'nofile').reasons[0]).toContain(missingFile)

    const everything =
      JSON.stringify(report) + JSON.stringify(await control.db('rds_instances').select('health_error')) + JSON.stringify(await storedChecks(control.db))
    expect(everything).not.toContain(user.password)
    expect(everything).not.toContain(wrongPassword)
    expect(await storedChecks(control.db)).toHaveLength(6)
  })

  it('PostgreSQL refused and blackholed: down, refused and timed out', async () => {
    const {control, ctx} = await controlContext()
    const refused = await proxyTo(pgRai, 'refuse')
    const silent = await proxyTo(pgRai, 'blackhole')
    await register(ctx, fieldsFor(pgRai, 'pg-refused', {port: refused.port}))
    await register(ctx, fieldsFor(pgRai, 'pg-silent', {port: silent.port}))
    const timeoutMs = 1500
    const {value: report, ms} = await timed(() => runHealth(ctx, {timeoutMs, slowMs: GENEROUS.slowMs}))
    expect(ms).toBeLessThan(timeoutMs + HANG_MARGIN_MS)
    expect(report.counts).toEqual({healthy: 0, degraded: 0, down: 2})
    expect(byName(report.results, 'pg-refused').reasons).toEqual([expect.stringMatching(/connection refused/)])
    expect(byName(report.results, 'pg-silent').reasons).toEqual([expect.stringMatching(/timed out/)])
    for (const result of report.results) await expectStored(control.db, result)
  })

  it('a server that goes silent after a healthy run: down within the deadline, timed out', async () => {
    const {control, ctx} = await controlContext()
    const proxy = await proxyTo(mysqlRai)
    await register(ctx, fieldsFor(mysqlRai, 'stalls', {port: proxy.port}))
    const first = await runHealth(ctx, GENEROUS)
    expect(first.results[0].status).toBe('healthy')

    // the pooled connection stays open, the server stops answering
    await proxy.setMode('blackhole')
    const timeoutMs = 1500
    const {value: report, ms} = await timed(() => runHealth(ctx, {timeoutMs, slowMs: GENEROUS.slowMs}))
    expect(ms).toBeLessThan(timeoutMs + HANG_MARGIN_MS)
    const [result] = report.results
    expect(result.status).toBe('down')
    expect(result.reasons).toEqual([expect.stringMatching(/timed out/)])
    expect(result.checks.find((c) => c.outcome === 'down')?.reason).toBe(result.reasons[0])
    await expectStored(control.db, result)
  })
})

describe('runHealth: degraded', () => {
  it('a slow link: degraded, naming the slow SELECT 1', async () => {
    const {control, ctx} = await controlContext()
    // each chunk waits 100 ms each way: a round trip takes at least 200 ms
    const proxy = await proxyTo(mysqlRai, {delayMs: 100})
    await register(ctx, fieldsFor(mysqlRai, 'slow', {port: proxy.port}))
    const slowMs = 20
    const report = await runHealth(ctx, {timeoutMs: 30_000, slowMs})
    const [result] = report.results
    expect(result.status).toBe('degraded')
    expect(result.latencyMs).toBeGreaterThan(slowMs)
    expect(result.reasons).toEqual([`slow: SELECT 1 took ${Math.round(result.latencyMs ?? 0)} ms (over ${slowMs} ms)`])
    expect(outcomes(result)).toEqual({connect: 'ok', latency: 'degraded', schema: 'ok', connections: 'ok'})
    expect(result.checks.find((c) => c.name === 'latency')?.value).toBe(result.latencyMs)
    expect(report.counts).toEqual({healthy: 0, degraded: 1, down: 0})
    await expectStored(control.db, result)
  })

  it('missing RAI tables: degraded naming locations, and user_email_routing on the master', async () => {
    const noLocations = await fixture({engine: 'mysql', omitTables: ['locations']})
    const masterFixture = await fixture({engine: 'sqlite', master: true})

    const one = await controlContext()
    await register(one.ctx, fieldsFor(noLocations, 'no-locations'))
    await register(one.ctx, fieldsFor(mysqlRai, 'master-without-routing', {master: true}))
    const first = await runHealth(one.ctx, GENEROUS)
    const noLoc = byName(first.results, 'no-locations')
    expect(noLoc.status).toBe('degraded')
    expect(noLoc.reasons).toEqual(['missing table locations in the RAI database'])
    expect(noLoc.checks.find((c) => c.name === 'schema')).toMatchObject({outcome: 'degraded', value: ['locations']})
    const master = byName(first.results, 'master-without-routing')
    expect(master.isMaster).toBe(true)
    expect(master.status).toBe('degraded')
    expect(master.reasons).toEqual(['missing table user_email_routing in the RAI database'])
    expect(master.checks.find((c) => c.name === 'schema')).toMatchObject({outcome: 'degraded', value: ['user_email_routing']})
    for (const result of first.results) await expectStored(one.control.db, result)

    const two = await controlContext()
    await register(two.ctx, fieldsFor(noLocations, 'master-broken', {master: true}))
    await register(two.ctx, fieldsFor(masterFixture, 'plain-on-master-db'))
    const second = await runHealth(two.ctx, GENEROUS)
    const broken = byName(second.results, 'master-broken')
    expect(broken.status).toBe('degraded')
    expect(broken.reasons).toEqual(['missing tables locations, user_email_routing in the RAI database'])
    // extra tables are fine
    expect(byName(second.results, 'plain-on-master-db').status).toBe('healthy')

    const three = await controlContext()
    await register(three.ctx, fieldsFor(masterFixture, 'master-complete', {master: true}))
    const third = await runHealth(three.ctx, GENEROUS)
    expect(third.results[0]).toMatchObject({isMaster: true, status: 'healthy', reasons: []})
    expect(third.results[0].checks.find((c) => c.name === 'schema')).toMatchObject({outcome: 'ok', value: []})
  })

  it('providers database: missing or not usable is degraded naming it, an existing one is ok', async () => {
    const {control, ctx} = await controlContext()
    const [mysqlProviders, pgProviders] = await Promise.all([createTestDatabase('mysql', 'prov'), createTestDatabase('postgres', 'prov')])
    cleanups.push(
      () => mysqlProviders.drop(),
      () => pgProviders.drop(),
    )
    const user = await createMysqlUser(mysqlRai.database)
    cleanups.push(() => user.drop())
    const missing = `prov_missing_${randomBytes(4).toString('hex')}`

    await register(ctx, fieldsFor(mysqlRai, 'my-missing', {providersDatabase: missing}))
    await register(ctx, fieldsFor(mysqlRai, 'my-present', {providersDatabase: mysqlProviders.name}))
    // the database exists, but this user holds no right in it
    await register(ctx, fieldsFor(mysqlRai, 'my-no-rights', {username: user.user, password: user.password, providersDatabase: mysqlProviders.name}))
    await register(ctx, fieldsFor(pgRai, 'pg-missing', {providersDatabase: missing}))
    await register(ctx, fieldsFor(pgRai, 'pg-present', {providersDatabase: pgProviders.name}))

    const report = await runHealth(ctx, GENEROUS)
    expect(report.counts).toEqual({healthy: 2, degraded: 3, down: 0})
    for (const name of ['my-missing', 'pg-missing']) {
      const result = byName(report.results, name)
      expect(result.status, name).toBe('degraded')
      expect(result.reasons, name).toEqual([`providers database "${missing}" does not exist or this user may not use it`])
      expect(
        result.checks.find((c) => c.name === 'providers'),
        name,
      ).toMatchObject({outcome: 'degraded', value: missing})
      expect(outcomes(result), name).toMatchObject({connect: 'ok', latency: 'ok', schema: 'ok', connections: 'ok'})
    }
    const noRights = byName(report.results, 'my-no-rights')
    expect(noRights.status).toBe('degraded')
    expect(noRights.reasons).toEqual([`providers database "${mysqlProviders.name}" does not exist or this user may not use it`])
    expect(JSON.stringify(noRights)).not.toContain(user.password)

    for (const [name, database] of [
      ['my-present', mysqlProviders.name],
      ['pg-present', pgProviders.name],
    ]) {
      const result = byName(report.results, name)
      expect(result.status, name).toBe('healthy')
      expect(
        result.checks.map((c) => c.name),
        name,
      ).toEqual(['connect', 'latency', 'schema', 'providers', 'connections'])
      expect(
        result.checks.find((c) => c.name === 'providers'),
        name,
      ).toEqual({name: 'providers', outcome: 'ok', value: database, reason: null})
    }
    for (const result of report.results) await expectStored(control.db, result)
  })
})

describe('runHealth: many servers', () => {
  it('20 RDS of which 5 blackholed: returns within the deadline, 5 down and 15 healthy, all stored', async () => {
    // a connect timeout far longer than the deadline: what ends the silent ones is the probe's deadline
    const {control, ctx} = await controlContext('sqlite', {connectTimeoutMs: 15_000})
    const silent = await Promise.all(Array.from({length: 5}, () => proxyTo(mysqlRai, 'blackhole')))
    const silentNames: string[] = []
    for (let i = 0; i < 20; i++) {
      if (i % 4 === 3) {
        const name = `silent-${i}`
        silentNames.push(name)
        await register(ctx, fieldsFor(mysqlRai, name, {port: silent[silentNames.length - 1].port}))
      } else {
        await register(ctx, fieldsFor(mysqlRai, `up-${i}`))
      }
    }
    const timeoutMs = 2000
    const {value: report, ms} = await timed(() => runHealth(ctx, {timeoutMs, slowMs: timeoutMs}))
    expect(ms).toBeLessThan(timeoutMs + HANG_MARGIN_MS)
    expect(report.results).toHaveLength(20)
    expect(report.counts).toEqual({healthy: 15, degraded: 0, down: 5})
    expect(report.results.filter((r) => r.status === 'down').map((r) => r.name)).toEqual(silentNames)
    for (const result of report.results) {
      if (silentNames.includes(result.name)) expect(result.reasons).toEqual([expect.stringMatching(/timed out after 2000 ms connecting/)])
      else expect(result).toMatchObject({status: 'healthy', reasons: [], serverVersion: expect.stringMatching(/mariadb/i)})
    }
    // each silent proxy was reached: the probes did try them
    for (const proxy of silent) expect(proxy.accepted).toBeGreaterThan(0)

    expect(await storedChecks(control.db)).toHaveLength(20)
    for (const result of report.results) await expectStored(control.db, result)
  })
})

describe('runHealth: which RDS', () => {
  it('refs name any RDS, inactive ones too; without refs only active ones; an unknown ref throws NotFoundError and stores nothing', async () => {
    const {control, ctx} = await controlContext()
    const activeId = await register(ctx, fieldsFor(sqliteRai, 'active-one'))
    const inactiveId = await register(ctx, fieldsFor(mysqlRai, 'resting'))
    await editRds(ctx, {ref: 'resting', changes: {active: false}, test: false})

    const all = await runHealth(ctx, GENEROUS)
    expect(all.results.map((r) => r.id)).toEqual([activeId])
    expect((await control.db('rds_instances').where({id: inactiveId}).first())!.health_status).toBe('unknown')

    const named = await runHealth(ctx, {...GENEROUS, refs: ['resting']})
    expect(named.results.map((r) => [r.id, r.name, r.status])).toEqual([[inactiveId, 'resting', 'healthy']])
    await expectStored(control.db, named.results[0])

    // by id, by name, repeated: each RDS once, in the order named
    const both = await runHealth(ctx, {...GENEROUS, refs: [String(inactiveId), 'active-one', 'resting']})
    expect(both.results.map((r) => r.id)).toEqual([inactiveId, activeId])

    const before = (await storedChecks(control.db)).length
    expect(before).toBe(4)
    await expect(runHealth(ctx, {...GENEROUS, refs: ['active-one', 'no-such-rds']})).rejects.toThrow(NotFoundError)
    await expect(runHealth(ctx, {...GENEROUS, refs: ['9999']})).rejects.toThrow(/no RDS with id "9999"/)
    expect(await storedChecks(control.db)).toHaveLength(before)
  })

  it('an empty registry: an empty report, nothing stored', async () => {
    const {control, ctx} = await controlContext()
    const report = await runHealth(ctx, GENEROUS)
    expect(report.results).toEqual([])
    expect(report.counts).toEqual({healthy: 0, degraded: 0, down: 0})
    expect(await storedChecks(control.db)).toEqual([])
  })
})

describe('health history and retention', () => {
  it('three runs, one down: checks oldest first, uptime 2/3, latency stats, window and points', async () => {
    const {ctx} = await controlContext()
    const proxy = await proxyTo(mysqlRai)
    const id = await register(ctx, fieldsFor(mysqlRai, 'flaky', {port: proxy.port}))
    const steady = await register(ctx, fieldsFor(sqliteRai, 'steady'))
    const never = await register(ctx, fieldsFor(sqliteRai, 'never-checked'))
    await editRds(ctx, {ref: 'never-checked', changes: {active: false}, test: false})

    const t0 = Date.parse('2031-03-01T10:00:00.000Z')
    let clock = t0
    ctx.now = () => new Date(clock)
    const run = async (at: number) => {
      clock = at
      return runHealth(ctx, GENEROUS)
    }
    const first = await run(t0)
    await proxy.setMode('refuse')
    const second = await run(t0 + 60_000)
    await proxy.setMode('pass')
    const third = await run(t0 + 120_000)
    const flaky = (report: typeof first) => byName(report.results, 'flaky')
    expect([first, second, third].map((r) => flaky(r).status)).toEqual(['healthy', 'down', 'healthy'])
    // the pooled connection of the first run was cut: the probe finds it closed, or the port refusing a new one
    expect(flaky(second).reasons).toEqual([expect.stringMatching(/connection refused|the server closed the connection/)])

    clock = t0 + 180_000
    const history = await healthHistory(ctx, {windowMs: 3_600_000})
    expect(history.until).toBe(new Date(t0 + 180_000).toISOString())
    expect(history.since).toBe(new Date(t0 + 180_000 - 3_600_000).toISOString())
    expect(history.rds.map((r) => r.id)).toEqual([id, steady, never])

    const latencies = [flaky(first).latencyMs, flaky(third).latencyMs] as number[]
    expect(latencies.every((v) => typeof v === 'number')).toBe(true)
    const flakyHistory = history.rds[0]
    expect(flakyHistory).toEqual({
      id,
      name: 'flaky',
      status: 'healthy',
      checks: [
        {checkedAt: new Date(t0).toISOString(), status: 'healthy', latencyMs: latencies[0]},
        {checkedAt: new Date(t0 + 60_000).toISOString(), status: 'down', latencyMs: null},
        {checkedAt: new Date(t0 + 120_000).toISOString(), status: 'healthy', latencyMs: latencies[1]},
      ],
      total: 3,
      up: 2,
      uptime: 2 / 3,
      latency: {
        min: Math.min(...latencies),
        avg: Math.round(((latencies[0] + latencies[1]) / 2) * 100) / 100,
        max: Math.max(...latencies),
      },
    })
    expect(history.rds[1]).toMatchObject({id: steady, status: 'healthy', total: 3, up: 3, uptime: 1})
    expect(history.rds[2]).toEqual({
      id: never,
      name: 'never-checked',
      status: 'unknown',
      checks: [],
      total: 0,
      up: 0,
      uptime: null,
      latency: null,
    })

    // the most recent points only, counts over the whole window
    const last = await healthHistory(ctx, {refs: ['flaky'], windowMs: 3_600_000, points: 2})
    expect(last.rds).toHaveLength(1)
    expect(last.rds[0].checks.map((c) => c.status)).toEqual(['down', 'healthy'])
    expect(last.rds[0]).toMatchObject({total: 3, up: 2})

    // a window that starts after the first run
    const recent = await healthHistory(ctx, {refs: [String(id)], windowMs: 150_000})
    expect(recent.rds[0].checks.map((c) => c.checkedAt)).toEqual([new Date(t0 + 60_000).toISOString(), new Date(t0 + 120_000).toISOString()])
    expect(recent.rds[0]).toMatchObject({total: 2, up: 1, uptime: 0.5, latency: {min: latencies[1], avg: latencies[1], max: latencies[1]}})

    await expect(healthHistory(ctx, {refs: ['nope'], windowMs: 1000})).rejects.toThrow(NotFoundError)
  })

  it('a run deletes checks older than keepMs, and only those', async () => {
    const {control, ctx} = await controlContext()
    const id = await register(ctx, fieldsFor(sqliteRai, 'kept'))
    const now = Date.parse('2031-06-01T00:00:00.000Z')
    ctx.now = () => new Date(now)
    const keepMs = 86_400_000
    const old = {rds_instance_id: id, status: 'healthy' as const, latency_ms: 1, details: '{}'}
    await control.db(HEALTH_CHECKS_TABLE).insert([
      {...old, checked_at: new Date(now - keepMs - 3_600_000)},
      {...old, status: 'down', latency_ms: null, checked_at: new Date(now - keepMs + 3_600_000)},
    ])
    expect(await storedChecks(control.db, id)).toHaveLength(2)

    const report = await runHealth(ctx, {...GENEROUS, keepMs})
    const checks = await storedChecks(control.db, id)
    expect(checks.map((c) => [toIso(c.checked_at), c.status])).toEqual([
      [new Date(now - keepMs + 3_600_000).toISOString(), 'down'],
      [new Date(now).toISOString(), report.results[0].status],
    ])

    // without keepMs, 30 days are kept
    const month = 30 * 86_400_000
    await control.db(HEALTH_CHECKS_TABLE).insert([
      {...old, checked_at: new Date(now - month - 60_000)},
      {...old, checked_at: new Date(now - month + 60_000)},
    ])
    await runHealth(ctx, GENEROUS)
    const after = (await storedChecks(control.db, id)).map((c) => toIso(c.checked_at))
    expect(after).not.toContain(new Date(now - month - 60_000).toISOString())
    expect(after).toContain(new Date(now - month + 60_000).toISOString())
    expect(after).toHaveLength(4)
  })

  it('recordHealth skips an RDS removed meanwhile and stores the rest', async () => {
    const {control, ctx} = await controlContext()
    const id = await register(ctx, fieldsFor(sqliteRai, 'present'))
    const report = await runHealth(ctx, {...GENEROUS, keepMs: 1000})
    const present = report.results[0]
    const now = new Date(Date.parse(present.checkedAt) + 1000)
    const gone: RdsHealthResult = {...present, id: id + 100, name: 'gone', status: 'down', reasons: ['gone'], checkedAt: now.toISOString()}
    await recordHealth({db: control.db, now: () => now}, {results: [gone, {...present, checkedAt: now.toISOString()}], keepMs: 86_400_000})
    const checks = await storedChecks(control.db)
    expect(checks.map((c) => Number(c.rds_instance_id))).toEqual([id, id])
    expect(toIso((await control.db('rds_instances').where({id}).first())!.health_checked_at)).toBe(now.toISOString())
  })
})

describe('assessHealth and isAtOrBelow (the status rules)', () => {
  const thresholds: HealthThresholds = {slowMs: 250, maxConnectionsRatio: 0.9}
  const healthyProbe = (overrides: Partial<HealthProbe> = {}): HealthProbe => ({
    serverVersion: '10.11.0-MariaDB',
    latencyMs: 1.5,
    connected: true,
    failure: null,
    schema: {required: ['tenants', 'users', 'locations'], missing: []},
    providers: null,
    connections: {used: 50, max: 100},
    ...overrides,
  })

  it('connection usage: 50/100 healthy, 95/100 degraded naming the usage, max 0 skipped', () => {
    const fine = assessHealth(healthyProbe(), thresholds)
    expect(fine).toEqual({
      status: 'healthy',
      reasons: [],
      checks: [
        {name: 'connect', outcome: 'ok', value: '10.11.0-MariaDB', reason: null},
        {name: 'latency', outcome: 'ok', value: 1.5, reason: null},
        {name: 'schema', outcome: 'ok', value: [], reason: null},
        {name: 'connections', outcome: 'ok', value: 0.5, reason: null},
      ],
    })

    const busy = assessHealth(healthyProbe({connections: {used: 95, max: 100}}), thresholds)
    expect(busy.status).toBe('degraded')
    expect(busy.reasons).toEqual(['connections 95/100 in use (over 90 %)'])
    expect(busy.checks.find((c) => c.name === 'connections')).toEqual({
      name: 'connections',
      outcome: 'degraded',
      value: 0.95,
      reason: busy.reasons[0],
    })

    // exactly at the ratio is not over it
    expect(assessHealth(healthyProbe({connections: {used: 90, max: 100}}), thresholds).status).toBe('healthy')
    expect(assessHealth(healthyProbe({connections: {used: 95, max: 100}}), {...thresholds, maxConnectionsRatio: 0.96}).status).toBe('healthy')

    const unlimited = assessHealth(healthyProbe({connections: {used: 5, max: 0}}), thresholds)
    expect(unlimited.status).toBe('healthy')
    expect(unlimited.checks.find((c) => c.name === 'connections')).toMatchObject({outcome: 'skipped', value: null})

    const unreadable = assessHealth(healthyProbe({connections: {error: 'permission denied'}}), thresholds)
    expect(unreadable).toMatchObject({status: 'degraded', reasons: ['connection usage unreadable: permission denied']})
  })

  it('latency, schema and providers rules', () => {
    const slow = assessHealth(healthyProbe({latencyMs: 312.4}), thresholds)
    expect(slow).toMatchObject({status: 'degraded', reasons: ['slow: SELECT 1 took 312 ms (over 250 ms)']})
    expect(assessHealth(healthyProbe({latencyMs: 250}), thresholds).status).toBe('healthy')
    expect(assessHealth(healthyProbe({latencyMs: 3.25}), {...thresholds, slowMs: 2}).reasons).toEqual(['slow: SELECT 1 took 3.3 ms (over 2 ms)'])

    const schemaError = assessHealth(healthyProbe({schema: {error: 'no rights'}}), thresholds)
    expect(schemaError).toMatchObject({status: 'degraded', reasons: ['schema check failed: no rights']})

    const providers = assessHealth(
      healthyProbe({providers: {name: 'prov', ok: false, error: 'providers database "prov" does not exist or this user may not use it'}}),
      thresholds,
    )
    expect(providers).toMatchObject({status: 'degraded', reasons: ['providers database "prov" does not exist or this user may not use it']})
    expect(assessHealth(healthyProbe({providers: {name: 'prov', ok: true}}), thresholds).checks.find((c) => c.name === 'providers')).toEqual({
      name: 'providers',
      outcome: 'ok',
      value: 'prov',
      reason: null,
    })

    // several reasons at once, in check order
    const several = assessHealth(
      healthyProbe({
        latencyMs: 400,
        schema: {required: ['tenants', 'users', 'locations'], missing: ['users', 'locations']},
        connections: {used: 99, max: 100},
      }),
      thresholds,
    )
    expect(several.status).toBe('degraded')
    expect(several.reasons).toEqual([
      'slow: SELECT 1 took 400 ms (over 250 ms)',
      'missing tables users, locations in the RAI database',
      'connections 99/100 in use (over 90 %)',
    ])
  })

  it('down: no connection, or a step cut short after connecting', () => {
    const never = assessHealth(
      {
        serverVersion: null,
        latencyMs: null,
        connected: false,
        failure: {step: 'connect', error: 'connection refused', timedOut: false},
        schema: null,
        providers: null,
        connections: null,
      },
      thresholds,
    )
    expect(never).toEqual({
      status: 'down',
      reasons: ['connection refused'],
      checks: [{name: 'connect', outcome: 'down', value: null, reason: 'connection refused'}],
    })

    const noAnswer = assessHealth(
      healthyProbe({
        latencyMs: null,
        failure: {step: 'latency', error: 'timed out after 100 ms in the latency check', timedOut: true},
        schema: null,
        connections: null,
      }),
      thresholds,
    )
    expect(noAnswer.status).toBe('down')
    expect(noAnswer.reasons).toEqual(['timed out after 100 ms in the latency check'])

    // cut short in a later step: that step is down, the earlier ones keep their outcome
    const cut = assessHealth(
      healthyProbe({failure: {step: 'connections', error: 'timed out in the connections check', timedOut: true}, connections: null}),
      thresholds,
    )
    expect(cut.status).toBe('down')
    expect(cut.reasons).toEqual(['timed out in the connections check'])
    expect(cut.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['connect', 'ok'],
      ['latency', 'ok'],
      ['schema', 'ok'],
      ['connections', 'down'],
    ])

    // down wins over degraded, and both reasons are given
    const both = assessHealth(
      healthyProbe({
        latencyMs: 900,
        failure: {step: 'schema', error: 'timed out in the schema check', timedOut: true},
        schema: null,
        connections: null,
      }),
      thresholds,
    )
    expect(both.status).toBe('down')
    expect(both.reasons).toEqual(['slow: SELECT 1 took 900 ms (over 250 ms)', 'timed out in the schema check'])
  })

  it('isAtOrBelow: the matrix of statuses and thresholds', () => {
    const statuses: HealthStatus[] = ['healthy', 'degraded', 'unknown', 'down']
    const matrix = Object.fromEntries(
      (['down', 'degraded', 'healthy', 'never'] as const).map((threshold) => [threshold, statuses.filter((status) => isAtOrBelow(status, threshold))]),
    )
    expect(matrix).toEqual({
      down: ['down'],
      degraded: ['degraded', 'unknown', 'down'],
      healthy: ['healthy', 'degraded', 'unknown', 'down'],
      never: [],
    })
  })
})
