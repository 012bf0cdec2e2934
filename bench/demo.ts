// `raiops demo` on SQLite, spawned as a user runs it, against a floor measured in
// the same run:
//   - small.build: `raiops demo --quiet --dir <fresh dir>` (--runs times), and
//     small.tour: `raiops demo --tour --dir <that demo>` right after each build
//     (its 8 steps, each a raiops process; its sync:all copies the whole routing
//     directory into the control database, since the build leaves the cache empty);
//   - large.build: `raiops demo --size large --quiet` (--large-runs times) and
//     large.tour once (--large-tour-runs), whose sync:all reads ~1M routing rows.
// The floor of each size writes the same rows (demoFleet(size)'s plans through the
// same generators, routing with RDS ids 1..4) into fresh SQLite files with
// better-sqlite3 directly: one multi-row INSERT per table, literals inlined and
// escaped, one transaction per file. The rows are generated before the clock starts
// (generateMs); the tables are created beforehand (schemaMs). The floor's clock runs
// from opening each file to closing it: building the statements' text, running
// them, the commit and the close (the build pays for the same).
// The demo needs no database server: everything runs on SQLite files in temp dirs.
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:demo [-- --runs 3] [--large-runs 1] [--large-tour-runs 1]
// About 6 minutes on 2 cores, 3.5 of them the large tour: --large-tour-runs 0 skips
// it (about 2.5 minutes), --large-runs 0 the large size (about 30 s).
import Database from 'better-sqlite3'
import knexFactory from 'knex'
import {constants as bufferConstants} from 'node:buffer'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, rmSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {cpus, loadavg, totalmem} from 'node:os'
import {join} from 'node:path'

import {demoBillingShowcase, demoBillingWindow} from '../src/lib/demo/billing-history.js'
import {
  FLEET_TABLES,
  locationRows,
  planCounts,
  routingRows,
  tenantRows,
  userRows,
  type FleetRow,
  type FleetTable,
  type RoutedDatabase,
} from '../src/lib/demo/fleet-data.js'
import {createFleetIndexes, createFleetSchema} from '../src/lib/demo/fleet-load.js'
import {DEMO_SEED, demoFleet, type DemoFleet, type DemoRds, type DemoSize} from '../src/lib/demo/fleet.js'
import {demoTour} from '../src/lib/demo/tour.js'
import {createTestDir} from '../test/support/servers.js'
import {benchLog, bin, cleanup, cleanUpOnSignals, cleanups, cliRunner, median, ms1, numberArgument, ratio, root, stats} from './support.js'

const RUNS = numberArgument('--runs', 3)
const LARGE_RUNS = numberArgument('--large-runs', 1, {min: 0})
const LARGE_TOUR_RUNS = numberArgument('--large-tour-runs', 1, {min: 0})
/** What `raiops demo` (small: the build, then the tour) should take at most. */
const GOAL_MS = 10_000
/** SQLite's default SQLITE_MAX_SQL_LENGTH (better-sqlite3 keeps the default), in bytes. */
const SQLITE_MAX_SQL_BYTES = 1_000_000_000

const benchStarted = performance.now()
const log = benchLog('demo')
cleanUpOnSignals(log)
const loadavgAtStart = loadavg().map((n) => Math.round(n * 100) / 100)

const tmp = createTestDir('raiops-bench-demo-')
cleanups.push(() => tmp.drop())

// ---------------------------------------------------------------------------
// raiops, as a user runs it. `raiops demo` spawns a raiops process per tour step:
// each run gets a process group of its own, so that a stop (Ctrl-C, a failure)
// ends the tour's steps too before the directories go.

const home = join(tmp.path, 'home')
const {env} = cliRunner(home)
const running = new Set<ChildProcess>()

interface Run {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

function raiops(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, [bin, ...args], {cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    running.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (error) => {
      running.delete(child)
      reject(error)
    })
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      running.delete(child)
      resolve({code, stdout, stderr, ms})
    })
  })
}

async function raiopsOk(args: string[]): Promise<Run> {
  const run = await raiops(args)
  if (run.code !== 0) throw new Error(`raiops ${args.join(' ')} exited ${run.code}\n${run.stderr}${run.stdout}`)
  return run
}

// Runs first on the way out (cleanups run last-in first): the process groups end before the directories are deleted.
cleanups.push(async () => {
  const signal = (child: ChildProcess, name: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, name)
    } catch {
      // the group is gone
    }
  }
  for (const child of running) signal(child, 'SIGTERM')
  for (let i = 0; i < 60 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  for (const child of running) signal(child, 'SIGKILL')
  for (let i = 0; i < 40 && running.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
})

// ---------------------------------------------------------------------------
// What a file holds, to check that the build and the floor wrote the same rows.

interface TableCounts {
  tenants: number
  /** Every user row, ghosts included. */
  users: number
  ghostUsers: number
  locations: number
  routing: number
  /** Users named O'Brien: the escaping of quotes wrote them as they are. */
  obrien: number
  /** The RDS ids in the routing directory. */
  routingRdsIds: number[]
}

function countFile(path: string): TableCounts {
  const db = new Database(path, {readonly: true, fileMustExist: true})
  try {
    const n = (sql: string) => Number((db.prepare(sql).get() as {n: number | bigint}).n)
    const hasRouting = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'user_email_routing'`).get() !== undefined
    return {
      tenants: n('SELECT COUNT(*) AS n FROM tenants'),
      users: n('SELECT COUNT(*) AS n FROM users'),
      ghostUsers: n('SELECT COUNT(*) AS n FROM users WHERE is_ghost = 1'),
      locations: n('SELECT COUNT(*) AS n FROM locations'),
      routing: hasRouting ? n('SELECT COUNT(*) AS n FROM user_email_routing') : 0,
      obrien: n(`SELECT COUNT(*) AS n FROM users WHERE name LIKE '%O''Brien'`),
      routingRdsIds: hasRouting
        ? (db.prepare('SELECT DISTINCT rds_instance_id AS id FROM user_email_routing ORDER BY 1').all() as Array<{id: number}>).map((r) => r.id)
        : [],
    }
  } finally {
    db.close()
  }
}

/** The rows in the fleet files of `fleet` under `dir` (the missing RDS has none). */
function countFleet(fleet: DemoFleet, dir: string): {perFile: Record<string, TableCounts>; totals: Omit<TableCounts, 'routingRdsIds'> & {all: number}} {
  const perFile: Record<string, TableCounts> = {}
  const totals = {tenants: 0, users: 0, ghostUsers: 0, locations: 0, routing: 0, obrien: 0, all: 0}
  for (const server of fleet.rds) {
    if (server.missing) continue
    const counts = countFile(join(dir, server.file))
    perFile[server.name] = counts
    for (const key of ['tenants', 'users', 'ghostUsers', 'locations', 'routing', 'obrien'] as const) totals[key] += counts[key]
  }
  totals.all = totals.tenants + totals.users + totals.locations + totals.routing
  return {perFile, totals}
}

function sameRows(what: string, built: Record<string, TableCounts>, floor: Record<string, TableCounts>): void {
  if (JSON.stringify(built) !== JSON.stringify(floor))
    throw new Error(`${what}: the demo and the floor wrote different rows\ndemo:  ${JSON.stringify(built)}\nfloor: ${JSON.stringify(floor)}`)
}

// ---------------------------------------------------------------------------
// The floor: the same rows, one multi-row INSERT per table, one transaction per file.

interface FloorTable {
  table: FleetTable
  columns: string[]
  rows: FleetRow[]
}

interface FloorFile {
  name: string
  file: string
  master: boolean
  tables: FloorTable[]
}

/** Rows between two turns of the event loop in the floor's long loops, so that Ctrl-C is heard within a second or so. */
const YIELD_EVERY = 50_000
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function collect(rows: Iterable<FleetRow>): Promise<FleetRow[]> {
  const all: FleetRow[] = []
  for (const row of rows) {
    all.push(row)
    if (all.length % YIELD_EVERY === 0) await nextTurn()
  }
  return all
}

/** The rows of one RAI database file of the demo, from the demo's own generators. */
async function generateFloorFile(fleet: DemoFleet, server: DemoRds): Promise<FloorFile> {
  // The routing directory lists the users of all four RDS under their registry ids 1..4, in registration order.
  const routes: RoutedDatabase[] = fleet.rds.map((s, index) => ({plan: s.plan, rdsInstanceId: index + 1}))
  const sources: Record<FleetTable, () => Iterable<FleetRow>> = {
    tenants: () => tenantRows(server.plan),
    users: () => userRows(server.plan),
    locations: () => locationRows(server.plan),
    user_email_routing: () => routingRows(routes),
  }
  const tables: FloorTable[] = []
  for (const table of FLEET_TABLES.filter((t) => t !== 'user_email_routing' || server.master)) {
    const rows = await collect(sources[table]())
    tables.push({table, columns: rows.length > 0 ? Object.keys(rows[0]) : [], rows})
  }
  return {name: server.name, file: server.file, master: server.master, tables}
}

/** A SQLite literal: strings quoted with every ' doubled (SQLite has no backslash escapes), booleans as 0/1. */
function literal(value: FleetRow[string]): string {
  switch (typeof value) {
    case 'string':
      if (value.includes('\0')) throw new Error('a NUL character cannot be written as a SQLite literal')
      return value.includes("'") ? `'${value.replaceAll("'", "''")}'` : `'${value}'`
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`)
      return String(value)
    case 'boolean':
      return value ? '1' : '0'
    default:
      return 'NULL'
  }
}

/** The longest string V8 makes, in UTF-16 code units. */
const MAX_STRING_CHARS = bufferConstants.MAX_STRING_LENGTH

/**
 * The INSERT statements of one table: one, unless its text would pass V8's longest
 * string or SQLite's SQL length limit; then the fewest that fit, filled in order.
 */
async function insertStatements(t: FloorTable): Promise<string[]> {
  const head = `INSERT INTO "${t.table}" (${t.columns.map((c) => `"${c}"`).join(', ')}) VALUES `
  const tuples: string[] = new Array(t.rows.length)
  let chars = head.length
  for (let i = 0; i < t.rows.length; i++) {
    const row = t.rows[i]
    let tuple = '('
    for (let j = 0; j < t.columns.length; j++) {
      if (j > 0) tuple += ','
      tuple += literal(row[t.columns[j]])
    }
    tuples[i] = `${tuple})`
    chars += tuples[i].length + 1
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await nextTurn()
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: the bytes are counted only when that bound passes SQLite's limit.
  if (chars <= MAX_STRING_CHARS && chars * 3 <= SQLITE_MAX_SQL_BYTES) return [head + tuples.join(',')]
  const statements: string[] = []
  let chunk: string[] = []
  let chunkChars = head.length
  let chunkBytes = Buffer.byteLength(head)
  for (const tuple of tuples) {
    const bytes = Buffer.byteLength(tuple) + 1
    if (chunk.length > 0 && (chunkChars + tuple.length + 1 > MAX_STRING_CHARS || chunkBytes + bytes > SQLITE_MAX_SQL_BYTES)) {
      statements.push(head + chunk.join(','))
      chunk = []
      chunkChars = head.length
      chunkBytes = Buffer.byteLength(head)
    }
    chunk.push(tuple)
    chunkChars += tuple.length + 1
    chunkBytes += bytes
  }
  if (chunk.length > 0) statements.push(head + chunk.join(','))
  return statements
}

interface FloorRun {
  generateMs: number
  schemaMs: number
  /** Open to close of every file: statement text, execution, commit, close. */
  writeMs: number
  sqlTextMs: number
  execMs: number
  commitCloseMs: number
  /** Building the secondary indexes after the rows, as the demo does. */
  indexMs: number
  sqlChars: number
  statementsPerTable: Record<string, Partial<Record<FleetTable, number>>>
  bytesOnDisk: number
  counts: ReturnType<typeof countFleet>
}

async function floorRun(fleet: DemoFleet, dir: string): Promise<FloorRun> {
  const result: FloorRun = {
    generateMs: 0,
    schemaMs: 0,
    writeMs: 0,
    sqlTextMs: 0,
    execMs: 0,
    commitCloseMs: 0,
    indexMs: 0,
    sqlChars: 0,
    statementsPerTable: {},
    bytesOnDisk: 0,
    counts: {perFile: {}, totals: {tenants: 0, users: 0, ghostUsers: 0, locations: 0, routing: 0, obrien: 0, all: 0}},
  }
  // File by file, so that only one file's rows are held at a time (the large master's are ~1.3M objects).
  for (const server of fleet.rds.filter((s) => !s.missing)) {
    let started = performance.now()
    const file = await generateFloorFile(fleet, server)
    result.generateMs += performance.now() - started
    const path = join(dir, file.file)

    // The tables, as the demo creates them (knex's schema builder on better-sqlite3, the secondary
    // indexes left for after the rows): not timed.
    started = performance.now()
    const schemaDb = knexFactory({client: 'better-sqlite3', connection: {filename: path}, useNullAsDefault: true, pool: {min: 1, max: 1}})
    try {
      await createFleetSchema(schemaDb, {master: file.master, indexes: false})
    } finally {
      await schemaDb.destroy()
    }
    result.schemaMs += performance.now() - started

    const statements: Partial<Record<FleetTable, number>> = {}
    const opened = performance.now()
    const db = new Database(path)
    db.exec('BEGIN')
    try {
      for (const table of file.tables) {
        if (table.rows.length === 0) continue
        const textStarted = performance.now()
        const sqls = await insertStatements(table)
        table.rows = []
        const execStarted = performance.now()
        for (const sql of sqls) {
          await nextTurn()
          db.exec(sql)
        }
        const execEnded = performance.now()
        result.sqlTextMs += execStarted - textStarted
        result.execMs += execEnded - execStarted
        result.sqlChars += sqls.reduce((sum, sql) => sum + sql.length, 0)
        statements[table.table] = sqls.length
      }
      const commitStarted = performance.now()
      db.exec('COMMIT')
      db.close()
      const closed = performance.now()
      result.commitCloseMs += closed - commitStarted
      // The same indexes as the demo's files end with, built the same way (after the rows): timed too.
      const indexDb = knexFactory({client: 'better-sqlite3', connection: {filename: path}, useNullAsDefault: true, pool: {min: 1, max: 1}})
      try {
        await createFleetIndexes(indexDb, {master: file.master})
      } finally {
        await indexDb.destroy()
      }
      const indexed = performance.now()
      result.indexMs += indexed - closed
      result.writeMs += indexed - opened
    } catch (error) {
      if (db.open) {
        if (db.inTransaction) db.exec('ROLLBACK')
        db.close()
      }
      throw error
    }
    result.statementsPerTable[file.name] = statements
    result.bytesOnDisk += statSync(path).size
  }
  result.counts = countFleet(fleet, dir)
  return result
}

// ---------------------------------------------------------------------------
// The demo, built and toured.

const tourFleet = demoFleet('small')
const TOUR_STEPS = demoTour({
  rds: tourFleet.rds.map((r) => ({...r, ...planCounts(r.plan)})),
  sharedEmails: tourFleet.sharedEmails,
  supportTenant: tourFleet.supportTenant,
  billing: {...demoBillingWindow(new Date()), showcase: demoBillingShowcase('eu-central-1', tourFleet.rds[0].plan.tenants, DEMO_SEED)},
  failedJob: {id: 1, rds: 'ap-southeast-2', state: 'failed'},
}).length

function checkTour(run: Run, dir: string): void {
  const steps = (run.stdout.match(/^\d+\/\d+ {2}/gm) ?? []).length
  if (steps !== TOUR_STEPS) throw new Error(`raiops demo --tour --dir ${dir}: ${steps} steps shown, expected ${TOUR_STEPS}\n${run.stdout.slice(-2000)}`)
  if (run.stdout.includes('not expected on the demo'))
    throw new Error(`raiops demo --tour --dir ${dir}: a step ended with an exit code the tour does not expect\n${run.stdout}`)
}

/** The bytes of a built demo: its fleet files and its home. */
function demoBytes(dir: string): number {
  let total = 0
  for (const name of ['fleet', 'home']) {
    const sub = join(dir, name)
    if (existsSync(sub)) for (const entry of readdirSync(sub)) total += statSync(join(sub, entry)).size
  }
  return total
}

interface SizeResult {
  build: number[]
  tour: number[]
  floor: FloorRun[]
  rows: ReturnType<typeof countFleet> | null
  demoBytes: number
}

async function measure(size: DemoSize, runs: number, tourRuns: number): Promise<SizeResult> {
  const fleet = demoFleet(size)
  const result: SizeResult = {build: [], tour: [], floor: [], rows: null, demoBytes: 0}
  for (let i = 1; i <= runs; i++) {
    // The floor first, then the demo: each in fresh directories, one after the other on the same machine.
    const floorDir = join(tmp.path, `${size}-floor-${i}`)
    mkdirSync(floorDir)
    const floor = await floorRun(fleet, floorDir)
    result.floor.push(floor)
    rmSync(floorDir, {recursive: true, force: true})
    log(
      `${size} floor ${i}/${runs}: write ${(floor.writeMs / 1000).toFixed(2)} s (text ${(floor.sqlTextMs / 1000).toFixed(2)} s, exec ${(floor.execMs / 1000).toFixed(2)} s), generated in ${(floor.generateMs / 1000).toFixed(2)} s`,
    )

    const dir = join(tmp.path, `${size}-demo-${i}`)
    const build = await raiopsOk(['demo', ...(size === 'small' ? [] : ['--size', size]), '--quiet', '--dir', dir])
    if (!build.stdout.includes('built the raiops demo')) throw new Error(`raiops demo --quiet --dir ${dir} did not build:\n${build.stdout}`)
    result.build.push(build.ms)
    const rows = countFleet(fleet, join(dir, 'fleet'))
    sameRows(`${size} run ${i}`, rows.perFile, floor.counts.perFile)
    result.rows = rows
    result.demoBytes = demoBytes(dir)
    log(`${size} build ${i}/${runs}: ${(build.ms / 1000).toFixed(2)} s (${rows.totals.all.toLocaleString('en')} rows)`)

    if (i <= tourRuns) {
      // The first tour on this demo: sync:all fills the routing cache from nothing, as after `raiops demo`.
      const tour = await raiopsOk(['demo', '--tour', '--dir', dir])
      checkTour(tour, dir)
      result.tour.push(tour.ms)
      log(`${size} tour ${i}/${tourRuns}: ${(tour.ms / 1000).toFixed(2)} s`)
    }
    rmSync(dir, {recursive: true, force: true})
  }
  return result
}

function report(size: DemoSize, r: SizeResult, tourRuns: number) {
  const fleet = demoFleet(size)
  const buildMs = median(r.build)
  const floorMs = median(r.floor.map((f) => f.writeMs))
  /** The database's part of the floor: the statements run, the commit and the close, without building their text. */
  const databaseMs = median(r.floor.map((f) => f.execMs + f.commitCloseMs + f.indexMs))
  const rows = r.rows?.totals
  const last = r.floor.at(-1)
  return {
    rows: rows && {
      what: 'rows in the RAI database files the build wrote (counted after it, the same in the floor): the missing RDS has no file, its users are in the routing directory',
      files: Object.keys(r.rows?.perFile ?? {}).length,
      tenants: rows.tenants,
      usersInclGhosts: rows.users,
      ghostUsers: rows.ghostUsers,
      locations: rows.locations,
      routing: rows.routing,
      total: rows.all,
      usersNamedOBrien: rows.obrien,
      routingRdsIds: r.rows?.perFile[fleet.rds.find((s) => s.master)?.name ?? '']?.routingRdsIds,
    },
    build: {
      command: `raiops demo${size === 'small' ? '' : ` --size ${size}`} --quiet --dir <fresh dir>`,
      ...stats(r.build),
      rowsPerS: rows ? Math.round(rows.all / (buildMs / 1000)) : null,
      demoDirMb: Math.round(r.demoBytes / 2 ** 20),
    },
    tour: {
      command: 'raiops demo --tour --dir <the demo just built>',
      what: `the ${TOUR_STEPS} tour steps, each a raiops process; the first tour on each fresh build, so its sync:all copies the whole routing directory into the SQLite control database`,
      runs: tourRuns,
      ...(r.tour.length > 0 ? stats(r.tour) : {skipped: true}),
    },
    floor: {
      what: 'the same rows (demoFleet plans, the same generators, routing with RDS ids 1..4) into fresh SQLite files with better-sqlite3: one multi-row INSERT per table, literals inlined (quotes doubled), one transaction per file, then the secondary indexes built after the rows, as the demo builds them',
      timed: 'from opening each file to its indexes built: building the statement text, running it, COMMIT and close, then the indexes',
      schema: 'created beforehand with createFleetSchema, secondary indexes left for after the rows (not timed; schemaMs)',
      statementsPerTable: last?.statementsPerTable,
      writeMs: stats(r.floor.map((f) => f.writeMs)),
      sqlTextMedianMs: ms1(median(r.floor.map((f) => f.sqlTextMs))),
      execMedianMs: ms1(median(r.floor.map((f) => f.execMs))),
      commitCloseMedianMs: ms1(median(r.floor.map((f) => f.commitCloseMs))),
      indexMedianMs: ms1(median(r.floor.map((f) => f.indexMs))),
      generateMs: stats(r.floor.map((f) => f.generateMs)),
      schemaMedianMs: ms1(median(r.floor.map((f) => f.schemaMs))),
      sqlMillionChars: last ? Math.round(last.sqlChars / 1e5) / 10 : null,
      fleetFilesMb: last ? Math.round(last.bytesOnDisk / 2 ** 20) : null,
      rowsPerS: rows ? Math.round(rows.all / (floorMs / 1000)) : null,
    },
    ratios: {
      buildToFloor: ratio(buildMs / floorMs),
      buildToFloorWithoutText: ratio(buildMs / databaseMs),
      buildToGenerateAndFloor: ratio(buildMs / (floorMs + median(r.floor.map((f) => f.generateMs)))),
    },
  }
}

// ---------------------------------------------------------------------------

try {
  const probe = new Database(':memory:')
  const sqliteVersion = (probe.prepare('SELECT sqlite_version() AS v').get() as {v: string}).v
  probe.close()
  const environment = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    betterSqlite3: (createRequire(import.meta.url)('better-sqlite3/package.json') as {version: string}).version,
    sqlite: sqliteVersion,
    loadavgAtStart,
  }
  log(`node ${environment.node}, ${environment.cpus} CPUs, better-sqlite3 ${environment.betterSqlite3}, SQLite ${sqliteVersion}`)
  // The generator computes its few bcrypt hashes (Laravel's cost 10) once per process: not part of any floor's generateMs.
  const hashesStarted = performance.now()
  userRows(demoFleet('small').rds[0].plan).next()
  const bcryptHashesMs = ms1(performance.now() - hashesStarted)

  const small = await measure('small', RUNS, RUNS)
  const smallReport = report('small', small, RUNS)
  const demoMs = median(small.build) + median(small.tour)
  const large = LARGE_RUNS > 0 ? await measure('large', LARGE_RUNS, Math.min(LARGE_TOUR_RUNS, LARGE_RUNS)) : null

  console.log(
    JSON.stringify(
      {
        benchmark: 'demo',
        environment: {...environment, loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100)},
        setup: {
          bcryptHashesMs,
          smallRuns: RUNS,
          largeRuns: LARGE_RUNS,
          largeTourRuns: Math.min(LARGE_TOUR_RUNS, LARGE_RUNS),
          tourSteps: TOUR_STEPS,
          databaseServers: 'none: SQLite files in temp dirs',
        },
        small: {
          ...smallReport,
          goalMs: GOAL_MS,
          goalOn: 'what `raiops demo` runs on a new dir: the build, then the tour (median build + median tour)',
          demoMs: ms1(demoMs),
          withinGoal: demoMs <= GOAL_MS,
          buildWithinGoal: median(small.build) <= GOAL_MS,
        },
        large: large ? report('large', large, Math.min(LARGE_TOUR_RUNS, LARGE_RUNS)) : {skipped: true},
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
