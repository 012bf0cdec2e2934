// `raiops sync:routing` over a master RDS whose user_email_routing holds 1,000,000
// rows, the control database on the same local MariaDB, against floors measured in
// the same run:
//   - full rebuild (`--truncate`) vs the server copying the same rows itself
//     (INSERT … SELECT into a copy of user_email_routing_cache), plus the CLI's peak RSS;
//   - incremental after 1 % of the rows changed vs the full rebuild;
//   - `--full` when nothing changed vs merely reading the source (mysql2 stream, and
//     the keyset pages the sync issues).
// The rebuild is timed as the CLI runs (wall, start-up included) against the floor.
// The incremental and --full goals compare the sync's own time (the durationMs it
// reports) with the rebuild's and with the read floor, both timed in a running
// process; the wall ratios are reported beside them, with the CLI's fixed cost.
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:sync-routing [-- --runs 3] [--source-rows 1000000] [--buffer-pool-mb 2048]
// (--source-rows below a multiple of 500 deletes the fixture's last rows.)
import {createConnection as createCallbackConnection} from 'mysql2'
import mysql from 'mysql2/promise'
import {cpus, loadavg} from 'node:os'

import {createFleetSchema, createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
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
  TIME_BIN,
  type CliRun,
} from './support.js'

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name)
  const value = at === -1 ? fallback : Number(process.argv[at + 1])
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  return value
}
const runs = argument('--runs', 3)
/** The InnoDB buffer pool for the run, so source and cache are read from memory (0: leave the server as it is). */
const BUFFER_POOL_MB = numberArgument('--buffer-pool-mb', 2048, {min: 0})
const ROWS = argument('--source-rows', 1_000_000)
const USERS_PER_TENANT = 500
const TENANTS = Math.ceil(ROWS / USERS_PER_TENANT)
/** Every 100th source row is changed before the incremental runs. */
const CHANGED = Math.floor(ROWS / 100)
const PAGE = 5000
const SOURCE_SELECT = 'SELECT id, email, tenant_id, rds_instance_id, user_id, status, updated_at FROM user_email_routing'
const CACHE_COLUMNS = 'source_id, email, tenant_master_id, remote_tenant_id, remote_user_id, rds_instance_id, status, source_updated_at, synced_at'

const benchStarted = performance.now()
const log = benchLog('sync-routing')
cleanUpOnSignals(log)

const home = createTestDir('raiops-bench-routing-')
cleanups.push(() => home.drop())
const {env, cliOk} = cliRunner(home.path, {measureRss: true})

interface RoutingReport {
  status: string
  durationMs: number
  counts: {inserted: number; updated: number; unchanged: number; missing: number; read: number; unlinked: number; invalid: number}
  error: string | null
}

async function syncRouting(mode: '--truncate' | '--full' | null): Promise<{run: CliRun; report: RoutingReport}> {
  const run = await cliOk(['sync:routing', ...(mode ? [mode] : []), '--json'])
  const report = JSON.parse(run.stdout) as RoutingReport
  if (report.status !== 'ok') throw new Error(`sync:routing ${mode ?? ''} failed: ${report.error}`)
  return {run, report}
}

function expectCounts(what: string, counts: RoutingReport['counts'], expected: Partial<RoutingReport['counts']>): void {
  for (const [key, value] of Object.entries(expected)) {
    if (counts[key as keyof RoutingReport['counts']] !== value) throw new Error(`${what}: expected ${key} = ${value}, got ${JSON.stringify(counts)}`)
  }
}

// ---------------------------------------------------------------------------
// Direct connections for the floors.

const connect = (database: string, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> =>
  mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database,
    charset: 'utf8mb4',
    ...options,
  })

/** Reads every source row once with a streamed query (array rows, date strings): the cost of reading alone. */
async function streamReadMs(database: string): Promise<number> {
  // The callback API: its query() hands out the row stream.
  const conn = createCallbackConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database,
    charset: 'utf8mb4',
    rowsAsArray: true,
    dateStrings: true,
  })
  try {
    let rows = 0
    const ms = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          conn
            .query(SOURCE_SELECT)
            .stream()
            .on('data', () => void rows++)
            .on('end', () => resolve())
            .on('error', reject)
        }),
    )
    if (rows !== ROWS) throw new Error(`stream read ${rows} rows, expected ${ROWS}`)
    return ms
  } finally {
    await new Promise<void>((resolve) => conn.end(() => resolve()))
  }
}

/** Reads every source row in the keyset pages the sync issues (5000 by id). */
async function keysetReadMs(database: string): Promise<number> {
  const conn = await connect(database, {rowsAsArray: true, dateStrings: true})
  try {
    let rows = 0
    const ms = await timed(async () => {
      let after = 0
      for (;;) {
        const [page] = (await conn.query(`${SOURCE_SELECT} WHERE id > ? ORDER BY id LIMIT ${PAGE}`, [after])) as unknown as [unknown[][]]
        rows += page.length
        if (page.length < PAGE) break
        after = Number(page[page.length - 1][0])
      }
    })
    if (rows !== ROWS) throw new Error(`keyset read ${rows} rows, expected ${ROWS}`)
    return ms
  } finally {
    await conn.end()
  }
}

// ---------------------------------------------------------------------------

try {
  const bufferPool = await sizeBufferPool(serverQuery, BUFFER_POOL_MB, log)
  log(`building the master RDS fixture (${TENANTS} tenants × ${USERS_PER_TENANT} routing rows = ${ROWS.toLocaleString('en')} rows)`)
  const fixtureStarted = performance.now()
  // The routing sync never reads `users`: it is created empty instead of holding another 1M rows.
  const fixture: RaiFixture = await createRaiFixture({
    engine: 'mysql',
    tenants: TENANTS,
    usersPerTenant: USERS_PER_TENANT,
    ghostUsersPerTenant: 0,
    locationsPerTenant: 1,
    master: true,
    routingRdsInstanceId: 1,
    omitTables: ['users'],
  })
  cleanups.push(() => fixture.drop())
  const fixtureDb = await fixture.knex()
  try {
    await createFleetSchema(fixtureDb, {omitTables: ['tenants', 'locations', 'user_email_routing']})
    await fixtureDb('user_email_routing').where('id', '>', ROWS).delete()
    const [{n}] = (await fixtureDb('user_email_routing').count({n: '*'})) as Array<{n: number}>
    if (Number(n) !== ROWS) throw new Error(`the fixture holds ${n} routing rows, expected ${ROWS}`)
  } finally {
    await fixtureDb.destroy()
  }
  const fixtureMs = performance.now() - fixtureStarted
  log(`fixture ${fixture.database} built in ${(fixtureMs / 1000).toFixed(1)} s`)

  const control: TestDatabase = await createTestDatabase('mysql', 'raiops_bench_ctl')
  cleanups.push(() => control.drop())
  const scratch: TestDatabase = await createTestDatabase('mysql', 'raiops_bench_floor')
  cleanups.push(() => scratch.drop())
  env.RAIOPS_DATABASE_URL = control.url

  log(`control database ${control.name}: init, rds:add, sync:tenants --force`)
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')
  await cliOk(
    [
      'rds:add',
      '--name',
      'master',
      '--host',
      mysqlServer.host,
      '--port',
      String(mysqlServer.port),
      '--username',
      mysqlServer.user,
      '--rai-database',
      fixture.database,
      '--master',
      '--no-input',
      ...(mysqlServer.password ? ['--password-stdin'] : []),
    ],
    mysqlServer.password ? `${mysqlServer.password}\n` : '',
  )
  const tenantSync = JSON.parse((await cliOk(['sync:tenants', '--force', '--json'])).stdout) as {status: string; totals: {inserted: number}}
  if (tenantSync.status !== 'ok' || tenantSync.totals.inserted !== TENANTS) throw new Error(`sync:tenants: ${JSON.stringify(tenantSync)}`)

  const admin = await connect(scratch.name)
  cleanups.push(() => admin.end())
  const [[server]] = (await admin.query('SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool, @@local_infile AS localInfile')) as unknown as [
    [{version: string; pool: number; localInfile: number}],
  ]
  await admin.query(`CREATE TABLE dst LIKE \`${control.name}\`.user_email_routing_cache`)
  const insertSelect = `INSERT INTO dst (${CACHE_COLUMNS}) SELECT id, LOWER(email), NULL, tenant_id, user_id, rds_instance_id, status, updated_at, NOW(3) FROM \`${fixture.database}\`.user_email_routing`

  // Full rebuild, interleaved with its floor so both see the same machine.
  const floorCopy: number[] = []
  const rebuild: number[] = []
  const rebuildInProcess: number[] = []
  const rebuildRss: number[] = []
  for (let i = 0; i < runs; i++) {
    await admin.query('TRUNCATE TABLE dst')
    floorCopy.push(await timed(() => admin.query(insertSelect)))
    log(`floor INSERT…SELECT ${i + 1}/${runs}: ${(floorCopy[i] / 1000).toFixed(2)} s`)
    const {run, report} = await syncRouting('--truncate')
    expectCounts('sync:routing --truncate', report.counts, {read: ROWS, inserted: ROWS, unlinked: 0, invalid: 0})
    rebuild.push(run.ms)
    rebuildInProcess.push(report.durationMs)
    if (run.peakRssKb !== null) rebuildRss.push(run.peakRssKb / 1024)
    log(
      `sync:routing --truncate ${i + 1}/${runs}: ${(run.ms / 1000).toFixed(2)} s, peak RSS ${run.peakRssKb === null ? '?' : (run.peakRssKb / 1024).toFixed(0)} MB`,
    )
  }
  await admin.query('DROP TABLE dst')
  const [[cache]] = (await admin.query(
    `SELECT COUNT(*) AS n, SUM(tenant_master_id IS NULL) AS unlinked, SUM(email <> LOWER(email)) AS upper FROM \`${control.name}\`.user_email_routing_cache`,
  )) as unknown as [[{n: number; unlinked: number; upper: number}]]
  if (Number(cache.n) !== ROWS || Number(cache.unlinked) !== 0 || Number(cache.upper) !== 0)
    throw new Error(`the cache after --truncate: ${JSON.stringify(cache)}`)

  /**
   * The optimizer's row estimate for the cache (InnoDB persistent statistics). A --truncate swaps in a
   * freshly loaded table; until its statistics are recalculated the estimate can be 0, and range and
   * IN () lookups on source_id then scan the whole table.
   */
  async function cacheStatsRows(): Promise<number | null> {
    try {
      const [rows] = (await admin.query(`SELECT n_rows FROM mysql.innodb_table_stats WHERE database_name = ? AND table_name = 'user_email_routing_cache'`, [
        control.name,
      ])) as unknown as [Array<{n_rows: number}>]
      return rows.length > 0 ? Number(rows[0].n_rows) : null
    } catch {
      return null
    }
  }
  const statsRows: Record<string, Array<number | null>> = {afterTruncate: [await cacheStatsRows()], beforeFull: [], beforeIncremental: []}

  // Incremental with nothing changed: start-up, the lease and the watermark overlap alone.
  const quiet = await syncRouting(null)
  log(`sync:routing (nothing changed): ${(quiet.run.ms / 1000).toFixed(2)} s, ${quiet.report.counts.read} rows read`)

  // --full with nothing changed, interleaved with the read floors.
  const readStream: number[] = []
  const readKeyset: number[] = []
  const full: number[] = []
  const fullInProcess: number[] = []
  let fullCounts: RoutingReport['counts'] | undefined
  for (let i = 0; i < runs; i++) {
    readStream.push(await streamReadMs(fixture.database))
    readKeyset.push(await keysetReadMs(fixture.database))
    log(`read floor ${i + 1}/${runs}: stream ${(readStream[i] / 1000).toFixed(2)} s, keyset pages ${(readKeyset[i] / 1000).toFixed(2)} s`)
    statsRows.beforeFull.push(await cacheStatsRows())
    const {run, report} = await syncRouting('--full')
    expectCounts('sync:routing --full (nothing changed)', report.counts, {read: ROWS, unchanged: ROWS, inserted: 0, updated: 0, missing: 0})
    full.push(run.ms)
    fullInProcess.push(report.durationMs)
    fullCounts = report.counts
    log(`sync:routing --full ${i + 1}/${runs}: ${(run.ms / 1000).toFixed(2)} s`)
  }

  // Incremental after 1 % changed. It runs after the --full runs, so the cache's index statistics
  // (stale for a few seconds after a --truncate swapped the table in) are settled; the case right
  // after a --truncate is measured on its own below.
  const source = await connect(fixture.database)
  cleanups.push(() => source.end())
  async function changeOnePercent(): Promise<void> {
    const [updated] = (await source.query(
      `UPDATE user_email_routing SET status = IF(status = 'active', 'inactive', 'active'), updated_at = NOW() + INTERVAL 1 SECOND WHERE id % 100 = 0`,
    )) as unknown as [{affectedRows: number}]
    if (updated.affectedRows !== CHANGED) throw new Error(`UPDATE changed ${updated.affectedRows} rows, expected ${CHANGED}`)
  }
  async function syncChanged(): Promise<{run: CliRun; report: RoutingReport}> {
    const synced = await syncRouting(null)
    // Rows changed just before the watermark are read again (the overlap) but found unchanged.
    expectCounts('sync:routing (incremental)', synced.report.counts, {updated: CHANGED, inserted: 0, invalid: 0})
    return synced
  }
  const incremental: number[] = []
  const incrementalInProcess: number[] = []
  let incrementalCounts: RoutingReport['counts'] | undefined
  for (let i = 0; i < runs; i++) {
    await changeOnePercent()
    statsRows.beforeIncremental.push(await cacheStatsRows())
    const {run, report} = await syncChanged()
    incremental.push(run.ms)
    incrementalInProcess.push(report.durationMs)
    incrementalCounts = report.counts
    log(`sync:routing after ${CHANGED} changed ${i + 1}/${runs}: ${(run.ms / 1000).toFixed(2)} s, ${report.counts.read} read, ${report.counts.updated} updated`)
  }

  // The same right after a --truncate (one sample, not in the medians above).
  await syncRouting('--truncate')
  statsRows.afterTruncate.push(await cacheStatsRows())
  await changeOnePercent()
  const afterTruncate = await syncChanged()
  log(`sync:routing after ${CHANGED} changed, right after --truncate: ${(afterTruncate.run.ms / 1000).toFixed(2)} s`)

  const floorMs = median(floorCopy)
  const rebuildMs = median(rebuild)
  const readMs = median(readStream)
  const keysetMs = median(readKeyset)
  const incrementalMs = median(incremental)
  const fullMs = median(full)
  const peakRssMb = rebuildRss.length > 0 ? Math.max(...rebuildRss) : null
  console.log(
    JSON.stringify(
      {
        benchmark: 'sync-routing',
        setup: {
          sourceRows: ROWS,
          runs,
          fixtureBuildS: Math.round(fixtureMs / 100) / 10,
          server: {
            version: server.version,
            innodbBufferPoolMb: Math.round(Number(server.pool) / 2 ** 20),
            innodbBufferPoolBeforeMb: bufferPool.beforeMb,
            localInfile: Number(server.localInfile) === 1,
          },
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
          peakRssMeasuredWith: TIME_BIN ? '/usr/bin/time -f %M' : 'VmHWM polled every 20 ms',
        },
        floors: {
          insertSelect: {
            what: 'INSERT INTO <copy of user_email_routing_cache> … SELECT … FROM user_email_routing (server-side, empty target)',
            ...stats(floorCopy),
            rowsPerS: Math.round(ROWS / (floorMs / 1000)),
          },
          readStream: {
            what: 'mysql2 query().stream(), rowsAsArray, dateStrings, one connection',
            ...stats(readStream),
            rowsPerS: Math.round(ROWS / (readMs / 1000)),
          },
          readKeyset: {
            what: `mysql2 keyset pages by id, LIMIT ${PAGE}, rowsAsArray, dateStrings`,
            ...stats(readKeyset),
            rowsPerS: Math.round(ROWS / (keysetMs / 1000)),
          },
        },
        fullRebuild: {
          command: 'raiops sync:routing --truncate --json',
          wall: stats(rebuild),
          inProcessMedianMs: median(rebuildInProcess),
          rowsPerS: Math.round(ROWS / (rebuildMs / 1000)),
          ratioToInsertSelect: ratio(rebuildMs / floorMs),
          goal: 1.3,
          met: rebuildMs / floorMs <= 1.3,
          peakRssMb: peakRssMb === null ? null : Math.round(peakRssMb),
          peakRssSamplesMb: rebuildRss.map((n) => Math.round(n)),
          rssGoalMb: 200,
          rssMet: peakRssMb === null ? null : peakRssMb <= 200,
        },
        cliOverhead: {
          what: 'wall − in-process time of the incremental run with nothing to do: Node start-up, loading raiops, the sign-in check, the lease and the run record; paid once by every run, rebuild included',
          ms: ms1(quiet.run.ms - quiet.report.durationMs),
        },
        incremental: {
          command: 'raiops sync:routing --json',
          changedRows: CHANGED,
          nothingChanged: {
            wallMs: ms1(quiet.run.ms),
            inProcessMs: quiet.report.durationMs,
            read: quiet.report.counts.read,
            peakRssMb: quiet.run.peakRssKb === null ? null : Math.round(quiet.run.peakRssKb / 1024),
          },
          wall: stats(incremental),
          inProcessMedianMs: median(incrementalInProcess),
          lastCounts: incrementalCounts,
          rightAfterTruncate: {wallMs: ms1(afterTruncate.run.ms), inProcessMs: afterTruncate.report.durationMs},
          // The sync's own time (its durationMs, from its start to its end) against the rebuild's: the
          // CLI's fixed cost (cliOverhead) alone is several per cent of a rebuild, whatever the sync does.
          goal: 0.03,
          measuredOn: 'in-process durationMs of both runs',
          ratioToFullRebuild: ratio(median(incrementalInProcess) / median(rebuildInProcess)),
          met: median(incrementalInProcess) / median(rebuildInProcess) <= 0.03,
          wallRatioToFullRebuild: ratio(incrementalMs / rebuildMs),
          wallMet: incrementalMs / rebuildMs <= 0.03,
        },
        fullNothingChanged: {
          command: 'raiops sync:routing --full --json',
          wall: stats(full),
          inProcessMedianMs: median(fullInProcess),
          lastCounts: fullCounts,
          // Like the read floor, timed in a running process: the sync's durationMs against the stream read.
          goal: 2,
          measuredOn: 'in-process durationMs against the read floor, itself timed in a running process',
          ratioToReadFloor: ratio(median(fullInProcess) / readMs),
          met: median(fullInProcess) / readMs <= 2,
          ratioToKeysetReadFloor: ratio(median(fullInProcess) / keysetMs),
          wallRatioToReadFloor: ratio(fullMs / readMs),
          wallMet: fullMs / readMs <= 2,
        },
        cacheIndexStatisticsRows: statsRows,
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
