// `raiops sync:tenants --force` over 10 MariaDB RDS (10 fixture databases on the
// local server) of 10,000 tenants each (50 users + 2 ghosts and 3 locations per
// tenant: 5.2M user rows), the control database on the same server, against floors
// measured in the same run:
//   - the aggregate queries (tenants + two GROUP BY, the users one counting ghosts, active users and the
//     last activity as the sync does) run concurrently over the 10
//     databases, each on its own fresh connection, plus the server-side copy of the
//     100,000 tenants into a table shaped like tenant_master;
//   - the per-tenant approach of the earlier PHP sync on one server (two COUNT(*) and an
//     updateOrCreate on tenant_master per tenant), against raiops syncing that one RDS, and
//     extrapolated ×10 for the fleet (the earlier sync went through the RDS one after another).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:sync-tenants [-- --runs 3] [--buffer-pool-mb 2048]
import mysql from 'mysql2/promise'
import {cpus, loadavg} from 'node:os'

import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, createTestDir, mysqlServer, type TestDatabase} from '../test/support/servers.js'
import {
  benchLog,
  cleanup,
  cleanUpOnSignals,
  cleanups,
  cliRunner,
  numberArgument,
  serverQuery,
  sizeBufferPool,
  median,
  ms1,
  ratio,
  stats,
  timed,
} from './support.js'

const runs = numberArgument('--runs', 3)
/** The InnoDB buffer pool for the run, so the 5.2M user rows are read from memory (0: leave the server as it is). */
const BUFFER_POOL_MB = numberArgument('--buffer-pool-mb', 2048, {min: 0})
const INSTANCES = 10
const TENANTS = 10_000
const USERS = 50
const GHOSTS = 2
const LOCATIONS = 3
/** Fixtures built at once (the machine has 2 cores, shared with the server). */
const BUILD_CONCURRENCY = 2

const benchStarted = performance.now()
const log = benchLog('sync-tenants')
cleanUpOnSignals(log)

const home = createTestDir('raiops-bench-tenants-')
cleanups.push(() => home.drop())
const {env, cliOk} = cliRunner(home.path)

interface TenantReport {
  status: string
  durationMs: number
  totals: {inserted: number; updated: number; unchanged: number; missing: number; skipped: number}
  rds: Array<{name: string; status: string; tenants: number | null; durationMs: number; error: string | null}>
}

// ---------------------------------------------------------------------------
// Direct connections for the floors.

const connect = (database: string): Promise<mysql.Connection> =>
  mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database,
    charset: 'utf8mb4',
  })

/** The three aggregate queries on every RDS at once, each RDS on its own fresh connection (as separate servers would be). */
function aggregateFloorMs(fixtures: RaiFixture[]): Promise<number> {
  return timed(() =>
    Promise.all(
      fixtures.map(async (fixture) => {
        const conn = await connect(fixture.database)
        try {
          const [tenants] = (await conn.query('SELECT id, name, primary_contact_name, primary_contact_email, status FROM tenants ORDER BY id')) as unknown as [
            unknown[],
          ]
          // The statement userTallies sends: users, ghosts, active users and the last activity per tenant, in one scan.
          const [users] = (await conn.query(
            "SELECT tenant_id, COUNT(*) AS n, SUM(CASE WHEN is_ghost = true THEN 1 ELSE 0 END) AS ghosts, SUM(CASE WHEN (is_ghost = false OR is_ghost IS NULL) AND status = 'active' THEN 1 ELSE 0 END) AS active, MAX(CASE WHEN is_ghost = false OR is_ghost IS NULL THEN updated_at END) AS last_activity FROM users USE INDEX () GROUP BY tenant_id",
          )) as unknown as [unknown[]]
          const [locations] = (await conn.query('SELECT tenant_id, COUNT(*) AS n FROM locations GROUP BY tenant_id')) as unknown as [unknown[]]
          if (tenants.length !== TENANTS || users.length !== TENANTS || locations.length !== TENANTS)
            throw new Error(`aggregate floor on ${fixture.database}: ${tenants.length}/${users.length}/${locations.length} rows`)
        } finally {
          await conn.end()
        }
      }),
    ),
  )
}

/**
 * The earlier PHP sync's way, on one server: the tenants read, then for each tenant a COUNT(*) of its
 * users and of its locations, and Eloquent's updateOrCreate on tenant_master (a SELECT by
 * rds_instance_id + remote tenant id, then an UPDATE setting the counts and cache_refreshed_at,
 * autocommitted). `countsOnly` leaves out the tenant_master writes: the two COUNT(*) per tenant alone.
 * `table` is a copy of tenant_master already holding this server's tenants as rds_instance_id 1.
 */
async function perTenantMs(fixture: RaiFixture, control: mysql.Connection, table: string, countsOnly: boolean): Promise<{ms: number; queries: number}> {
  const conn = await connect(fixture.database)
  try {
    let queries = 0
    const ms = await timed(async () => {
      const [tenants] = (await conn.query('SELECT id, name, primary_contact_name, primary_contact_email, status FROM tenants ORDER BY id')) as unknown as [
        Array<{id: number; name: string; primary_contact_name: string | null; primary_contact_email: string | null; status: string}>,
      ]
      queries++
      for (const tenant of tenants) {
        const [[users]] = (await conn.query('SELECT COUNT(*) AS n FROM users WHERE tenant_id = ? AND is_ghost = 0', [tenant.id])) as unknown as [[{n: number}]]
        const [[locations]] = (await conn.query('SELECT COUNT(*) AS n FROM locations WHERE tenant_id = ?', [tenant.id])) as unknown as [[{n: number}]]
        queries += 2
        if (countsOnly) continue
        const [found] = (await control.query(`SELECT id FROM ${table} WHERE rds_instance_id = 1 AND remote_tenant_id = ? LIMIT 1`, [tenant.id])) as unknown as [
          Array<{id: number}>,
        ]
        if (found.length === 0) throw new Error(`tenant ${tenant.id} is not in ${table}`)
        await control.query(
          `UPDATE ${table} SET name = ?, primary_contact_name = ?, primary_contact_email = ?, status = ?, cached_user_count = ?, cached_location_count = ?, cache_refreshed_at = NOW(), updated_at = NOW() WHERE id = ?`,
          [tenant.name, tenant.primary_contact_name, tenant.primary_contact_email, tenant.status, users.n, locations.n, found[0].id],
        )
        queries += 2
      }
    })
    return {ms, queries}
  } finally {
    await conn.end()
  }
}

// ---------------------------------------------------------------------------

try {
  const bufferPool = await sizeBufferPool(serverQuery, BUFFER_POOL_MB, log)
  log(`building ${INSTANCES} RDS fixtures of ${TENANTS} tenants × (${USERS} users + ${GHOSTS} ghosts, ${LOCATIONS} locations), ${BUILD_CONCURRENCY} at a time`)
  const fixtureStarted = performance.now()
  const fixtures: RaiFixture[] = []
  for (let i = 0; i < INSTANCES; i += BUILD_CONCURRENCY) {
    const batch = Array.from({length: Math.min(BUILD_CONCURRENCY, INSTANCES - i)}, () =>
      createRaiFixture({
        engine: 'mysql',
        tenants: TENANTS,
        usersPerTenant: USERS,
        ghostUsersPerTenant: GHOSTS,
        locationsPerTenant: LOCATIONS,
      }),
    )
    // Every fixture that was built is dropped, even when its neighbour failed.
    const settled = await Promise.allSettled(batch)
    for (const result of settled) {
      if (result.status === 'fulfilled') {
        fixtures.push(result.value)
        cleanups.push(() => result.value.drop())
      }
    }
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed) throw failed.reason
    log(`fixtures ${fixtures.length}/${INSTANCES} built`)
  }
  const fixtureMs = performance.now() - fixtureStarted

  const control: TestDatabase = await createTestDatabase('mysql', 'raiops_bench_ctl')
  cleanups.push(() => control.drop())
  const scratch: TestDatabase = await createTestDatabase('mysql', 'raiops_bench_floor')
  cleanups.push(() => scratch.drop())
  env.RAIOPS_DATABASE_URL = control.url

  log(`control database ${control.name}: init, rds:add ×${INSTANCES}`)
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')
  const passwordArgs = mysqlServer.password ? ['--password-stdin'] : []
  const passwordInput = mysqlServer.password ? `${mysqlServer.password}\n` : ''
  // Registered four at a time (each rds:add is one short transaction).
  for (let i = 0; i < fixtures.length; i += 4) {
    await Promise.all(
      fixtures
        .slice(i, i + 4)
        .map((fixture, j) =>
          cliOk(
            [
              'rds:add',
              '--name',
              `rds-${String(i + j + 1).padStart(2, '0')}`,
              '--host',
              mysqlServer.host,
              '--port',
              String(mysqlServer.port),
              '--username',
              mysqlServer.user,
              '--rai-database',
              fixture.database,
              '--no-input',
              ...passwordArgs,
            ],
            passwordInput,
          ),
        ),
    )
  }

  const admin = await connect(scratch.name)
  cleanups.push(() => admin.end())
  const [[server]] = (await admin.query('SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool')) as unknown as [[{version: string; pool: number}]]
  await admin.query(`CREATE TABLE t LIKE \`${control.name}\`.tenant_master`)
  const copy = `INSERT INTO t (rds_instance_id, remote_tenant_id, name, primary_contact_name, primary_contact_email, status, cached_user_count, cached_location_count, cache_refreshed_at, remote_missing_at, created_at, updated_at) ${fixtures
    .map(
      (f, i) =>
        `SELECT ${i + 1}, id, name, primary_contact_name, primary_contact_email, status, ${USERS}, ${LOCATIONS}, NOW(3), NULL, NOW(3), NOW(3) FROM \`${f.database}\`.tenants`,
    )
    .join(' UNION ALL ')}`

  // The sync runs interleaved with the floors, so both see the same machine.
  const aggregate: number[] = []
  const serverCopy: number[] = []
  const sync: number[] = []
  const syncInProcess: number[] = []
  const perRds: number[][] = []
  let firstTotals: TenantReport['totals'] | undefined
  let repeatTotals: TenantReport['totals'] | undefined
  for (let i = 0; i < runs; i++) {
    aggregate.push(await aggregateFloorMs(fixtures))
    await admin.query('TRUNCATE TABLE t')
    serverCopy.push(await timed(() => admin.query(copy)))
    log(`floor ${i + 1}/${runs}: aggregates over ${INSTANCES} DBs ${aggregate[i].toFixed(0)} ms, server-side copy ${serverCopy[i].toFixed(0)} ms`)

    const run = await cliOk(['sync:tenants', '--force', '--json'])
    const report = JSON.parse(run.stdout) as TenantReport
    if (report.status !== 'ok') throw new Error(`sync:tenants: ${run.stdout}`)
    const expected = i === 0 ? {inserted: INSTANCES * TENANTS, updated: 0, unchanged: 0} : {inserted: 0, updated: 0, unchanged: INSTANCES * TENANTS}
    for (const [key, value] of Object.entries(expected)) {
      if (report.totals[key as keyof TenantReport['totals']] !== value)
        throw new Error(`sync:tenants run ${i + 1}: expected ${key} = ${value}, got ${JSON.stringify(report.totals)}`)
    }
    if (i === 0) firstTotals = report.totals
    else repeatTotals = report.totals
    sync.push(run.ms)
    syncInProcess.push(report.durationMs)
    perRds.push(report.rds.map((r) => r.durationMs))
    log(
      `sync:tenants --force ${i + 1}/${runs}${i === 0 ? ' (empty tenant_master)' : ''}: ${(run.ms / 1000).toFixed(2)} s (in process ${report.durationMs} ms; per RDS ${Math.min(...perRds[i])}–${Math.max(...perRds[i])} ms)`,
    )
  }
  await admin.query('DROP TABLE t')
  const [[stored]] = (await admin.query(
    `SELECT COUNT(*) AS tenants, SUM(cached_user_count) AS users, SUM(cached_location_count) AS locations FROM \`${control.name}\`.tenant_master`,
  )) as unknown as [[{tenants: number; users: number; locations: number}]]
  const want = {tenants: INSTANCES * TENANTS, users: INSTANCES * TENANTS * USERS, locations: INSTANCES * TENANTS * LOCATIONS}
  if (Number(stored.tenants) !== want.tenants || Number(stored.users) !== want.users || Number(stored.locations) !== want.locations) {
    throw new Error(`tenant_master holds ${JSON.stringify(stored)}, expected ${JSON.stringify(want)}`)
  }

  // One server, three ways: raiops' sync of that RDS alone, the earlier sync's per-tenant queries and
  // writes, and its two per-tenant COUNT(*) alone.
  const oneServer: number[] = []
  const perTenant: number[] = []
  const perTenantCounts: number[] = []
  let perTenantQueries = 0
  await admin.query(`CREATE TABLE t LIKE \`${control.name}\`.tenant_master`)
  await admin.query(`INSERT INTO t SELECT * FROM \`${control.name}\`.tenant_master WHERE rds_instance_id = 1`)
  for (let i = 0; i < runs; i++) {
    const run = await cliOk(['sync:tenants', '--force', '--rds', 'rds-01', '--json'])
    const report = JSON.parse(run.stdout) as TenantReport
    if (report.status !== 'ok' || report.totals.unchanged !== TENANTS) throw new Error(`sync:tenants --rds rds-01: ${run.stdout}`)
    oneServer.push(run.ms)
    const measured = await perTenantMs(fixtures[0], admin, 't', false)
    perTenant.push(measured.ms)
    perTenantQueries = measured.queries
    perTenantCounts.push((await perTenantMs(fixtures[0], admin, 't', true)).ms)
    log(
      `one server ${i + 1}/${runs}: sync:tenants --rds ${(run.ms / 1000).toFixed(2)} s; per-tenant queries and writes ${(perTenant[i] / 1000).toFixed(2)} s (${measured.queries} queries); per-tenant counts alone ${(perTenantCounts[i] / 1000).toFixed(2)} s`,
    )
  }
  const [[refreshed]] = (await admin.query('SELECT COUNT(*) AS n, SUM(cached_user_count) AS users FROM t')) as unknown as [[{n: number; users: number}]]
  if (Number(refreshed.n) !== TENANTS || Number(refreshed.users) !== TENANTS * USERS)
    throw new Error(`the per-tenant approach left ${JSON.stringify(refreshed)} in its tenant_master`)
  await admin.query('DROP TABLE t')

  const floorMs = median(aggregate) + median(serverCopy)
  const syncMs = median(sync)
  const firstMs = sync[0]
  const repeatMs = median(sync.slice(1))
  const perTenantFleetMs = median(perTenant) * INSTANCES
  console.log(
    JSON.stringify(
      {
        benchmark: 'sync-tenants',
        setup: {
          rds: INSTANCES,
          tenantsPerRds: TENANTS,
          usersPerTenant: USERS,
          ghostUsersPerTenant: GHOSTS,
          locationsPerTenant: LOCATIONS,
          userRows: INSTANCES * TENANTS * (USERS + GHOSTS),
          runs,
          fixtureBuildS: Math.round(fixtureMs / 100) / 10,
          server: {
            version: server.version,
            innodbBufferPoolMb: Math.round(Number(server.pool) / 2 ** 20),
            innodbBufferPoolBeforeMb: bufferPool.beforeMb,
          },
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
        },
        sync: {
          command: 'raiops sync:tenants --force --json (default concurrency)',
          wall: stats(sync),
          firstRunMs: ms1(firstMs),
          repeatedRunsMs: sync.slice(1).map(ms1),
          repeatedMedianMs: sync.length > 1 ? ms1(repeatMs) : null,
          inProcessMs: syncInProcess,
          perRdsDurationMs: perRds.map((run) => ({min: Math.min(...run), median: median(run), max: Math.max(...run)})),
          firstRunTotals: firstTotals,
          repeatedRunTotals: repeatTotals ?? null,
        },
        floor: {
          what: `aggregate queries over ${INSTANCES} DBs at once (fresh connection each) + server-side INSERT…SELECT of ${INSTANCES * TENANTS} tenants into a copy of tenant_master`,
          aggregates: stats(aggregate),
          serverCopy: stats(serverCopy),
          ms: ms1(floorMs),
        },
        ratioToFloor: ratio(syncMs / floorMs),
        firstRunRatioToFloor: ratio(firstMs / floorMs),
        repeatedRatioToFloor: sync.length > 1 ? ratio(repeatMs / floorMs) : null,
        goal: 2,
        met: syncMs / floorMs <= 2,
        perTenantApproach: {
          what: 'the earlier sync: per tenant, COUNT(*) of its users (is_ghost = 0) and of its locations, then updateOrCreate on tenant_master (SELECT, then UPDATE, autocommit); one connection to one server',
          queriesPerServer: perTenantQueries,
          oneServer: stats(perTenant),
          raiopsOneServer: {command: 'raiops sync:tenants --force --rds rds-01 --json', ...stats(oneServer)},
          oneServerSpeedup: ratio(median(perTenant) / median(oneServer)),
          fleetExtrapolatedMs: ms1(perTenantFleetMs),
          fleetSpeedup: ratio(perTenantFleetMs / syncMs),
          goal: 30,
          goalOn: 'fleetSpeedup: the fleet synced by raiops vs the per-tenant approach over the same fleet (one server measured, ×10)',
          met: perTenantFleetMs / syncMs >= 30,
          floorSpeedup: ratio(perTenantFleetMs / floorMs),
          countsOnly: {
            what: 'the two COUNT(*) per tenant alone, without the tenant_master writes',
            oneServer: stats(perTenantCounts),
            oneServerSpeedup: ratio(median(perTenantCounts) / median(oneServer)),
            fleetExtrapolatedMs: ms1(median(perTenantCounts) * INSTANCES),
            fleetSpeedup: ratio((median(perTenantCounts) * INSTANCES) / syncMs),
          },
        },
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
