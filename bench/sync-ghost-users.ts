// `raiops sync:ghost-users` (spawned CLI, --concurrency 10) for 3 operators holding
// tenant.impersonate over 10 MariaDB RDS (10 fixture databases on the local server) of
// 10,000 tenants each (2 users per tenant), the control database on the same server,
// against floors measured in the same run:
//   (a) the same 300,000 ghost rows inserted server-side by one INSERT … SELECT per operator
//       per server, run directly, the 10 servers at once (each on its own connection);
//   (b) the naive way on one server: one INSERT per tenant and operator (autocommit),
//       extrapolated ×10 for the fleet;
//   (c) a second run, with nothing to do, against the first: the sync's own time (its
//       durationMs) and the spawned command's wall time, beside the wall time of a
//       command that does no work (`raiops rds:list --json`: process start, control
//       database, session), which every spawned run pays; and a second run with --full
//       (every ghost row checked), for comparison.
// Between measurements the ghost rows are deleted and InnoDB's purge of them awaited (not timed).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:sync-ghost-users [-- --runs 3]
import mysql from 'mysql2/promise'
import {cpus, loadavg} from 'node:os'

import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, createTestDir, mysqlServer, type TestDatabase} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, cliRunner, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 3)
const INSTANCES = 10
const TENANTS = 10_000
const OPERATORS = 3
const BUILD_CONCURRENCY = 2
const DOMAIN = 'raiops.invalid'

const benchStarted = performance.now()
const log = benchLog('sync-ghost-users')
cleanUpOnSignals(log)

const home = createTestDir('raiops-bench-ghosts-')
cleanups.push(() => home.drop())
const {env, cliOk} = cliRunner(home.path)

interface GhostReport {
  status: string
  durationMs: number
  changed: boolean
  totals: {inserted: number; updated: number; pruned: number; unchanged: number}
  rds: Array<{name: string; status: string; durationMs: number}>
}

const connect = (database: string): Promise<mysql.Connection> =>
  mysql.createConnection({host: mysqlServer.host, port: mysqlServer.port, user: mysqlServer.user, password: mysqlServer.password, database, charset: 'utf8mb4'})

const INSERT_SELECT = `INSERT INTO users (tenant_id, name, email, password, status, is_ghost, created_at, updated_at)
  SELECT t.id, ?, ?, ?, 'active', true, ?, ? FROM tenants t
  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.email = ?)`

const now = () => new Date().toISOString().slice(0, 19).replace('T', ' ')
const password = () => `!${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')}`

/**
 * Waits until InnoDB has purged what the deletes left (its history list is short again) and written
 * its dirty pages back (the writes of 600,000 rows each round would otherwise still be flushed while
 * the next is measured), so that every measured run starts from the same state rather than sharing
 * the server with background work left by the one before. Gives up after two minutes.
 */
async function settle(): Promise<{ms: number; settled: boolean}> {
  const conn = await connect('information_schema')
  const started = performance.now()
  try {
    const deadline = Date.now() + 120_000
    for (;;) {
      const [[history]] = (await conn.query("SELECT `COUNT` AS n FROM INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'")) as unknown as [
        [{n: number} | undefined],
      ]
      const [[dirty]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as unknown as [[{Value: string} | undefined]]
      const settled = Number(history?.n ?? 0) < 100 && Number(dirty?.Value ?? 0) < 500
      if (settled || Date.now() > deadline) return {ms: performance.now() - started, settled}
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  } finally {
    await conn.end()
  }
}

async function deleteGhosts(fixtures: RaiFixture[], options: {settle: boolean} = {settle: true}): Promise<void> {
  await Promise.all(
    fixtures.map(async (f) => {
      const conn = await connect(f.database)
      try {
        await conn.query(`DELETE FROM users WHERE email LIKE ?`, [`ghost+%@${DOMAIN}`])
      } finally {
        await conn.end()
      }
    }),
  )
  if (!options.settle) return
  const {ms, settled} = await settle()
  log(`deleted the ghosts; the server ${settled ? 'settled' : 'did not settle'} in ${(ms / 1000).toFixed(1)} s`)
}

/** Floor (a): per server, one INSERT … SELECT per operator, the servers at once. */
function insertSelectFloorMs(fixtures: RaiFixture[], operators: Array<{id: number; name: string}>): Promise<number> {
  return timed(() =>
    Promise.all(
      fixtures.map(async (f) => {
        const conn = await connect(f.database)
        try {
          for (const o of operators) {
            const email = `ghost+${o.id}@${DOMAIN}`
            const at = now()
            const [result] = (await conn.query(INSERT_SELECT, [`RAI support (${o.name})`, email, password(), at, at, email])) as unknown as [
              {affectedRows: number},
            ]
            if (result.affectedRows !== TENANTS) throw new Error(`floor on ${f.database}: ${result.affectedRows} rows`)
          }
        } finally {
          await conn.end()
        }
      }),
    ),
  )
}

/** Floor (b): one INSERT per tenant and operator, autocommit, on one server. */
async function naiveOneServerMs(fixture: RaiFixture, operators: Array<{id: number; name: string}>): Promise<{ms: number; statements: number}> {
  const conn = await connect(fixture.database)
  try {
    let statements = 0
    const ms = await timed(async () => {
      const [tenants] = (await conn.query('SELECT id FROM tenants ORDER BY id')) as unknown as [Array<{id: number}>]
      for (const t of tenants) {
        for (const o of operators) {
          const at = now()
          await conn.query(
            `INSERT INTO users (tenant_id, name, email, password, status, is_ghost, created_at, updated_at) VALUES (?, ?, ?, ?, 'active', true, ?, ?)`,
            [t.id, `RAI support (${o.name})`, `ghost+${o.id}@${DOMAIN}`, password(), at, at],
          )
          statements++
        }
      }
    })
    return {ms, statements}
  } finally {
    await conn.end()
  }
}

try {
  log(`building ${INSTANCES} RDS fixtures of ${TENANTS} tenants × 2 users, ${BUILD_CONCURRENCY} at a time`)
  const fixtureStarted = performance.now()
  const fixtures: RaiFixture[] = []
  for (let i = 0; i < INSTANCES; i += BUILD_CONCURRENCY) {
    const settled = await Promise.allSettled(
      Array.from({length: Math.min(BUILD_CONCURRENCY, INSTANCES - i)}, () =>
        createRaiFixture({engine: 'mysql', tenants: TENANTS, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
      ),
    )
    for (const result of settled) {
      if (result.status === 'fulfilled') {
        fixtures.push(result.value)
        cleanups.push(() => result.value.drop())
      }
    }
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed) throw failed.reason
  }
  const fixtureMs = performance.now() - fixtureStarted

  const control: TestDatabase = await createTestDatabase('mysql', 'raiops_bench_ctl')
  cleanups.push(() => control.drop())
  env.RAIOPS_DATABASE_URL = control.url
  log(`control database ${control.name}: init, ${OPERATORS - 1} more operators, rds:add ×${INSTANCES}`)
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench Admin', '--password-stdin'], 'bench-password-1\n')
  for (const n of [2, 3]) {
    await cliOk(
      ['operator:add', '--email', `support${n}@example.com`, '--name', `Support ${n}`, '--role', 'support_admin', '--password-stdin'],
      'bench-password-1\n',
    )
  }
  const passwordArgs = mysqlServer.password ? ['--password-stdin'] : []
  const passwordInput = mysqlServer.password ? `${mysqlServer.password}\n` : ''
  for (const [i, fixture] of fixtures.entries()) {
    await cliOk(
      [
        'rds:add',
        '--name',
        `rds-${String(i + 1).padStart(2, '0')}`,
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
    )
  }
  const operators = (JSON.parse((await cliOk(['operator:list', '--json'])).stdout) as Array<{id: number; name: string}>).map((o) => ({id: o.id, name: o.name}))
  if (operators.length !== OPERATORS) throw new Error(`expected ${OPERATORS} operators, got ${operators.length}`)

  const admin = await connect(fixtures[0].database)
  cleanups.push(() => admin.end())
  const [[server]] = (await admin.query('SELECT VERSION() AS version')) as unknown as [[{version: string}]]

  const floor: number[] = []
  const first: number[] = []
  const firstInProcess: number[] = []
  const second: number[] = []
  const secondInProcess: number[] = []
  const fullSecond: number[] = []
  const fullSecondInProcess: number[] = []
  const idle: number[] = []
  const perRds = {first: [] as number[][], second: [] as number[][]}
  const sync = ['sync:ghost-users', '--concurrency', String(INSTANCES), '--json']
  for (let i = 0; i < runs; i++) {
    floor.push(await insertSelectFloorMs(fixtures, operators))
    await deleteGhosts(fixtures)
    const run1 = await cliOk(sync)
    const report1 = JSON.parse(run1.stdout) as GhostReport
    if (report1.status !== 'ok' || report1.totals.inserted !== INSTANCES * TENANTS * OPERATORS) throw new Error(`first run: ${JSON.stringify(report1.totals)}`)
    const run2 = await cliOk(sync)
    const report2 = JSON.parse(run2.stdout) as GhostReport
    if (report2.changed || report2.totals.unchanged !== INSTANCES * TENANTS * OPERATORS) throw new Error(`second run: ${JSON.stringify(report2.totals)}`)
    const run3 = await cliOk([...sync, '--full'])
    const report3 = JSON.parse(run3.stdout) as GhostReport
    if (report3.changed) throw new Error(`second run --full: ${JSON.stringify(report3.totals)}`)
    fullSecond.push(run3.ms)
    fullSecondInProcess.push(report3.durationMs)
    idle.push((await cliOk(['rds:list', '--json'])).ms)
    first.push(run1.ms)
    firstInProcess.push(report1.durationMs)
    second.push(run2.ms)
    secondInProcess.push(report2.durationMs)
    perRds.first.push(report1.rds.map((r) => r.durationMs))
    perRds.second.push(report2.rds.map((r) => r.durationMs))
    await deleteGhosts(fixtures)
    log(
      `run ${i + 1}/${runs}: floor ${floor[i].toFixed(0)} ms; sync:ghost-users first ${first[i].toFixed(0)} ms (in process ${report1.durationMs} ms), second ${second[i].toFixed(0)} ms (in process ${report2.durationMs} ms), second --full ${run3.ms.toFixed(0)} ms`,
    )
  }
  log('naive: one INSERT per tenant and operator on one server')
  const naive = await naiveOneServerMs(fixtures[0], operators)
  await deleteGhosts(fixtures.slice(0, 1), {settle: false})
  log(`naive one server: ${(naive.ms / 1000).toFixed(1)} s (${naive.statements} statements)`)

  const floorMs = median(floor)
  const firstMs = median(first)
  const secondMs = median(second)
  const naiveFleetMs = naive.ms * INSTANCES
  console.log(
    JSON.stringify(
      {
        benchmark: 'sync-ghost-users',
        setup: {
          rds: INSTANCES,
          tenantsPerRds: TENANTS,
          operators: OPERATORS,
          ghostRows: INSTANCES * TENANTS * OPERATORS,
          runs,
          fixtureBuildS: Math.round(fixtureMs / 100) / 10,
          server: {version: server.version},
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
        },
        firstRun: {
          command: `raiops ${sync.join(' ')} (spawned CLI: process start, control database, lease, sync_runs and audit included)`,
          wall: stats(first),
          inProcessMs: firstInProcess,
          perRdsDurationMs: perRds.first.map((run) => ({min: Math.min(...run), median: median(run), max: Math.max(...run)})),
        },
        floorInsertSelect: {
          what: `one INSERT … SELECT … WHERE NOT EXISTS per operator per server, run directly, the ${INSTANCES} servers at once`,
          ...stats(floor),
        },
        ratioToFloor: ratio(firstMs / floorMs),
        ratioToFloorInProcess: ratio(median(firstInProcess) / floorMs),
        goalRatioToFloor: 2,
        metRatioToFloor: firstMs / floorMs <= 2,
        naive: {
          what: 'one INSERT per tenant and operator (autocommit), on one server, ×10 for the fleet',
          statementsOneServer: naive.statements,
          oneServerMs: ms1(naive.ms),
          fleetExtrapolatedMs: ms1(naiveFleetMs),
          speedup: ratio(naiveFleetMs / firstMs),
          goal: 30,
          met: naiveFleetMs / firstMs >= 30,
        },
        secondRun: {
          what: 'the same command again: nothing to do (each RDS answered by its counts)',
          inProcessMs: stats(secondInProcess),
          ratioToFirstInProcess: ratio(median(secondInProcess) / median(firstInProcess)),
          goal: 0.1,
          metInProcess: median(secondInProcess) / median(firstInProcess) <= 0.1,
          wall: stats(second),
          ratioToFirst: ratio(secondMs / firstMs),
          metWall: secondMs / firstMs <= 0.1,
          idleCommandWall: {
            what: 'raiops rds:list --json (spawned): what any command pays to start, open the control database and check the session',
            ...stats(idle),
          },
          wallBeyondIdleCommandMs: ms1(secondMs - median(idle)),
          perRdsDurationMs: perRds.second.map((run) => ({min: Math.min(...run), median: median(run), max: Math.max(...run)})),
        },
        secondRunFull: {
          what: 'the same command with --full: nothing to do, every ghost row checked',
          inProcessMs: stats(fullSecondInProcess),
          ratioToFirstInProcess: ratio(median(fullSecondInProcess) / median(firstInProcess)),
          wall: stats(fullSecond),
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
