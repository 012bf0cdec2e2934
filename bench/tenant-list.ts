// `raiops tenant:list` over 100,000 tenants in a MariaDB control database
// (tenant_master rows inserted directly, in bulk), against floors measured in
// the same run, every command spawned as a process (node start-up included on
// both sides):
//   (a) `tenant:list --all --format csv --output FILE` against a small node
//       process that streams the same SELECT (same columns, same join, same
//       order) with mysql2 and writes it to a file as CSV; with the CLI's peak RSS;
//   (b) the first page of `tenant:list --search X` against `rds:list`.
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:tenant-list [-- --runs 5] [--tenants 100000]
import mysql from 'mysql2/promise'
import {readFileSync, statSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {join} from 'node:path'

import {healthScore} from '../src/lib/tenant/health-score.js'
import {searchText} from '../src/lib/text/search.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, cliRunner, median, numberArgument, ratio, stats, timed, nodeFloor} from './support.js'

const runs = numberArgument('--runs', 5)
const TENANTS = numberArgument('--tenants', 100_000)
const RDS = 10
/** A common term (about one tenant in five) and a rare one (a single tenant): the plan must serve both. */
const SEARCH = 'muller'
const RARE = 'owner4242@'
const INSERT_BATCH = 5000

const benchStarted = performance.now()
const log = benchLog('tenant-list')
cleanUpOnSignals(log)

const home = createTestDir('raiops-bench-tenant-list-')
cleanups.push(() => home.drop())
const {env, cli, cliOk} = cliRunner(home.path, {measureRss: true})

const WORDS = ['Harbor', 'Bakery', 'Müller', 'Café', 'North', 'Atlas', 'Blue', 'Garden', 'Smith', 'Łódź', 'Nordic', 'Studio', 'Crème', 'Delta', 'Pine', 'Coast']

/** A tenant: names shared by many (ties), about one in 16 with "Müller" somewhere, some never refreshed, no score or gone upstream. */
function tenantRow(i: number, rdsIds: number[], now: number): unknown[] {
  const name = `${WORDS[(i * 7) % 16]} ${WORDS[(i * 11 + 3) % 16]} ${i % 500}`
  const contact = i % 13 === 0 ? null : `${WORDS[(i * 5) % 16]} Person`
  const email = i % 17 === 0 ? null : `owner${i}@tenant${i % 997}.example`
  const refreshed = i % 23 === 0 ? null : new Date(now - (i % 240) * 3_600_000)
  return [
    rdsIds[i % rdsIds.length],
    i + 1,
    name,
    contact,
    email,
    ['active', 'active', 'active', 'suspended', 'trial'][i % 5],
    (i * 37) % 400,
    i % 12,
    (i * 31) % 380,
    i % 29,
    refreshed,
    i % 101 === 0 ? new Date(now - 86_400_000) : null,
    i % 19 === 0 ? null : (i * 13) % 101,
    searchText(name, contact, email),
    new Date(now),
    new Date(now),
  ]
}

/** A tenant's stored health signals, as a refresh writes them (about 500 bytes of JSON in every row the --search scan reads). */
function signals(i: number, now: number): string | null {
  if (i % 19 === 0) return null
  const t = tenantRow(i, [1], now)
  return JSON.stringify(
    healthScore(
      {
        status: t[5] as string,
        users: t[6] as number,
        activeUsers: t[8] as number,
        locations: t[7] as number,
        lastActivityAt: new Date(now - (i % 120) * 86_400_000).toISOString(),
        rdsHealth: 'healthy',
        refreshedAt: t[10] === null ? null : (t[10] as Date).toISOString(),
        billingStatus: i % 3 === 0 ? null : 'active',
      },
      new Date(now),
    ).signals,
  )
}

/** The floor of (a): node, mysql2's row stream of the same SELECT, CSV (minimal quoting) to a file. */
const FLOOR_SCRIPT = `
import mysql from 'mysql2'
import {createWriteStream} from 'node:fs'
const [url, file, empty] = process.argv.slice(1)
const conn = mysql.createConnection({uri: url, timezone: 'Z', charset: 'utf8mb4'})
const out = createWriteStream(file, {mode: 0o600})
const q = (v) => v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : /[",\\n\\r]/.test(String(v)) ? '"' + String(v).replaceAll('"', '""') + '"' : String(v)
out.write('id,tenant,name,status,users,locations,health,refreshed,missing,contact,email\\n')
const rows = conn.query(\`SELECT t.id, t.rds_instance_id, r.name AS rds_name, t.remote_tenant_id, t.name, t.status, t.primary_contact_name, t.primary_contact_email, t.cached_user_count, t.active_user_count, t.ghost_user_count, t.cached_location_count, t.health_score, t.last_user_activity_at, t.cache_refreshed_at, t.remote_missing_at FROM tenant_master t LEFT JOIN rds_instances r ON r.id = t.rds_instance_id \${empty ? "WHERE t.status = 'no-such-status' " : ''}ORDER BY t.name, t.id\`).stream()
let n = 0
for await (const r of rows) {
  const line = [r.id, r.rds_name + ':' + r.remote_tenant_id, r.name, r.status, r.cached_user_count, r.cached_location_count, r.health_score, r.cache_refreshed_at, r.remote_missing_at, r.primary_contact_name, r.primary_contact_email].map(q).join(',') + '\\n'
  n++
  if (!out.write(line)) await new Promise((resolve) => out.once('drain', resolve))
}
await new Promise((resolve) => out.end(resolve))
conn.end()
process.stderr.write(String(n))
`

function floorRun(url: string, file: string, empty = false): Promise<{ms: number; rows: number}> {
  return nodeFloor(FLOOR_SCRIPT, [url, file, ...(empty ? ['empty'] : [])])
}

const lines = (file: string): number => readFileSync(file, 'utf8').split('\n').filter(Boolean).length

try {
  const control = await createTestDatabase('mysql', 'raiops_bench_tl')
  cleanups.push(() => control.drop())
  env.RAIOPS_DATABASE_URL = control.url
  log(`control database ${control.name}: init`)
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')

  const conn = await mysql.createConnection({
    host: mysqlServer.host,
    port: mysqlServer.port,
    user: mysqlServer.user,
    password: mysqlServer.password,
    database: control.name,
    timezone: 'Z',
    charset: 'utf8mb4',
  })
  cleanups.push(() => conn.end())
  const now = Date.now()
  for (let i = 1; i <= RDS; i++) {
    await conn.query('INSERT INTO rds_instances (name, engine, rai_database, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
      `rds-${String(i).padStart(2, '0')}`,
      'sqlite',
      `/tmp/rai-bench-${i}.sqlite`,
      new Date(now),
      new Date(now),
    ])
  }
  const rdsIds = ((await conn.query('SELECT id FROM rds_instances ORDER BY id')) as unknown as [Array<{id: number}>])[0].map((r) => r.id)
  log(`inserting ${TENANTS} tenant_master rows`)
  const insertMs = await timed(async () => {
    for (let start = 0; start < TENANTS; start += INSERT_BATCH) {
      const rows = Array.from({length: Math.min(INSERT_BATCH, TENANTS - start)}, (_, k) => [...tenantRow(start + k, rdsIds, now), signals(start + k, now)])
      await conn.query(
        'INSERT INTO tenant_master (rds_instance_id, remote_tenant_id, name, primary_contact_name, primary_contact_email, status, cached_user_count, cached_location_count, active_user_count, ghost_user_count, cache_refreshed_at, remote_missing_at, health_score, search_text, created_at, updated_at, health_signals) VALUES ?',
        [rows],
      )
    }
  })
  await conn.query('ANALYZE TABLE tenant_master')
  const [[server]] = (await conn.query('SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool')) as unknown as [[{version: string; pool: number}]]
  const [[searchCount]] = (await conn.query('SELECT COUNT(*) AS n FROM tenant_master WHERE search_text LIKE ?', [`%${SEARCH}%`])) as unknown as [[{n: number}]]
  log(`inserted in ${(insertMs / 1000).toFixed(1)} s; "${SEARCH}" matches ${searchCount.n}`)

  // The plans, for the record: a keyset batch of --all (RDS names read once, not joined), the first page and the summary of --search.
  const explain = async (sql: string, params: unknown[] = []) =>
    ((await conn.query(`EXPLAIN ${sql}`, params)) as unknown as [Array<Record<string, unknown>>])[0].map((r) => ({
      table: r.table,
      type: r.type,
      key: r.key,
      rows: r.rows,
      extra: r.Extra,
    }))
  const plans = {
    allBatch: await explain('SELECT t.id, t.name FROM tenant_master t WHERE t.name >= ? AND (t.name > ? OR t.id > ?) ORDER BY t.name, t.id LIMIT 2000', [
      'Harbor',
      'Harbor',
      5000,
    ]),
    searchPage: await explain(
      "SELECT t.id, r.name FROM tenant_master t LEFT JOIN rds_instances r ON r.id = t.rds_instance_id WHERE t.search_text LIKE ? ESCAPE '!' ORDER BY COALESCE(t.name, t.name), t.id LIMIT 51",
      [`%${SEARCH}%`],
    ),
    searchSummary: await explain(
      "SELECT COUNT(*), COUNT(DISTINCT t.rds_instance_id), MIN(t.cache_refreshed_at), MAX(t.cache_refreshed_at) FROM tenant_master t WHERE t.search_text LIKE ? ESCAPE '!'",
      [`%${SEARCH}%`],
    ),
  }

  // (a) --all --format csv to a file, against the streamed SELECT; interleaved, a warm-up of each first.
  const cliFile = join(home.path, 'tenants.csv')
  const floorFile = join(home.path, 'floor.csv')
  const allArgs = ['tenant:list', '--all', '--format', 'csv', '--output', cliFile]
  await cliOk(allArgs)
  await floorRun(control.url, floorFile)
  // The same two with no row to write (a status nobody has): their start-up, connection and query, to take out.
  const emptyArgs = [...allArgs.slice(0, -1), join(home.path, 'empty.csv'), '--status', 'no-such-status']
  const allMs: number[] = []
  const floorMs: number[] = []
  const emptyMs: number[] = []
  const floorEmptyMs: number[] = []
  const rssKb: number[] = []
  for (let i = 0; i < runs; i++) {
    const run = await cliOk(allArgs)
    allMs.push(run.ms)
    if (run.peakRssKb !== null) rssKb.push(run.peakRssKb)
    const floor = await floorRun(control.url, floorFile)
    floorMs.push(floor.ms)
    if (floor.rows !== TENANTS) throw new Error(`the floor wrote ${floor.rows} rows`)
    emptyMs.push((await cliOk(emptyArgs)).ms)
    floorEmptyMs.push((await floorRun(control.url, floorFile + '.empty', true)).ms)
    log(
      `--all ${i + 1}/${runs}: CLI ${run.ms.toFixed(0)} ms (peak RSS ${run.peakRssKb} kB), floor ${floor.ms.toFixed(0)} ms; with no row: CLI ${emptyMs[i].toFixed(0)} ms, floor ${floorEmptyMs[i].toFixed(0)} ms`,
    )
  }
  if (lines(cliFile) !== TENANTS + 1 || lines(floorFile) !== TENANTS + 1) throw new Error(`files of ${lines(cliFile)} and ${lines(floorFile)} lines`)
  if ((statSync(cliFile).mode & 0o777) !== 0o600) throw new Error('the CSV is not mode 0600')

  // (b) the first page of --search (a common term, a rare one) against rds:list, interleaved.
  const searchArgs = ['tenant:list', '--search', SEARCH]
  const rareArgs = ['tenant:list', '--search', RARE]
  const first = await cliOk(searchArgs)
  if (!/tenants match on/.test(first.stderr)) throw new Error(`tenant:list --search: ${first.stderr}`)
  if (!/^1 tenant matches/.test((await cliOk(rareArgs)).stderr)) throw new Error(`tenant:list --search ${RARE} did not find one tenant`)
  await cliOk(['rds:list'])
  const searchMs: number[] = []
  const rareMs: number[] = []
  const rdsListMs: number[] = []
  for (let i = 0; i < runs + 2; i++) {
    searchMs.push((await cliOk(searchArgs)).ms)
    rdsListMs.push((await cliOk(['rds:list'])).ms)
    rareMs.push((await cliOk(rareArgs)).ms)
    log(`--search ${i + 1}/${runs + 2}: ${searchMs[i].toFixed(0)} ms (rare: ${rareMs[i].toFixed(0)} ms), rds:list ${rdsListMs[i].toFixed(0)} ms`)
  }
  const refused = await cli(['tenant:list', '--all'])
  if (refused.code !== 2) throw new Error('--all without csv/ndjson was not refused')

  const allRatio = median(allMs) / median(floorMs)
  const streamingRatio = (median(allMs) - median(emptyMs)) / (median(floorMs) - median(floorEmptyMs))
  const searchRatio = median(searchMs) / median(rdsListMs)
  const rareRatio = median(rareMs) / median(rdsListMs)
  const peakMb = rssKb.length > 0 ? Math.round(Math.max(...rssKb) / 1024) : null
  console.log(
    JSON.stringify(
      {
        benchmark: 'tenant-list',
        setup: {
          tenants: TENANTS,
          rds: RDS,
          runs,
          insertS: Math.round(insertMs / 100) / 10,
          searchMatches: Number(searchCount.n),
          server: {version: server.version, innodbBufferPoolMb: Math.round(Number(server.pool) / 2 ** 20)},
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
          startup: 'node start-up included on both sides: every figure is a spawned process, from spawn to exit',
        },
        all: {
          command: `raiops ${allArgs.join(' ').replace(cliFile, 'FILE')}`,
          wall: stats(allMs),
          floor: {
            what: 'node + mysql2 streaming the same SELECT (same columns, LEFT JOIN rds_instances, ORDER BY name, id) written as CSV to a file',
            ...stats(floorMs),
          },
          ratio: ratio(allRatio),
          goal: 1.5,
          met: allRatio <= 1.5,
          withoutStartup: {
            what: 'each side minus the same process writing no row (start-up, sign-in check, connection, the query): the streaming alone',
            cliNoRows: stats(emptyMs),
            floorNoRows: stats(floorEmptyMs),
            ratio: ratio(streamingRatio),
          },
          peakRssMb: peakMb,
          peakRssGoalMb: 150,
          peakRssMet: peakMb !== null && peakMb <= 150,
          peakRssMeasuredBy: '/usr/bin/time -f %M when present, else VmHWM polled',
        },
        searchFirstPage: {
          command: `raiops ${searchArgs.join(' ')}`,
          matches: Number(searchCount.n),
          wall: stats(searchMs),
          floor: {command: 'raiops rds:list', ...stats(rdsListMs)},
          ratio: ratio(searchRatio),
          rare: {command: `raiops ${rareArgs.join(' ')}`, matches: 1, wall: stats(rareMs), ratio: ratio(rareRatio)},
          goal: 1.3,
          met: Math.max(searchRatio, rareRatio) <= 1.3,
        },
        plans,
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
