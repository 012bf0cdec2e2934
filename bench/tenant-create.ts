// tenant:create end to end (the service the command calls: prepare, enqueue, run the job
// in the foreground; pools warm) on local MariaDB: the control database, a master RDS and a
// second RDS, with 2 operators whose ghosts every tenant gets, 3 locations and no plan.
// No owner password: the bcrypt hash (the same cost whatever writes the rows) is left out.
// Round trips are counted per server with knex's 'query' events (BEGIN and COMMIT included).
// Two floors, each measured in the same run, the three variants taking turns sample by sample:
// - floorSameRoundTrips (the goal's `ratio`): the same rows written by a script with the same round
//   trips and no job bookkeeping. A plain script issues the job's own statements, server by server
//   and in the job's transactions (the same number of round trips and of commits per server,
//   checked every run: sameRoundTripsAsJob), writing the same rows: the product rows and the job's
//   own (its job row, its step rows with each step's output, its audit entries through the audit
//   writer's appendAudits), with the same look-ups. None of the engine: no runner, no lease or the
//   guard on each step record, no state machine, no step definitions, no parsing of stored outputs,
//   no input validation. The ratio is what the engine itself costs beyond the writes it makes.
// - floorProductOnly (`ratioProductOnly`, the strict comparison): only the product rows written
//   plainly, with the same fleet round trips (each step's look-ups before its write, the writes,
//   the read-back) and, on the control database, only the reservation and the tenant_master row,
//   without the job's rows, checkpoints, leases and audit entries. The difference between the two
//   ratios is the job's durability: each step's output stored as it completes, which a resumable
//   job cannot do without.
// The control database's round trips are also given by what they are for (controlRoundTrips: product,
// job, audit, transaction).
// Prints one JSON document on stdout.
// Usage: npm run bench:tenant-create [-- --runs 15]
import type {Knex} from 'knex'

import {appendAudits} from '../src/lib/audit/writer.js'
import {seedRoles} from '../src/lib/auth/seed.js'
import {addOperator} from '../src/lib/operator/service.js'
import {attachReservation, choosePlacement, reserveSlot} from '../src/lib/placement/placement.js'
import {createTenant} from '../src/lib/provisioning/create.js'
import {getRds} from '../src/lib/rds/repository.js'
import {connectionSpecFor, addRds} from '../src/lib/rds/service.js'
import {runTenantSync} from '../src/lib/sync/index.js'
import {fleetTime} from '../src/lib/tenant/status-change.js'
import {searchText} from '../src/lib/text/search.js'
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

  // floorProductOnly: the product rows and the fleet round trips, plainly; on the control database only the product.
  let floorJob = 1_000_000
  const productOnly = async (name: string) => {
    const email = `owner@${name.toLowerCase().replace(/\W+/g, '-')}.example`
    const now = new Date()
    const at = fleetTime(now)
    const reservation = await reserveSlot(ctx, {jobId: ++floorJob, tenantName: name, capacity: 10_000, rds: 'second'})
    const rds = secondDb
    await rds('tenants').whereRaw('LOWER(name) = ?', [name.toLowerCase()]).where({created_at: at, primary_contact_email: email}).first('id')
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

  // floorSameRoundTrips: what the job writes, issued by a script. Per server the job's statements in the job's
  // order and transactions (the same round trips, BEGIN/COMMIT included): the placement asked first, the job row
  // and its step rows with job.create's audit entry, then each step's look-ups and writes followed by one UPDATE
  // recording its output and starting the next step, the job's row when what it concerns changes, and at the end
  // the job done, the steps marked audited and their entries appended (the audit writer's appendAudits). None of
  // the engine: no runner, no lease or its guard on the step records, no state machine, no step definitions, no
  // parsing of stored outputs, no validation of the input.
  const holder = `bench-script:${process.pid}`
  const recordStep = (q: Knex, jobId: number, position: number, output: object, at: Date) =>
    q.raw(
      'UPDATE `job_steps` SET `state` = CASE `position` WHEN ? THEN ? WHEN ? THEN ? ELSE `state` END, `output` = CASE `position` WHEN ? THEN ? ELSE `output` END, `finished_at` = CASE `position` WHEN ? THEN ? ELSE `finished_at` END, `attempts` = CASE `position` WHEN ? THEN 1 ELSE `attempts` END, `started_at` = CASE `position` WHEN ? THEN ? ELSE `started_at` END, `updated_at` = ? WHERE `job_id` = ? AND `position` IN (?, ?)',
      [
        position,
        'done',
        position + 1,
        'running',
        position,
        JSON.stringify(output),
        position,
        at,
        position + 1,
        position + 1,
        at,
        at,
        jobId,
        position,
        position + 1,
      ],
    )
  const sameTrips = async (name: string) => {
    const email = `owner@${name.toLowerCase().replace(/\W+/g, '-')}.example`
    const key = name.toLowerCase()
    const input = {
      name,
      owner: {name: 'Owner', email, passwordHashEnc: null},
      contactName: 'Owner',
      contactEmail: email,
      locations: LOCATIONS,
      plan: null,
      rds: 'second',
      capacity: 10_000,
      ghostDomain: GHOST_DOMAIN,
      graceDays: 7,
    }
    const stepNames = ['place', 'tenant', 'owner', 'locations', 'routing', 'register', 'subscription', 'ghosts', 'verify', 'done']
    const outputs: Array<{output: object; finishedAt: string}> = []
    const record = async (q: Knex, jobId: number, output: object) => {
      const at = new Date()
      await recordStep(q, jobId, outputs.length, output, at)
      outputs.push({output, finishedAt: at.toISOString()})
    }
    // Asked before the job exists.
    await choosePlacement(ctx, {capacity: 10_000, rds: 'second'})
    const created = new Date()
    const jobId = await db.transaction(async (tx) => {
      const [id] = (await tx('jobs').insert({
        kind: 'tenant.create',
        input: JSON.stringify(input),
        state: 'running',
        attempts: 1,
        created_by: ctx.audit.actor,
        tenant_name: name,
        tenant_master_id: null,
        rds_instance_id: null,
        error: null,
        error_kind: null,
        run_after: created,
        locked_by: holder,
        lease_expires_at: new Date(created.getTime() + 60_000),
        heartbeat_at: created,
        created_at: created,
        updated_at: created,
        started_at: created,
        finished_at: null,
      })) as number[]
      await tx('job_steps').insert(
        stepNames.map((step, position) => ({
          job_id: id,
          position,
          name: step,
          state: position === 0 ? 'running' : 'pending',
          attempts: position === 0 ? 1 : 0,
          retries: 0,
          started_at: position === 0 ? created : null,
          finished_at: null,
          output: null,
          checkpoint: null,
          error: null,
          audited_at: null,
          updated_at: created,
        })),
      )
      await appendAudits(
        tx,
        ctx.audit,
        [{action: 'job.create', targetType: 'job', targetId: id, newValues: {kind: 'tenant.create', input, steps: stepNames}}],
        created,
      )
      return id
    })
    // place: the reservation, the job's server and the step's record commit together.
    const reservation = await db.transaction(async (tx) => {
      const taken = await reserveSlot({...ctx, db: tx}, {jobId, tenantName: name, capacity: 10_000, rds: 'second'})
      await tx('jobs').where({id: jobId}).update({rds_instance_id: taken.rds.id})
      await record(tx, jobId, {rdsId: taken.rds.id, rdsName: taken.rds.name, reservationId: taken.id, reservedAt: taken.createdAt})
      return taken
    })
    const rdsId = reservation.rds.id
    const marker = fleetTime(new Date(reservation.createdAt))
    const rds = secondDb
    await db('rds_instances').where({id: rdsId}).first()
    // tenant
    await rds('tenants').where({name: key}).whereRaw('LOWER(name) = ?', [key]).where({created_at: marker, primary_contact_email: email}).first('id')
    await rds('tenants').where({name: key}).whereRaw('LOWER(name) = ?', [key]).select('id', 'created_at', 'primary_contact_email').orderBy('id')
    const [tenantId] = (await rds('tenants').insert({
      name,
      primary_contact_name: 'Owner',
      primary_contact_email: email,
      status: 'active',
      created_at: marker,
      updated_at: marker,
    })) as number[]
    await record(db, jobId, {tenantId})
    // owner
    await rds('users').where({tenant_id: tenantId, email}).whereRaw('LOWER(email) = ?', [email]).first('id')
    const [userId] = (await rds('users').insert({
      tenant_id: tenantId,
      name: 'Owner',
      email,
      password: unusablePassword(),
      status: 'active',
      is_ghost: false,
      created_at: marker,
      updated_at: marker,
    })) as number[]
    await record(db, jobId, {userId})
    // locations
    await rds('locations').where({tenant_id: tenantId}).select('id', 'name')
    const at = fleetTime(new Date())
    await rds('locations').insert(LOCATIONS.map((n) => ({tenant_id: tenantId, name: n, created_at: at, updated_at: at})))
    const locationRows = (await rds('locations').where({tenant_id: tenantId}).select('id', 'name').orderBy('id')) as Array<{id: number}>
    await record(db, jobId, {inserted: LOCATIONS.length, locationIds: locationRows.map((l) => Number(l.id))})
    // routing
    await db('rds_instances').where({is_master: true}).first()
    await masterDb('user_email_routing')
      .where({tenant_id: tenantId, rds_instance_id: rdsId, email})
      .whereRaw('LOWER(email) = ?', [email])
      .orderBy('id')
      .first('id')
    const password = (await rds('users').where({id: userId}).first('password')) as {password: string}
    const [routingId] = (await masterDb('user_email_routing').insert({
      email,
      tenant_id: tenantId,
      rds_instance_id: rdsId,
      user_id: userId,
      password_hash: password.password,
      status: 'active',
      created_at: at,
      updated_at: at,
    })) as number[]
    await record(db, jobId, {routingId})
    // register: the registry row, the reservation attached, the job's row and the step's record in one transaction.
    const registered = new Date()
    const tenantMasterId = await db.transaction(async (tx) => {
      await tx('tenant_master').where({rds_instance_id: rdsId, remote_tenant_id: tenantId}).first('id')
      const [tm] = (await tx('tenant_master').insert({
        rds_instance_id: rdsId,
        remote_tenant_id: tenantId,
        name,
        primary_contact_name: 'Owner',
        primary_contact_email: email,
        status: 'active',
        cached_user_count: 1,
        cached_location_count: LOCATIONS.length,
        cache_refreshed_at: registered,
        search_text: searchText(name, 'Owner', email),
        created_at: registered,
        updated_at: registered,
      })) as number[]
      await attachReservation(tx, {jobId, tenantMasterId: tm})
      await tx('jobs').where({id: jobId}).update({tenant_master_id: tm})
      await record(tx, jobId, {tenantMasterId: tm})
      return tm
    })
    // subscription: no plan
    await record(db, jobId, {skipped: true})
    // ghosts
    const operators = await ghostOperators(db)
    const ghostEmails = operators.map((o) => ghostEmail(o.id, GHOST_DOMAIN))
    await rds('users').where({tenant_id: tenantId}).whereIn('email', ghostEmails).select('email')
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
    await record(db, jobId, {inserted: operators.length, operators: operators.length})
    // verify: everything read back from every server
    const tenants = await rds('tenants')
      .where({name: key})
      .whereRaw('LOWER(name) = ?', [key])
      .select('id', 'name', 'primary_contact_name', 'primary_contact_email', 'status')
    const users = await rds('users').where({tenant_id: tenantId}).select('id', 'name', 'email', 'password', 'status', 'is_ghost')
    const locationNames = await rds('locations').where({tenant_id: tenantId}).select('name')
    const routes = await masterDb('user_email_routing')
      .where({tenant_id: tenantId, rds_instance_id: rdsId})
      .select('id', 'email', 'user_id', 'password_hash', 'status')
    const registry = await db('tenant_master').where({rds_instance_id: rdsId, remote_tenant_id: tenantId}).select('id', 'name')
    if (
      tenants.length !== 1 ||
      users.length !== 1 + operators.length ||
      locationNames.length !== LOCATIONS.length ||
      routes.length !== 1 ||
      registry.length !== 1
    )
      throw new Error(`${name}: the read-back differs`)
    await record(db, jobId, {ghosts: operators.length, rows: tenants.length + users.length + locationNames.length + routes.length + registry.length})
    // done: the cached counts, the job done, the last step recorded and every step marked audited, their entries.
    const finished = new Date()
    const doneOutput = {ownerUserId: userId, rds: {id: rdsId, name: reservation.rds.name}, remoteTenantId: tenantId, tenantMasterId}
    outputs.push({output: doneOutput, finishedAt: finished.toISOString()})
    await db.transaction(async (tx) => {
      await tx('tenant_master').where({id: tenantMasterId}).update({
        cached_user_count: 1,
        cached_location_count: LOCATIONS.length,
        active_user_count: 1,
        ghost_user_count: operators.length,
        cache_refreshed_at: finished,
        updated_at: finished,
      })
      await tx('jobs').where({id: jobId}).update({
        state: 'done',
        error: null,
        error_kind: null,
        locked_by: null,
        lease_expires_at: null,
        heartbeat_at: finished,
        finished_at: finished,
        updated_at: finished,
      })
      await tx.raw(
        'UPDATE `job_steps` SET `state` = CASE `position` WHEN ? THEN ? ELSE `state` END, `output` = CASE `position` WHEN ? THEN ? ELSE `output` END, `finished_at` = CASE `position` WHEN ? THEN ? ELSE `finished_at` END, `updated_at` = ?, `audited_at` = ? WHERE `job_id` = ?',
        [9, 'done', 9, JSON.stringify(doneOutput), 9, finished, finished, finished, jobId],
      )
      const job = {targetType: 'job', targetId: jobId, rdsInstanceId: rdsId, tenantMasterId}
      await appendAudits(
        tx,
        ctx.audit,
        [
          ...outputs.map(({output, finishedAt}, position) => ({
            ...job,
            action: 'job.step.done',
            newValues: {step: stepNames[position], position, attempt: 1, output, finishedAt},
          })),
          {...job, action: 'job.done', oldValues: {state: 'running'}, newValues: {state: 'done'}},
        ],
        finished,
        {ids: false},
      )
    })
  }

  log('warm-up: one of each (pools, statement caches)')
  await viaJob('Warm Job')
  await sameTrips('Warm Script')
  await productOnly('Warm Plain')

  const variants = {
    figure: (run: number) => viaJob(`Bench Job ${run}`),
    floorSameRoundTrips: (run: number) => sameTrips(`Bench Script ${run}`),
    floorProductOnly: (run: number) => productOnly(`Bench Plain ${run}`),
  }
  type Variant = keyof typeof variants
  const names = Object.keys(variants) as Variant[]
  const samples = Object.fromEntries(names.map((v) => [v, [] as number[]])) as Record<Variant, number[]>
  const trips = Object.fromEntries(names.map((v) => [v, [] as Counts[]])) as Record<Variant, Counts[]>
  const times = Object.fromEntries(names.map((v) => [v, [] as Counts[]])) as Record<Variant, Counts[]>
  const controlKinds = Object.fromEntries(names.map((v) => [v, [] as Counts[]])) as Record<Variant, Counts[]>
  for (let run = 0; run < runs; run++) {
    log(`run ${run + 1}/${runs}`)
    for (const v of names) {
      const sample = await counted(() => variants[v](run))
      samples[v].push(sample.ms)
      trips[v].push(sample.trips)
      times[v].push(sample.spent)
      controlKinds[v].push(sample.kinds)
    }
  }
  const medians = (keys: string[]) => (list: Counts[]) => Object.fromEntries(keys.map((s) => [s, ms1(median(list.map((c) => c[s] ?? 0)))]))
  const tripsOf = medians(['control', 'master', 'rds'])
  const controlOf = medians(['product', 'job', 'audit', 'transaction'])
  const report = (v: Variant) => ({
    ...stats(samples[v]),
    roundTrips: tripsOf(trips[v]),
    controlRoundTrips: controlOf(controlKinds[v]),
    queryMsByServer: tripsOf(times[v]),
  })
  // The script must make, per server, exactly the job's round trips in every run: checked, not assumed.
  const sameAsJob = trips.figure.every((job, i) =>
    ['control', 'master', 'rds'].every((server) => (job[server] ?? 0) === (trips.floorSameRoundTrips[i][server] ?? 0)),
  )
  const job = median(samples.figure)
  console.log(
    JSON.stringify(
      {
        benchmark: 'tenant-create',
        what: `tenant:create (the service, warm) of a tenant with ${LOCATIONS.length} locations, an owner without password (no bcrypt), 2 ghosts, on local MariaDB (control database, master, RDS)`,
        runs,
        figure: report('figure'),
        floorSameRoundTrips: {
          ...report('floorSameRoundTrips'),
          what: "the job's writes issued by a plain script: the same statements per server, in the same transactions (the same round trips, BEGIN/COMMIT included: sameRoundTripsAsJob), writing the same rows (the product rows, the job row, its step rows and each step's output, the audit entries through appendAudits), without the engine (no runner, lease guard, state machine, step definitions, output parsing or input validation)",
        },
        floorProductOnly: {
          ...report('floorProductOnly'),
          what: 'the product rows only, by a plain script: the same fleet round trips (look-ups, writes, read-back), on the control database only the reservation and the tenant_master row',
        },
        sameRoundTripsAsJob: sameAsJob,
        ratio: ratio(job / median(samples.floorSameRoundTrips)),
        target: 'ratio ≤ 1.5',
        ratioProductOnly: ratio(job / median(samples.floorProductOnly)),
        note: "ratio is the engine's own cost (the job against its own writes issued by a script); ratioProductOnly also counts the job's durability writes on the control database (the job and step rows, each step's output stored as it completes, the audit entries: controlRoundTrips against floorProductOnly's), which a resumable job cannot do without",
      },
      null,
      2,
    ),
  )
  if (!sameAsJob) {
    log('floorSameRoundTrips did not make the round trips of the job on every server')
    process.exitCode = 1
  }
} finally {
  await cleanup(log)
}
