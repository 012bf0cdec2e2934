// `tenant:show` on a tenant of 50,000 users: the service call in this process (warm,
// median of several runs), on a MariaDB RAI database of 4 tenants × 50,000 users
// (200,000 user rows) and a MariaDB master whose user_email_routing routes all of
// them, with a SQLite control database; against a floor measured in the same run:
// the very statements the service sent to the RDS and to the master (as knex's
// `query` events report them), run directly with mysql2 on warm connections, with
// the same concurrency (two connections to the RDS, one to the master).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run bench:tenant-show [-- --runs 11] [--users 50000]
import type {Knex} from 'knex'
import mysql from 'mysql2/promise'
import {cpus, loadavg} from 'node:os'

import {connectionSpecFor, addRds} from '../src/lib/rds/service.js'
import {syncTenants} from '../src/lib/sync/tenants.js'
import {showTenant, type TenantShow} from '../src/lib/tenant/show.js'
import {makeContext} from '../test/support/context.js'
import {createControlDb} from '../test/support/control-db.js'
import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 11)
const USERS = numberArgument('--users', 50_000)
const TENANTS = 4
/** The tenant shown: one in the middle of the users table. */
const SHOWN = 2
const GOAL = 1.5

const benchStarted = performance.now()
const log = benchLog('tenant-show')
cleanUpOnSignals(log)

interface Statement {
  sql: string
  bindings: unknown[]
}

/** Every statement a knex instance sends while `work` runs, as its `query` events report them. */
async function capture(db: Knex, work: () => Promise<unknown>): Promise<Statement[]> {
  const seen: Statement[] = []
  const listener = (data: {sql: string; bindings?: unknown[]}) => seen.push({sql: data.sql, bindings: data.bindings ?? []})
  db.on('query', listener)
  try {
    await work()
  } finally {
    db.removeListener('query', listener)
  }
  return seen
}

const pool = (database: string, connections: number) =>
  mysql.createPool({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database,
    charset: 'utf8mb4',
    connectionLimit: connections,
    timezone: 'Z',
  })

try {
  log(`building the RDS (${TENANTS} tenants × ${USERS} users) and the master`)
  const built = performance.now()
  const [rds, master] = await Promise.all([
    createRaiFixture({engine: 'mysql', tenants: TENANTS, usersPerTenant: USERS, ghostUsersPerTenant: 2, locationsPerTenant: 5, batchSize: 2000}),
    createRaiFixture({engine: 'mysql', master: true, tenants: 20, usersPerTenant: 20}),
  ])
  cleanups.push(
    () => rds.drop(),
    () => master.drop(),
  )
  const control = await createControlDb('sqlite')
  cleanups.push(() => control.drop())
  const ctx = makeContext(control.db, {queryTimeoutMs: 120_000, connectTimeoutMs: 5000})
  // Clean-ups run last first: connections are closed before their databases are dropped.
  cleanups.push(() => ctx.close())
  const field = (f: RaiFixture) => ({
    engine: 'mysql' as const,
    host: f.host,
    port: f.port,
    username: f.user,
    password: f.password || null,
    raiDatabase: f.database,
  })
  const masterId = (await addRds(ctx, {name: 'master', ...field(master), master: true, test: false})).rds.id
  const rdsId = (await addRds(ctx, {name: 'big', ...field(rds), master: false, test: false})).rds.id
  // The master routes every regular user of the big RDS beside its own.
  const admin = await mysql.createConnection({host: mysqlServer.host, port: mysqlServer.port, user: mysqlServer.user, password: mysqlServer.password})
  await admin.query(
    `INSERT INTO \`${master.database}\`.user_email_routing (email, tenant_id, rds_instance_id, user_id, password_hash, status, created_at, updated_at)
     SELECT email, tenant_id, ?, id, password, status, created_at, updated_at FROM \`${rds.database}\`.users WHERE is_ghost = 0`,
    [rdsId],
  )
  const [[{n: routed}]] = (await admin.query(`SELECT COUNT(*) AS n FROM \`${master.database}\`.user_email_routing`)) as unknown as [[{n: number}]]
  await admin.end()
  const sync = await syncTenants(ctx, {maxAgeMs: 0, concurrency: 2, deadlineMs: 120_000, force: true})
  if (sync.status !== 'ok') throw new Error(`sync:tenants: ${JSON.stringify(sync.rds.map((r) => r.error))}`)
  const fixtureS = Math.round((performance.now() - built) / 100) / 10
  log(`built in ${fixtureS}s; ${routed} routing entries on the master`)

  const input = {tenant: `big:${SHOWN}`, live: true, timeoutMs: 120_000}
  const rdsKnex = await ctx.fleet.get(await connectionSpecFor(ctx, (await ctx.db('rds_instances').where({id: rdsId}).first())!))
  const masterKnex = await ctx.fleet.get(await connectionSpecFor(ctx, (await ctx.db('rds_instances').where({id: masterId}).first())!))

  // Warm: pools open, statements seen once; and the statements captured for the floor.
  let last: TenantShow | undefined
  let masterStatements: Statement[] = []
  const rdsStatements = await capture(rdsKnex, async () => {
    masterStatements = await capture(masterKnex, async () => void (last = await showTenant(ctx, input)))
  })
  const shown = last as TenantShow
  if (shown.live?.status !== 'ok' || shown.live.routing.status !== 'ok') throw new Error(`tenant:show: ${JSON.stringify(shown.live)}`)
  log(`statements: ${rdsStatements.length} to the RDS, ${masterStatements.length} to the master; users ${shown.live.users?.total}`)

  // The floor: the same statements, straight through mysql2, with the service's concurrency.
  const rdsPool = pool(rds.database, 2)
  const masterPool = pool(master.database, 1)
  cleanups.push(
    () => rdsPool.end(),
    () => masterPool.end(),
  )
  const runAll = (p: mysql.Pool, statements: Statement[]) => Promise.all(statements.map((s) => p.query(s.sql, s.bindings)))
  await Promise.all([runAll(rdsPool, rdsStatements), runAll(masterPool, masterStatements)])
  // Interleaved, so that the other load on the machine weighs on both alike.
  const figure: number[] = []
  const floor: number[] = []
  for (let i = 0; i < runs; i++) {
    figure.push(await timed(() => showTenant(ctx, input)))
    floor.push(await timed(() => Promise.all([runAll(rdsPool, rdsStatements), runAll(masterPool, masterStatements)])))
  }
  log(`service: median ${ms1(median(figure))} ms; floor: median ${ms1(median(floor))} ms`)

  const figureMs = median(figure)
  const floorMs = median(floor)
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'tenant-show',
        setup: {
          rds: `MariaDB, ${TENANTS} tenants × ${USERS} users (+2 ghosts, 5 locations each)`,
          master: `MariaDB, user_email_routing of ${routed} rows (no index on tenant_id, as the fleet contract has it)`,
          control: 'SQLite',
          shownTenant: {users: shown.live.users?.total, ghosts: shown.live.users?.ghosts, routingEntries: shown.live.routing.entries},
          runs,
          fixtureBuildS: fixtureS,
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
        },
        queries: {...shown.live.queries, counted: 'from knex query events, in the result (live.queries)'},
        statements: {rds: rdsStatements.map((s) => s.sql), master: masterStatements.map((s) => s.sql)},
        figure: {what: 'showTenant(ctx, {tenant: "big:2", live: true}) in process, warm', ...stats(figure)},
        floor: {what: 'the same statements via mysql2 pools (2 connections to the RDS, 1 to the master), concurrently, warm', ...stats(floor)},
        ratio: ratio(figureMs / floorMs),
        goal: GOAL,
        met: figureMs / floorMs <= GOAL,
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    )}\n`,
  )
} finally {
  await cleanup(log)
}
