// tenant:create end to end (the service the command calls: prepare, enqueue, run the job
// in the foreground; pools warm) on local MariaDB: the control database, a master RDS and a
// second RDS, with 2 operators whose ghosts every tenant gets, 3 locations and no plan.
// No owner password: the bcrypt hash (the same cost whatever writes the rows) is left out.
// Round trips are counted per server with knex's 'query' events.
// Against the floor, measured in the same run: the same rows written by a plain script on
// the same connections, with the same round trips on the fleet servers (each step's look-up
// before its write, the writes, the read-back) and, on the control database, only the rows
// that are the product (the reservation and the tenant_master row), without the job's
// bookkeeping (job and step rows, checkpoints, leases, audit entries).
// The control database's round trips are also given by what they are for (controlRoundTrips: product,
// job, audit, transaction).
// Prints one JSON document on stdout.
// Usage: npm run bench:tenant-create [-- --runs 15]
import type {Knex} from 'knex'

import {seedRoles} from '../src/lib/auth/seed.js'
import {addOperator} from '../src/lib/operator/service.js'
import {attachReservation, reserveSlot} from '../src/lib/placement/placement.js'
import {createTenant} from '../src/lib/provisioning/create.js'
import {getRds} from '../src/lib/rds/repository.js'
import {connectionSpecFor, addRds} from '../src/lib/rds/service.js'
import {runTenantSync} from '../src/lib/sync/index.js'
import {fleetTime} from '../src/lib/tenant/status-change.js'
import {ghostEmail, ghostName, ghostOperators, unusablePassword} from '../src/lib/user/ghosts.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, stats, timed, benchControlDb, mysqlRdsFields} from './support.js'

const runs = numberArgument('--runs', 15)
const LOCATIONS = ['Location 1', 'Location 2', 'Location 3']
const GHOST_DOMAIN = 'raiops.invalid'
const log = benchLog('tenant-create')
cleanUpOnSignals(log)

type Counts = Record<string, number>

try {
  log('fixtures: control database, master and one RDS on the local MariaDB')
  const plan = {engine: 'mysql' as const, tenants: 20, usersPerTenant: 3, ghostUsersPerTenant: 0, locationsPerTenant: 2}
  const [master, second] = await Promise.all([createRaiFixture({...plan, master: true}), createRaiFixture({...plan, seed: 2})])
  cleanups.push(
    () => master.drop(),
    () => second.drop(),
  )
  const {db, ctx} = await benchControlDb('raiops_bench_tc', 60_000)
  const masterId = (await addRds(ctx, mysqlRdsFields('main', master.database, true))).rds.id
  const secondId = (await addRds(ctx, mysqlRdsFields('second', second.database, false))).rds.id
  const masterDb = await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(db, masterId)))
  const secondDb = await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(db, secondId)))
  await masterDb('user_email_routing').update({rds_instance_id: masterId})
  await seedRoles(db, new Date())
  await addOperator(ctx, {email: 'ana@example.com', name: 'Ana', role: 'system_admin', password: 'bench-operator-1'})
  await addOperator(ctx, {email: 'bo@example.com', name: 'Bo', role: 'support_admin', password: 'bench-operator-2'})
  await runTenantSync(ctx, {maxAgeMs: 0, concurrency: 2, deadlineMs: 600_000, force: true})

  // Round trips per server, counted from knex's query events.
  const servers: Array<[string, Knex]> = [
    ['control', db],
    ['master', masterDb],
    ['rds', secondDb],
  ]
  let counts: Counts = {}
  let spent: Counts = {}
  // The control database's round trips by what they are for: the job's rows, the audit chain, transaction
  // boundaries, and the rest (the product: placement, the registry, the look-ups of the servers).
  let kinds: Counts = {}
  const kindOf = (sql: string): string =>
    /^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i.test(sql.trim())
      ? 'transaction'
      : /[`"](jobs|job_steps)[`"]/.test(sql)
        ? 'job'
        : /[`"](audit_head|audit_logs)[`"]/.test(sql)
          ? 'audit'
          : 'product'
  const startedAt = new Map<string, number>()
  for (const [name, knex] of servers) {
    knex.on('query', (q: {__knexQueryUid: string; sql: string}) => {
      if (name === 'control') kinds[kindOf(q.sql)] = (kinds[kindOf(q.sql)] ?? 0) + 1
      counts[name] = (counts[name] ?? 0) + 1
      startedAt.set(q.__knexQueryUid, performance.now())
    })
    const end = (_: unknown, q: {__knexQueryUid: string}) => {
      const t0 = startedAt.get(q.__knexQueryUid)
      if (t0 !== undefined) spent[name] = (spent[name] ?? 0) + performance.now() - t0
      startedAt.delete(q.__knexQueryUid)
    }
    knex.on('query-response', end)
    knex.on('query-error', end)
  }
  const counted = async (fn: () => Promise<unknown>): Promise<{ms: number; trips: Counts; spent: Counts; kinds: Counts}> => {
    counts = {}
    spent = {}
    kinds = {}
    const ms = await timed(fn)
    return {ms, trips: {...counts}, spent: {...spent}, kinds: {...kinds}}
  }

  const request = (name: string) => ({
    name,
    owner: {name: 'Owner', email: `owner@${name.toLowerCase().replace(/\W+/g, '-')}.example`, password: null},
    locations: LOCATIONS.join(','),
    rds: 'second',
    capacity: 10_000,
    ghostDomain: GHOST_DOMAIN,
    graceDays: 7,
  })
  const viaJob = async (name: string) => {
    const result = await createTenant(ctx, request(name), {detach: false})
    if (result.job.state !== 'done') throw new Error(`${name}: job ${result.job.state}: ${result.job.error}`)
  }

  // The floor: the same rows and fleet round trips, plainly.
  let floorJob = 1_000_000
  const plain = async (name: string) => {
    const email = `owner@${name.toLowerCase().replace(/\W+/g, '-')}.example`
    const now = new Date()
    const at = fleetTime(now)
    const reservation = await reserveSlot(ctx, {jobId: ++floorJob, tenantName: name, capacity: 10_000, rds: 'second'})
    const rds = secondDb
    await rds('tenants').whereRaw('LOWER(name) = ?', [name.toLowerCase()]).select('id')
    const [tenantId] = (await rds('tenants').insert({
      name,
      primary_contact_name: 'Owner',
      primary_contact_email: email,
      status: 'active',
      created_at: at,
      updated_at: at,
    })) as number[]
    await rds('users').where({tenant_id: tenantId}).whereRaw('LOWER(email) = ?', [email]).first('id')
    const [userId] = (await rds('users').insert({
      tenant_id: tenantId,
      name: 'Owner',
      email,
      password: unusablePassword(),
      status: 'active',
      is_ghost: false,
      created_at: at,
      updated_at: at,
    })) as number[]
    await rds('locations').where({tenant_id: tenantId}).select('id', 'name')
    await rds('locations').insert(LOCATIONS.map((n) => ({tenant_id: tenantId, name: n, created_at: at, updated_at: at})))
    await rds('locations').where({tenant_id: tenantId}).select('id', 'name')
    await masterDb('user_email_routing').where({tenant_id: tenantId, rds_instance_id: secondId}).whereRaw('LOWER(email) = ?', [email]).first('id')
    const password = (await rds('users').where({id: userId}).first('password')) as {password: string}
    await masterDb('user_email_routing').insert({
      email,
      tenant_id: tenantId,
      rds_instance_id: secondId,
      user_id: userId,
      password_hash: password.password,
      status: 'active',
      created_at: at,
      updated_at: at,
    })
    await db.transaction(async (tx) => {
      const [tm] = (await tx('tenant_master').insert({
        rds_instance_id: secondId,
        remote_tenant_id: tenantId,
        name,
        primary_contact_name: 'Owner',
        primary_contact_email: email,
        status: 'active',
        cached_user_count: 1,
        cached_location_count: LOCATIONS.length,
        created_at: now,
        updated_at: now,
      })) as number[]
      await attachReservation(tx, {jobId: reservation.jobId, tenantMasterId: tm})
    })
    const operators = await ghostOperators(db)
    await rds('users')
      .where({tenant_id: tenantId})
      .whereIn(
        'email',
        operators.map((o) => ghostEmail(o.id, GHOST_DOMAIN)),
      )
      .select('email')
    await rds('users').insert(
      operators.map((o) => ({
        tenant_id: tenantId,
        name: ghostName(o.name),
        email: ghostEmail(o.id, GHOST_DOMAIN),
        password: unusablePassword(),
        status: 'active',
        is_ghost: true,
        created_at: at,
        updated_at: at,
      })),
    )
    // The read-back.
    await rds('tenants').whereRaw('LOWER(name) = ?', [name.toLowerCase()]).select('id', 'name')
    await rds('users').where({tenant_id: tenantId}).select('id', 'email', 'password')
    await rds('locations').where({tenant_id: tenantId}).select('name')
    await masterDb('user_email_routing').where({tenant_id: tenantId, rds_instance_id: secondId}).select('id')
    await db('tenant_master').where({rds_instance_id: secondId, remote_tenant_id: tenantId}).select('id')
  }

  log('warm-up: one of each (pools, statement caches)')
  await viaJob('Warm Job')
  await plain('Warm Plain')

  const samples = {figure: [] as number[], floor: [] as number[]}
  const trips = {figure: [] as Counts[], floor: [] as Counts[]}
  const times = {figure: [] as Counts[], floor: [] as Counts[]}
  const controlKinds = {figure: [] as Counts[], floor: [] as Counts[]}
  for (let run = 0; run < runs; run++) {
    log(`run ${run + 1}/${runs}`)
    const job = await counted(() => viaJob(`Bench Job ${run}`))
    samples.figure.push(job.ms)
    trips.figure.push(job.trips)
    times.figure.push(job.spent)
    controlKinds.figure.push(job.kinds)
    const floor = await counted(() => plain(`Bench Plain ${run}`))
    samples.floor.push(floor.ms)
    trips.floor.push(floor.trips)
    times.floor.push(floor.spent)
    controlKinds.floor.push(floor.kinds)
  }
  const medians = (keys: string[]) => (list: Counts[]) => Object.fromEntries(keys.map((s) => [s, ms1(median(list.map((c) => c[s] ?? 0)))]))
  const tripsOf = medians(['control', 'master', 'rds'])
  const controlOf = medians(['product', 'job', 'audit', 'transaction'])
  const figure = median(samples.figure)
  const floor = median(samples.floor)
  console.log(
    JSON.stringify(
      {
        benchmark: 'tenant-create',
        what: `tenant:create (the service, warm) of a tenant with ${LOCATIONS.length} locations, an owner without password (no bcrypt), 2 ghosts, on local MariaDB (control database, master, RDS)`,
        runs,
        figure: {
          ...stats(samples.figure),
          roundTrips: tripsOf(trips.figure),
          controlRoundTrips: controlOf(controlKinds.figure),
          queryMsByServer: tripsOf(times.figure),
        },
        floor: {
          ...stats(samples.floor),
          ms: ms1(floor),
          roundTrips: tripsOf(trips.floor),
          controlRoundTrips: controlOf(controlKinds.floor),
          queryMsByServer: tripsOf(times.floor),
          what: 'the same rows by a plain script on the same connections: the same fleet round trips (look-ups, writes, read-back), on the control database only the reservation and the tenant_master row',
        },
        ratio: ratio(figure / floor),
        target: 'ratio ≤ 1.5',
        note: "the remaining difference is the control database (controlRoundTrips against the floor's): creating the job already claimed (its row, its step rows in one INSERT, job.create; one transaction), one guarded statement per step recording its output and starting the next, the job's row when what it concerns changes (after place and register), the end of the run (job done, the steps' audit entries in one batch, in the last step's transaction), and product work the floor leaves out: placement asked before the job exists, register's look-up before it inserts, done's cached counts, the registry rows of the RDS and the master (read once per run)",
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
