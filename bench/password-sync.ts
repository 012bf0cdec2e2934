// password:sync --reset --yes (the service the command calls, pools warm) for a person
// with a user on 10 tenants across 5 MariaDB RDS, each behind a fault proxy adding its
// own delay (5, 10, 15, 20, 25 ms each way), so their round trips differ; the master
// (routing entries) and the control database are MariaDB on the local server. The
// person's hashes are bcrypt at --cost (12 by default, Laravel's), and each run sets a
// new password, so each writes all 20 rows.
// Against the floor the issue sets, measured in the same run: one bcrypt hash at that
// cost (bcryptjs, this thread) + 1.5 × the slowest RDS round trip (one UPDATE through
// its proxy, on a direct connection).
// Prints one JSON document on stdout.
// Usage: npm run bench:password-sync [-- --runs 7] [--cost 12]
import bcrypt from 'bcryptjs'
import mysql from 'mysql2/promise'

import {migrateLatest, openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {syncPassword, type PasswordSync} from '../src/lib/password/sync.js'
import {addRds} from '../src/lib/rds/service.js'
import {runRoutingSync, runTenantSync} from '../src/lib/sync/index.js'
import {makeContext} from '../test/support/context.js'
import {startFaultProxy} from '../test/support/fault-proxy.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 7)
const COST = numberArgument('--cost', 12, {min: 4})
const DELAYS = [5, 10, 15, 20, 25]
const EMAIL = 'bench.person@example.com'
const log = benchLog('password-sync')
cleanUpOnSignals(log)

const connect = (database: string, port = mysqlServer.port): Promise<mysql.Connection> =>
  mysql.createConnection({host: mysqlServer.host, port, user: mysqlServer.user, password: mysqlServer.password, database, charset: 'utf8mb4'})

try {
  log(`fixtures: a master and ${DELAYS.length} RDS of 2 tenants, each RDS behind a proxy adding ${DELAYS.join(', ')} ms`)
  const plan = {engine: 'mysql' as const, tenants: 2, usersPerTenant: 3, ghostUsersPerTenant: 0, locationsPerTenant: 0}
  const master = await createRaiFixture({...plan, master: true, tenants: 1})
  cleanups.push(() => master.drop())
  const fleet = await Promise.all(DELAYS.map((_, i) => createRaiFixture({...plan, seed: i + 2})))
  cleanups.push(...fleet.map((f) => () => f.drop()))
  const proxies = await Promise.all(
    DELAYS.map((delayMs, i) => startFaultProxy({targetHost: mysqlServer.host, targetPort: fleet[i].port ?? 3306, mode: {delayMs}})),
  )
  cleanups.push(...proxies.map((p) => () => p.close()))
  const controlDb = await createTestDatabase('mysql', 'raiops_bench_pwsync')
  cleanups.push(() => controlDb.drop())
  const db = await openControlDb(parseDatabaseUrl(controlDb.url, '/nonexistent'))
  cleanups.push(() => db.destroy())
  await migrateLatest(db)
  const ctx = makeContext(db, {queryTimeoutMs: 60_000})
  cleanups.push(() => ctx.close())

  const fields = (name: string, database: string, port: number, isMaster: boolean) => ({
    name,
    engine: 'mysql' as const,
    host: mysqlServer.host,
    port,
    username: mysqlServer.user,
    password: mysqlServer.password || null,
    raiDatabase: database,
    master: isMaster,
    test: false,
  })
  const masterId = (await addRds(ctx, fields('main', master.database, mysqlServer.port ?? 3306, true))).rds.id
  const ids: number[] = []
  for (const [i, f] of fleet.entries()) ids.push((await addRds(ctx, fields(`rds${i + 1}`, f.database, proxies[i].port, false))).rds.id)

  log(`the person: a user on each of the 10 tenants, a bcrypt hash at cost ${COST}, and their routing entries`)
  const hash = bcrypt.hashSync('the-old-password-1', COST).replace(/^\$2b\$/, '$2y$')
  const masterConn = await connect(master.database)
  cleanups.push(() => masterConn.end())
  await masterConn.query('UPDATE user_email_routing SET rds_instance_id = ?', [masterId])
  for (const [i, f] of fleet.entries()) {
    const conn = await connect(f.database)
    for (const tenant of [1, 2]) {
      const [inserted] = (await conn.query(
        "INSERT INTO users (tenant_id, name, email, password, status, is_ghost, created_at, updated_at) VALUES (?, 'Bench Person', ?, ?, 'active', 0, NOW(), NOW())",
        [tenant, EMAIL, hash],
      )) as unknown as [{insertId: number}]
      await masterConn.query(
        "INSERT INTO user_email_routing (email, tenant_id, rds_instance_id, user_id, password_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', NOW(), NOW())",
        [EMAIL, tenant, ids[i], inserted.insertId, hash],
      )
    }
    await conn.end()
  }
  await runTenantSync(ctx, {maxAgeMs: 0, concurrency: 8, deadlineMs: 600_000, force: true})
  await runRoutingSync(ctx, {mode: 'full'})

  // The floor's round trips: one UPDATE through each proxy, on a direct connection.
  const direct = await Promise.all(fleet.map((f, i) => connect(f.database, proxies[i].port)))
  cleanups.push(...direct.map((c) => () => c.end()))
  const roundTrip = (i: number) => timed(() => direct[i].query('UPDATE users SET updated_at = updated_at WHERE id = 1'))

  const input = (password: string) => ({email: EMAIL, mode: {kind: 'reset' as const, password}, reason: 'benchmark of a password sync', timeoutMs: 60_000})
  // Not counted: opens every pool.
  const warm = await syncPassword(ctx, input('warm-up-password-0'))
  if (!warm.complete) throw new Error(`warm-up: ${JSON.stringify(warm.servers)}`)

  const samples = {figure: [] as number[], hash: [] as number[], rtt: DELAYS.map(() => [] as number[])}
  for (let run = 0; run < runs; run++) {
    log(`run ${run + 1}/${runs}`)
    let result: PasswordSync | undefined
    samples.figure.push(await timed(async () => (result = await syncPassword(ctx, input(`bench-password-${run + 1}`)))))
    const written = result?.rows.filter((r) => r.outcome === 'written').length
    if (!result?.complete || written !== 20) throw new Error(`run ${run + 1}: ${written} rows written, ${JSON.stringify(result?.servers)}`)
    samples.hash.push(await timed(() => bcrypt.hash(`floor-password-${run}`, COST)))
    for (const i of DELAYS.keys()) samples.rtt[i].push(await roundTrip(i))
  }
  const hashMs = median(samples.hash)
  const rtts = samples.rtt.map(median)
  const slowest = Math.max(...rtts)
  const floor = hashMs + 1.5 * slowest
  const figure = median(samples.figure)
  console.log(
    JSON.stringify(
      {
        benchmark: 'password-sync',
        what: `password:sync --reset --yes (the service, warm) of a person with a user on 10 tenants across ${DELAYS.length} MariaDB RDS (proxies adding ${DELAYS.join(', ')} ms each way); 20 rows written per run`,
        runs,
        cost: COST,
        figure: stats(samples.figure),
        floor: {
          ms: ms1(floor),
          bcryptHashMs: ms1(hashMs),
          slowestRdsRoundTripMs: ms1(slowest),
          rdsRoundTripsMs: rtts.map(ms1),
          what: 'one bcrypt hash at the cost + 1.5 × the slowest RDS round trip (one UPDATE through its proxy)',
        },
        ratio: ratio(figure / floor),
        target: 'ratio ≤ 1',
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
