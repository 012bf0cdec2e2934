// `user:find EMAIL --live` for an email with a user on 10 tenants across 10
// MariaDB RDS (10 fixture databases of 200 tenants × 20 users on the local
// server, each behind its own fault proxy adding a different delay, 5 to 50 ms
// each way, so their round trips differ), the routing cache filled by the real
// syncs, the control database on the same MariaDB. The figure is the service
// call in this process (what the command runs between parse and print) with
// warm connections: every RDS's pool already holds a connection from a first
// run, as the floor's do. The floor, measured in the same run on the same
// connections: the slowest single RDS round trip (the very statement user:find
// sent to it, replayed alone through its proxy) plus the start-up of the
// command (the routing-cache lookup it sent to the control database, replayed).
// Also reports the statements each RDS received per run (must be 1).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run bench:user-find [-- --runs 15]
import type {Knex} from 'knex'

import {getRds} from '../src/lib/rds/repository.js'
import {addRds, connectionSpecFor} from '../src/lib/rds/service.js'
import {runRoutingSync, runTenantSync} from '../src/lib/sync/index.js'
import {findUser} from '../src/lib/user/find.js'
import {makeContext} from '../test/support/context.js'
import {createControlDb} from '../test/support/control-db.js'
import {startFaultProxy} from '../test/support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {createMysqlUser} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 15)
const INSTANCES = 10
const TENANTS = 200
const USERS = 20
const EMAIL = 'pat.everywhere@example.com'
const GOAL = 1.3

const log = benchLog('user-find')
cleanUpOnSignals(log)

const sqlTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')

async function withDirect<T>(fixture: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> {
  const db = await fixture.knex()
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

try {
  log(`building ${INSTANCES} RAI databases of ${TENANTS} tenants × ${USERS} users`)
  const fixtures: RaiFixture[] = []
  for (let i = 0; i < INSTANCES; i += 2) {
    const built = await Promise.all(
      [i, i + 1].map((k) =>
        createRaiFixture({
          engine: 'mysql',
          master: k === 0,
          tenants: TENANTS,
          usersPerTenant: USERS,
          ghostUsersPerTenant: 1,
          locationsPerTenant: 1,
          seed: k + 1,
        }),
      ),
    )
    for (const f of built) cleanups.push(() => f.drop())
    fixtures.push(...built)
  }
  const control = await createControlDb('mysql')
  cleanups.push(() => control.drop())
  const ctx = makeContext(control.db, {connectTimeoutMs: 5000, queryTimeoutMs: 30_000})
  cleanups.push(() => ctx.close())

  const delays = fixtures.map((_, k) => 5 * (k + 1))
  const ids: number[] = []
  for (const [k, fixture] of fixtures.entries()) {
    const user = await createMysqlUser(fixture.database)
    cleanups.push(() => user.drop())
    const proxy = await startFaultProxy({targetHost: fixture.host ?? '127.0.0.1', targetPort: fixture.port ?? 0, mode: {delayMs: delays[k]}})
    cleanups.push(() => proxy.close())
    const {rds} = await addRds(ctx, {
      name: `rds-${k + 1}`,
      engine: 'mysql',
      host: proxy.host,
      port: proxy.port,
      username: user.user,
      password: user.password,
      raiDatabase: fixture.database,
      master: k === 0,
      test: false,
    })
    ids.push(rds.id)
  }

  // The person: a user on tenant k+1 of RDS k, and a routing entry for each on the master.
  const now = sqlTime(Date.now() - 60_000)
  const placed: Array<{rds: number; tenant: number; user: number}> = []
  for (const [k, fixture] of fixtures.entries()) {
    const id = await withDirect(fixture, async (db) => {
      const next = Number((await db('users').max({m: 'id'}))[0].m) + 1
      await db('users').insert({
        id: next,
        tenant_id: k + 1,
        name: 'Pat Everywhere',
        email: EMAIL,
        password: '$2y$04$x',
        status: 'active',
        is_ghost: false,
        created_at: now,
        updated_at: now,
      })
      return next
    })
    placed.push({rds: ids[k], tenant: k + 1, user: id})
  }
  await withDirect(fixtures[0], async (db) => {
    await db('user_email_routing').update({rds_instance_id: ids[0]})
    let id = Number((await db('user_email_routing').max({m: 'id'}))[0].m)
    for (const p of placed)
      await db('user_email_routing').insert({
        id: ++id,
        email: EMAIL,
        tenant_id: p.tenant,
        rds_instance_id: p.rds,
        user_id: p.user,
        status: 'active',
        created_at: now,
        updated_at: now,
      })
  })
  log('syncing tenants and routing')
  const tenants = await runTenantSync(ctx, {maxAgeMs: 0, force: true, concurrency: 10, deadlineMs: 120_000})
  if (tenants.status !== 'ok') throw new Error(`tenant sync ${tenants.status}`)
  const routing = await runRoutingSync(ctx, {mode: 'full'})
  if (routing.status !== 'ok') throw new Error(`routing sync ${routing.status}: ${routing.error}`)

  // Every statement each RDS and the control database receive, from knex's query events.
  const statements = new Map<string, Array<{sql: string; bindings: readonly unknown[]}>>()
  const listen = (name: string, db: Knex) =>
    db.on('query', (q: {sql: string; bindings?: readonly unknown[]}) => {
      const list = statements.get(name) ?? []
      list.push({sql: q.sql, bindings: q.bindings ?? []})
      statements.set(name, list)
    })
  const rdsDbs: Knex[] = []
  for (const id of ids) {
    const db = await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(control.db, id)))
    listen(`rds ${id}`, db)
    rdsDbs.push(db)
  }
  listen('control', control.db)

  const check = (result: Awaited<ReturnType<typeof findUser>>) => {
    if (result.locations.length !== INSTANCES || result.locations.some((l) => l.live?.verdict !== 'ok'))
      throw new Error(`unexpected result ${JSON.stringify(result.locations.map((l) => l.live))}`)
  }
  log('warming up (first run opens one connection per RDS)')
  check(await findUser(ctx, {email: EMAIL, live: true, timeoutMs: 10_000}))

  const samples: number[] = []
  const perRun: number[][] = []
  let controlStatements = 0
  for (let i = 0; i < runs; i++) {
    statements.clear()
    let result: Awaited<ReturnType<typeof findUser>> | undefined
    samples.push(await timed(async () => (result = await findUser(ctx, {email: EMAIL, live: true, timeoutMs: 10_000}))))
    check(result as Awaited<ReturnType<typeof findUser>>)
    perRun.push(ids.map((id) => statements.get(`rds ${id}`)?.length ?? 0))
    controlStatements = statements.get('control')?.length ?? 0
  }
  const captured = new Map(statements)
  const queriesPerRds = [...new Set(perRun.flat())]

  // The floor: each statement replayed alone on the same warm pools.
  log('floor: each RDS statement and the cache lookup, alone')
  const rdsMs = await Promise.all(ids.map(async () => [] as number[]))
  for (let i = 0; i < runs; i++) {
    for (const [k, id] of ids.entries()) {
      const [statement] = captured.get(`rds ${id}`) ?? []
      rdsMs[k].push(await timed(() => rdsDbs[k].raw(statement.sql, statement.bindings as Knex.RawBinding[])))
    }
  }
  const [lookup] = captured.get('control') ?? []
  const lookupMs: number[] = []
  for (let i = 0; i < runs; i++) lookupMs.push(await timed(() => control.db.raw(lookup.sql, lookup.bindings as Knex.RawBinding[])))
  const medians = rdsMs.map(median)
  const slowest = medians.indexOf(Math.max(...medians))
  const floorMs = medians[slowest] + median(lookupMs)
  const figureMs = median(samples)

  console.log(
    JSON.stringify(
      {
        benchmark: 'user-find',
        command: `user:find ${EMAIL} --live (service call in process, warm connections)`,
        setup: {rds: INSTANCES, tenantsPerRds: TENANTS, usersPerTenant: USERS, addedDelayMsEachWay: delays, controlDb: 'mariadb'},
        runs,
        figure: stats(samples),
        floor: {
          what: 'slowest single RDS round trip (the same statement, alone, warm connection) + the routing-cache lookup on the control database',
          ms: ms1(floorMs),
          slowestRds: {name: `rds-${slowest + 1}`, addedDelayMs: delays[slowest], medianMs: ms1(medians[slowest])},
          cacheLookupMedianMs: ms1(median(lookupMs)),
          perRdsMedianMs: medians.map(ms1),
        },
        ratio: ratio(figureMs / floorMs),
        goal: GOAL,
        queriesPerRds: queriesPerRds.length === 1 ? queriesPerRds[0] : perRun,
        controlStatementsPerRun: controlStatements,
        statement: (captured.get(`rds ${ids[0]}`) ?? [])[0]?.sql,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
