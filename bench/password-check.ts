// `password:check --all` over a MariaDB master whose user_email_routing holds
// 1,000,000 rows, generated server-side (INSERT … SELECT from MariaDB's
// seq_1_to_N): 40,000 people on 3 tenants each (120,000 rows, 12 %), the rest
// one row per person; every 100th person has a user row whose hash differs
// from its routing row, every 100th + 50 a routing row with another hash than
// its two others. Two tenant RDS (MariaDB databases on the same server) hold
// the user rows of the multi-tenant people (rds-1 two tenants' worth, rds-2
// one); single-tenant people's user rows are not created, as --all never reads
// them. The control database is on the same MariaDB.
// Figure: the service call in this process (what the command runs between
// parse and print), warm connections: the master's one statement (the routing
// rows of every multi-tenant email), one per RDS (their user rows by id), the
// comparison in memory. Floor: the one statement
// `SELECT LOWER(email) … GROUP BY LOWER(email) HAVING COUNT(*) > 1 AND
// COUNT(DISTINCT password_hash) > 1` run directly on the same master; it finds
// only the routing-row drift, not the user rows (which the figure reads too).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run bench:password-check [-- --runs 5] [--rows 1000000] [--trace: each statement and its time on stderr]
import type {Knex} from 'knex'

import {checkPasswords, type FleetPasswordCheck} from '../src/lib/password/check.js'
import {addRds} from '../src/lib/rds/service.js'
import {makeContext} from '../test/support/context.js'
import {createControlDb} from '../test/support/control-db.js'
import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, stats, timed} from './support.js'

const runs = numberArgument('--runs', 5)
const ROWS = numberArgument('--rows', 1_000_000)
const PEOPLE_MULTI = Math.floor((ROWS * 0.12) / 3)
const MULTI_ROWS = PEOPLE_MULTI * 3
const GOAL = 2

const log = benchLog('password-check')
cleanUpOnSignals(log)

/** A 60-character `$2y$12$` hash of `seed` (an SQL expression), as bcrypt's alphabet allows. */
const hashSql = (seed: string): string => `CONCAT('$2y$12$', LEFT(CONCAT(SHA2(${seed}, 256), SHA2(CONCAT('x', ${seed}), 256)), 53))`
const FLOOR_SQL = 'SELECT LOWER(email) AS email FROM user_email_routing GROUP BY LOWER(email) HAVING COUNT(*) > 1 AND COUNT(DISTINCT password_hash) > 1'

async function withDirect<T>(fixture: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> {
  const db = await fixture.knex()
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

try {
  log('creating the master and two RDS')
  const plan = {engine: 'mysql' as const, tenants: 100, usersPerTenant: 0, ghostUsersPerTenant: 0, locationsPerTenant: 0}
  const [master, rds1, rds2] = await Promise.all([
    createRaiFixture({...plan, master: true, tenants: 1}),
    createRaiFixture({...plan, seed: 2}),
    createRaiFixture({...plan, seed: 3}),
  ])
  cleanups.push(() => Promise.all([master.drop(), rds1.drop(), rds2.drop()]))
  const control = await createControlDb('mysql')
  cleanups.push(() => control.drop())
  const ctx = makeContext(control.db, {connectTimeoutMs: 5000, queryTimeoutMs: 600_000})
  cleanups.push(() => ctx.close())
  const ids: number[] = []
  for (const [k, f] of [master, rds1, rds2].entries()) {
    const {rds} = await addRds(ctx, {
      name: k === 0 ? 'master' : `rds-${k}`,
      engine: 'mysql',
      host: f.host,
      port: f.port,
      username: f.user,
      password: f.password || null,
      raiDatabase: f.database,
      master: k === 0,
      test: false,
    })
    ids.push(rds.id)
  }
  const [, rds1Id, rds2Id] = ids

  // Row n (1…ROWS). n ≤ MULTI_ROWS: person ceil(n/3), slot (n-1) % 3: slots 0 and 1 on rds-1 (tenants 1+p%50 and 51+p%50), slot 2 on rds-2 (tenant 1+p%100).
  // Beyond: one person each, alternately on rds-1 and rds-2. user_id = n.
  const person = 'CEIL(seq / 3)'
  const slot = '((seq - 1) % 3)'
  const routingHash = `IF(seq <= ${MULTI_ROWS} AND ${person} % 100 = 50 AND ${slot} = 1, ${hashSql(`CONCAT('other', ${person})`)}, ${hashSql(`CONCAT('p', IF(seq <= ${MULTI_ROWS}, ${person}, seq))`)})`
  log(`generating ${ROWS} routing rows (${MULTI_ROWS} of ${PEOPLE_MULTI} multi-tenant people)`)
  const generatedMs = await timed(() =>
    withDirect(master, async (db) => {
      await db('user_email_routing').delete()
      await db.raw(`
        INSERT INTO user_email_routing (id, email, tenant_id, rds_instance_id, user_id, password_hash, status, created_at, updated_at)
        SELECT seq,
          CONCAT(IF(seq % 7 = 0, 'P', 'p'), IF(seq <= ${MULTI_ROWS}, ${person}, seq), '@example.com'),
          IF(seq <= ${MULTI_ROWS}, IF(${slot} = 0, 1 + ${person} % 50, IF(${slot} = 1, 51 + ${person} % 50, 1 + ${person} % 100)), 1 + seq % 100),
          IF(seq <= ${MULTI_ROWS}, IF(${slot} = 2, ${rds2Id}, ${rds1Id}), IF(seq % 2 = 0, ${rds1Id}, ${rds2Id})),
          seq, ${routingHash}, 'active', NOW(), NOW()
        FROM seq_1_to_${ROWS}`)
      await db.raw('ANALYZE TABLE user_email_routing')
    }),
  )
  // The user rows of the multi-tenant people, as the routing rows say, except every 100th person's slot-2 row (another hash).
  const userHash = `IF(${person} % 100 = 0 AND ${slot} = 2, ${hashSql(`CONCAT('drift', ${person})`)}, ${routingHash})`
  for (const [f, slots] of [
    [rds1, '0, 1'],
    [rds2, '2'],
  ] as const) {
    await withDirect(f, (db) =>
      db.raw(`
        INSERT INTO users (id, tenant_id, name, email, password, status, is_ghost, created_at, updated_at)
        SELECT seq, IF(${slot} = 0, 1 + ${person} % 50, IF(${slot} = 1, 51 + ${person} % 50, 1 + ${person} % 100)), CONCAT('Person ', ${person}),
          CONCAT('p', ${person}, '@example.com'), ${userHash}, 'active', 0, NOW(), NOW()
        FROM seq_1_to_${MULTI_ROWS} WHERE ${slot} IN (${slots})`),
    )
  }
  log(`generated in ${Math.round(generatedMs)} ms`)

  const masterDb = await master.knex()
  cleanups.push(() => masterDb.destroy())
  const floorRun = async (): Promise<number> => {
    let found = 0
    const ms = await timed(async () => (found = ((await masterDb.raw(FLOOR_SQL)) as [unknown[]])[0].length))
    if (found !== PEOPLE_MULTI / 100) throw new Error(`the floor found ${found} emails`)
    return ms
  }
  let result: FleetPasswordCheck | undefined
  const figureRun = () => timed(async () => (result = (await checkPasswords(ctx, {all: true, timeoutMs: 600_000, limit: 50})) as FleetPasswordCheck))
  if (process.argv.includes('--trace')) {
    const {getRds} = await import('../src/lib/rds/repository.js')
    const {connectionSpecFor} = await import('../src/lib/rds/service.js')
    for (const id of ids) {
      const db = await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(control.db, id)))
      const started = new Map<string, number>()
      db.on('query', (q: {__knexQueryUid: string}) => started.set(q.__knexQueryUid, performance.now()))
      db.on('query-response', (_r: unknown, q: {__knexQueryUid: string; sql: string}) =>
        log(`rds ${id}: ${Math.round(performance.now() - (started.get(q.__knexQueryUid) ?? 0))} ms ${q.sql.slice(0, 90)}`),
      )
    }
  }
  log('warming up')
  await floorRun()
  await figureRun()
  const expected = 2 * Math.floor(PEOPLE_MULTI / 100)
  const figures: number[] = []
  const floors: number[] = []
  for (let i = 0; i < runs; i++) {
    floors.push(await floorRun())
    figures.push(await figureRun())
    const r = result as FleetPasswordCheck
    if (r.multiTenantEmails !== PEOPLE_MULTI || r.outOfSync !== expected || r.unavailable !== 0)
      throw new Error(`unexpected result: ${JSON.stringify({multi: r.multiTenantEmails, outOfSync: r.outOfSync, unavailable: r.unavailable})}`)
  }
  const r = result as FleetPasswordCheck
  console.log(
    JSON.stringify(
      {
        benchmark: 'password-check',
        command: 'password:check --all (service call in process, warm connections)',
        setup: {
          routingRows: ROWS,
          multiTenantEmails: PEOPLE_MULTI,
          multiTenantRows: MULTI_ROWS,
          tenantRds: 2,
          userRowsRead: MULTI_ROWS,
          drifted: {userRowDiffers: Math.floor(PEOPLE_MULTI / 100), routingRowsDiffer: Math.floor(PEOPLE_MULTI / 100)},
          server: 'MariaDB (local), master, RDS and control database on it',
        },
        result: {multiTenantEmails: r.multiTenantEmails, outOfSync: r.outOfSync, byServer: r.byServer},
        runs,
        figure: stats(figures),
        floor: {what: `${FLOOR_SQL}, run directly on the master (finds the routing-row drift only; reads no user row)`, ...stats(floors)},
        ratio: ratio(median(figures) / median(floors)),
        goal: GOAL,
        met: median(figures) / median(floors) <= GOAL,
        generateMs: ms1(generatedMs),
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
