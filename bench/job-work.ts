// 200 tenants created by 4 `raiops job:work` processes (spawned CLI, --concurrency 4 each)
// over 5 MariaDB RDS (5 fixture databases on the local server; rds-1 the master, with
// user_email_routing; rds-3 reached through a TCP fault proxy), the control database on the
// same server. The RDS start with 40, 30, 20, 10 and 0 tenants (registered by sync:tenants),
// so the placement rule (lowest (tenants + open reservations) / capacity first, then health,
// latency, id: src/lib/placement/rules.ts) has to bring them all to 60: the spread is compared
// with the rule's, computed by ranking the registry's figures one tenant at a time.
// The jobs are created in this process by the service `tenant:create --detach` calls
// (createTenant with detach: placement checked, the owner's password hashed at cost 4 and
// sealed, one queued job each); then the workers run them. Two scenarios, each on a fleet of
// its own:
//   steady:    4 × `job:work --once --concurrency 4`, from the first spawn to the last exit;
//   rdsKilled: the same, and when half the jobs are done rds-3's proxy refuses connections
//              (open ones cut) for --outage-ms: the steps that meet it retry with backoff
//              (RAIOPS_JOB_RETRY_LIMIT=3, first delay 250 ms) and either see it back or fail
//              the job; once the workers have exited, each failed job is queued again with
//              `job:retry ID --detach` and 4 × `job:work --once` finish them from the step
//              that failed.
// After each: exactly 200 jobs done; per job exactly one tenant row (on the RDS its place step
// chose, on no other), one owner user, its locations, one routing entry on the master, one
// tenant_master row, its ghost users; no row of a bench tenant that no job accounts for; no
// open reservation; and lib/provisioning's consistency check across the fleet finds no
// duplicate and no orphan beyond those of the generated fleet before the run.
// Floors, measured on the steady fleet after its run: (a) tenants created one at a time in
// this process as `tenant:create` does in the foreground: one job's latency, step by step,
// and what 16 at once would reach if they did not slow each other down; (b) the audit chain:
// every audited transaction holds the chain's head row until it commits, so the audited
// transactions of all workers run one after the other: 500 of them back to back, times the
// audit entries of one job, bound the throughput whatever the number of workers.
// Prints one JSON document on stdout (exit 1 when a check fails); progress goes to stderr.
// Usage: npm run build && npm run bench:job-work [-- --tenants 200] [--outage-ms 6000] [--only steady|rds-killed]
import type {Knex} from 'knex'
import {readFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {join} from 'node:path'

import {appendAudit, type AuditContext} from '../src/lib/audit/writer.js'
import {parseKeyring} from '../src/lib/crypto/keyring.js'
import {openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {explainPlacement} from '../src/lib/placement/placement.js'
import {rankRds, type PlacementInput} from '../src/lib/placement/rules.js'
import {checkConsistency, type ConsistencyIssue} from '../src/lib/provisioning/consistency.js'
import {createTenant} from '../src/lib/provisioning/create.js'
import type {TenantCreateRequest} from '../src/lib/provisioning/prepare.js'
import {makeContext} from '../test/support/context.js'
import {startFaultProxy, type FaultProxy} from '../test/support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {
  benchLog,
  cleanup,
  cleanUpOnSignals,
  cleanups,
  cliRunner,
  type CliRun,
  type CliRunner,
  median,
  ms1,
  numberArgument,
  ratio,
  serverQuery,
  stats,
  timed,
} from './support.js'

const TENANTS = numberArgument('--tenants', 200)
const OUTAGE_MS = numberArgument('--outage-ms', 6000)
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
if (ONLY !== null && ONLY !== 'steady' && ONLY !== 'rds-killed') throw new Error('--only takes steady or rds-killed')
const WORKERS = 4
const WORKER_CONCURRENCY = 4
/** Tenants already on rds-1 … rds-5 (rds-1 is the master). */
const EXISTING = [40, 30, 20, 10, 0]
const KILLED = 2
const CAPACITY = 500
const LOCATIONS = 2
const BCRYPT_COST = 4
const ENQUEUE_CONCURRENCY = 8
const GHOST_DOMAIN = 'raiops.invalid'
const OWNER_PASSWORD = 'bench owner password 1'
/** Retries fast enough that an outage of a few seconds exhausts them for the jobs that meet it first. */
const JOB_ENV = {RAIOPS_JOB_RETRY_LIMIT: '3', RAIOPS_JOB_RETRY_DELAY_MS: '250', RAIOPS_JOB_RETRY_MAX_MS: '2000'}
const BENCH_AUDIT: AuditContext = {actorType: 'system', actor: 'bench@localhost', source: {host: 'localhost', command: 'bench:job-work'}}

const benchStarted = performance.now()
const log = benchLog('job-work')
cleanUpOnSignals(log)

const rdsName = (i: number): string => `rds-${i + 1}`
const tenantName = (i: number): string => `Bench Tenant ${String(i + 1).padStart(3, '0')}`
const ownerEmail = (i: number): string => `owner${String(i + 1).padStart(3, '0')}@bench.example`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const seconds = (ms: number): number => Math.round(ms / 10) / 100

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({length: Math.min(limit, items.length)}, async () => {
      while (next < items.length) {
        const at = next++
        results[at] = await fn(items[at])
      }
    }),
  )
  return results
}

interface Fleet {
  label: string
  runner: CliRunner
  db: Knex
  ctx: ReturnType<typeof makeContext>
  fixtures: RaiFixture[]
  rdsIds: number[]
  proxy: FaultProxy
  baseline: Set<string>
  /** The placement rule's inputs before any job. */
  before: PlacementInput[]
}

const issueKey = (i: ConsistencyIssue): string => `${i.kind} ${i.where} ${i.detail}`

async function buildFleet(label: string): Promise<Fleet> {
  const home = createTestDir(`raiops-bench-job-work-${label}-`)
  cleanups.push(() => home.drop())
  const runner = cliRunner(home.path)
  Object.assign(runner.env, JOB_ENV, {RAIOPS_PLACEMENT_CAPACITY: String(CAPACITY), RAIOPS_GHOST_DOMAIN: GHOST_DOMAIN})

  log(`${label}: 5 RDS fixtures (${EXISTING.join(', ')} tenants), rds-1 the master`)
  const fixtures = await Promise.all(
    EXISTING.map(async (tenants, i) => {
      const fixture = await createRaiFixture({
        engine: 'mysql',
        tenants,
        usersPerTenant: 2,
        ghostUsersPerTenant: 0,
        locationsPerTenant: 1,
        master: i === 0,
        seed: i + 1,
      })
      cleanups.push(() => fixture.drop())
      return fixture
    }),
  )
  const proxy = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port})
  cleanups.push(() => proxy.close())

  const control = await createTestDatabase('mysql', 'raiops_bench_jobs')
  cleanups.push(() => control.drop())
  runner.env.RAIOPS_DATABASE_URL = control.url
  await runner.cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench Admin', '--password-stdin'], 'bench-password-1\n')
  // A second operator who may impersonate: every tenant gets two ghost users.
  await runner.cliOk(
    ['operator:add', '--email', 'support@example.com', '--name', 'Support Two', '--role', 'support_admin', '--password-stdin'],
    'bench-password-1\n',
  )
  const passwordArgs = mysqlServer.password ? ['--password-stdin'] : []
  const passwordInput = mysqlServer.password ? `${mysqlServer.password}\n` : ''
  for (const [i, fixture] of fixtures.entries()) {
    const via = i === KILLED ? {host: proxy.host, port: proxy.port} : {host: mysqlServer.host, port: mysqlServer.port}
    await runner.cliOk(
      [
        'rds:add',
        '--name',
        rdsName(i),
        '--host',
        via.host,
        '--port',
        String(via.port),
        '--username',
        mysqlServer.user,
        '--rai-database',
        fixture.database,
        '--no-input',
        ...(i === 0 ? ['--master'] : []),
        ...passwordArgs,
      ],
      passwordInput,
    )
  }
  const rds = JSON.parse((await runner.cliOk(['rds:list', '--json'])).stdout) as Array<{id: number; name: string}>
  const rdsIds = fixtures.map((_, i) => rds.find((r) => r.name === rdsName(i))!.id)
  // The master's directory names the RDS by raiops id; the fixture wrote 1.
  const master = await fixtures[0].knex()
  try {
    await master('user_email_routing').update({rds_instance_id: rdsIds[0]})
  } finally {
    await master.destroy()
  }
  await runner.cliOk(['sync:tenants', '--force', '--json'])

  const db = await openControlDb(parseDatabaseUrl(control.url, home.path))
  cleanups.push(() => db.destroy())
  const keyring = parseKeyring(readFileSync(join(home.path, 'master.key'), 'utf8'), 'bench master key')
  const ctx = {...makeContext(db, {keyring}), audit: BENCH_AUDIT}
  cleanups.push(() => ctx.close())
  const baseline = new Set((await checkConsistency(ctx)).issues.map(issueKey))
  const report = await explainPlacement(ctx, {capacity: CAPACITY})
  const rows = await db('rds_instances').select('id', 'is_active', 'health_checked_at')
  const byId = new Map(report.rds.map((row) => [row.rds.id, row]))
  const before = rdsIds.map((id): PlacementInput => {
    const row = byId.get(id)!
    return {
      id: row.rds.id,
      name: row.rds.name,
      isActive: Boolean(Number(rows.find((r) => Number(r.id) === row.rds.id)?.is_active ?? 1)),
      isMaster: row.isMaster,
      state: row.state,
      health: row.health,
      latencyMs: row.latencyMs,
      healthCheckedAt: null,
      tenants: row.tenants,
      reserved: row.reserved,
      locations: row.locations,
      capacity: row.capacity,
    }
  })
  const registered = before.map((r) => r.tenants)
  if (registered.join() !== EXISTING.join()) throw new Error(`${label}: the registry counts ${registered.join(', ')} tenants, not ${EXISTING.join(', ')}`)
  return {label, runner, db, ctx, fixtures, rdsIds, proxy, baseline, before}
}

/** Where the rule puts `count` new tenants, one at a time, from the registry's figures: new tenants per RDS id. */
function expectedSpread(before: readonly PlacementInput[], count: number): Map<number, number> {
  const inputs = before.map((r) => ({...r}))
  const spread = new Map(inputs.map((r) => [r.id, 0]))
  for (let i = 0; i < count; i++) {
    const first = rankRds(inputs).find((row) => row.rank === 1)
    if (!first) throw new Error(`the rule places only ${i} of ${count} tenants`)
    inputs.find((r) => r.id === first.rds.id)!.tenants++
    spread.set(first.rds.id, spread.get(first.rds.id)! + 1)
  }
  return spread
}

/** What `tenant:create` asks for one tenant (the owner's password hashed at cost 4). */
const request = (name: string, email: string): TenantCreateRequest => ({
  name,
  owner: {name: `Owner of ${name}`, email, password: OWNER_PASSWORD},
  locations: String(LOCATIONS),
  capacity: CAPACITY,
  ghostDomain: GHOST_DOMAIN,
  graceDays: 7,
  bcryptCost: BCRYPT_COST,
})

/** One job, created as `tenant:create --detach` creates it. */
async function enqueueOne(fleet: Fleet, name: string, email: string): Promise<number> {
  const created = await createTenant(fleet.ctx, request(name, email), {detach: true})
  return created.job.id
}

/** The jobs, prepared as `tenant:create --detach` prepares them. */
async function enqueue(fleet: Fleet): Promise<{ms: number; ids: number[]}> {
  const started = performance.now()
  const ids = await pool(
    Array.from({length: TENANTS}, (_, i) => i),
    ENQUEUE_CONCURRENCY,
    (i) => enqueueOne(fleet, tenantName(i), ownerEmail(i)),
  )
  return {ms: performance.now() - started, ids}
}

async function jobStates(db: Knex): Promise<Record<string, number>> {
  const rows = (await db('jobs').groupBy('state').select('state', db.raw('COUNT(*) AS n'))) as Array<{state: string; n: unknown}>
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
}

interface WorkerRun {
  code: number | null
  ms: number
  jobs: number
  outcomes: Record<string, number>
  stderrTail: string
}

function workerRun(run: CliRun): WorkerRun {
  let outcomes: Record<string, number> = {}
  let jobs = 0
  try {
    const report = JSON.parse(run.stdout) as {jobs: Array<{outcome: string}>}
    jobs = report.jobs.length
    outcomes = {}
    for (const j of report.jobs) outcomes[j.outcome] = (outcomes[j.outcome] ?? 0) + 1
  } catch {
    // reported through code and stderr
  }
  return {code: run.code, ms: ms1(run.ms), jobs, outcomes, stderrTail: run.code === 0 ? '' : run.stderr.trim().split('\n').slice(-5).join('\n')}
}

/** `count` × `job:work --once`, until all have exited; progress every second on stderr, `onTick` every 100 ms. */
async function runWorkers(
  fleet: Fleet,
  count: number,
  onTick?: (states: Record<string, number>, ms: number) => Promise<void>,
): Promise<{ms: number; runs: WorkerRun[]}> {
  const started = performance.now()
  let running = true
  const all = Promise.all(
    Array.from({length: count}, () => fleet.runner.cli(['job:work', '--once', '--concurrency', String(WORKER_CONCURRENCY), '--json'])),
  ).finally(() => (running = false))
  let lastLog = 0
  while (running) {
    await Promise.race([all, sleep(100)])
    if (!running) break
    const states = await jobStates(fleet.db)
    const elapsed = performance.now() - started
    if (elapsed - lastLog >= 1000) {
      lastLog = elapsed
      log(`${fleet.label}: ${JSON.stringify(states)}`)
    }
    await onTick?.(states, elapsed)
  }
  const runs = await all
  return {ms: performance.now() - started, runs: runs.map(workerRun)}
}

type Row = Record<string, unknown>

/**
 * The other floor: every change to the control database is audited, and an audited
 * transaction holds the audit chain's head row (lib/audit/writer.ts) until it commits, so
 * the audited transactions of all workers run one after the other. Measured: `count`
 * transactions, each appending one entry, one after the other on one connection (the least
 * each can take: nobody waits), and the audited transactions per job, from the job's audit
 * entries; their product bounds the throughput whatever the number of workers.
 */
async function auditChainFloor(fleet: Fleet, jobIds: number[], count: number) {
  const {db} = fleet
  const ms = await timed(async () => {
    for (let i = 0; i < count; i++)
      await db.transaction((tx) => appendAudit(tx, fleet.ctx.audit, {action: 'bench.audit-floor', targetType: 'bench', targetId: i}, new Date()))
  })
  const perJob = (await db('audit_logs')
    .where({target_type: 'job'})
    .whereIn(
      'target_id',
      jobIds.map((id) => String(id)),
    )
    .groupBy('target_id')
    .select('target_id', db.raw('COUNT(*) AS n'))) as Array<{n: unknown}>
  const entriesPerJob = median(perJob.map((r) => Number(r.n)))
  const commitMs = ms / count
  return {
    what: `${count} audited transactions (one entry each) one after the other on one connection; the audit entries of each job (job.create, one per step, job.done), each in a transaction of its own`,
    auditedCommitMs: ms1(commitMs),
    auditEntriesPerJob: entriesPerJob,
    tenantsPerSBound: ratio(1000 / (entriesPerJob * commitMs)),
  }
}

/**
 * The floor: jobs run one at a time in this process on the idle fleet (no worker start, no
 * other job): a job's own latency, step by step, and the throughput 16 of them at once would
 * reach if they did not slow each other down.
 */
async function soloJobs(fleet: Fleet, count: number) {
  const jobs: number[] = []
  const steps = new Map<string, number[]>()
  for (let i = 0; i < count; i++) {
    const started = new Map<string, number>()
    const t0 = performance.now()
    const {job} = await createTenant(fleet.ctx, request(`Bench Solo ${i + 1}`, `solo${i + 1}@bench-solo.example`), {
      detach: false,
      settings: {retryLimit: 0},
      onStep: (event) => {
        if (event.type === 'step.start') started.set(event.step, performance.now())
        if (event.type === 'step.done') steps.set(event.step, [...(steps.get(event.step) ?? []), performance.now() - started.get(event.step)!])
      },
    })
    if (job.state !== 'done') throw new Error(`solo job ${job.id}: ${job.state}: ${job.error}`)
    jobs.push(performance.now() - t0)
  }
  const jobMs = median(jobs)
  return {
    what: `${count} tenants created one at a time in this process as tenant:create does in the foreground (prepare, job, run), on the fleet left by the run`,
    job: stats(jobs),
    stepMedianMs: Object.fromEntries([...steps].map(([name, ms]) => [name, ms1(median(ms))])),
    tenantsPerSAt16: ratio((WORKERS * WORKER_CONCURRENCY * 1000) / jobMs),
  }
}

/** Every row of the bench's tenants on every server, checked job by job. */
async function checkRows(fleet: Fleet, jobIds: number[]) {
  const {db} = fleet
  const jobs = (await db('jobs').whereIn('id', jobIds).select('id', 'state', 'attempts', 'input', 'started_at', 'finished_at', 'created_at')) as Row[]
  const places = (await db('job_steps').whereIn('job_id', jobIds).where({name: 'place'}).select('job_id', 'output')) as Row[]
  const stepRetries = (await db('job_steps').whereIn('job_id', jobIds).where('attempts', '>', 1).select('job_id', 'name', 'attempts')) as Row[]
  const placedOn = new Map(places.map((p) => [Number(p.job_id), p.output ? Number((JSON.parse(String(p.output)) as {rdsId: number}).rdsId) : null]))
  const nameOf = new Map(jobs.map((j) => [Number(j.id), (JSON.parse(String(j.input)) as {name: string}).name.toLowerCase()]))

  const tenantRows: Array<{rdsId: number; id: number; name: string}> = []
  const owners = new Map<string, number>()
  const ghosts = new Map<string, number>()
  const locations = new Map<string, number>()
  for (const [i, fixture] of fleet.fixtures.entries()) {
    const rdsId = fleet.rdsIds[i]
    const conn = await fixture.knex()
    try {
      const tenants = (await conn('tenants').where('name', 'like', 'Bench Tenant %').select('id', 'name')) as Row[]
      for (const t of tenants) tenantRows.push({rdsId, id: Number(t.id), name: String(t.name).toLowerCase()})
      const ids = tenants.map((t) => Number(t.id))
      if (ids.length === 0) continue
      for (const u of (await conn('users').whereIn('tenant_id', ids).select('tenant_id', 'email', 'is_ghost')) as Row[]) {
        const key = `${rdsId}:${u.tenant_id}`
        if (Number(u.is_ghost)) ghosts.set(key, (ghosts.get(key) ?? 0) + 1)
        else if (/^owner\d+@bench\.example$/i.test(String(u.email))) owners.set(key, (owners.get(key) ?? 0) + 1)
      }
      for (const l of (await conn('locations').whereIn('tenant_id', ids).groupBy('tenant_id').select('tenant_id', conn.raw('COUNT(*) AS n'))) as Row[])
        locations.set(`${rdsId}:${l.tenant_id}`, Number(l.n))
    } finally {
      await conn.destroy()
    }
  }
  const master = await fleet.fixtures[0].knex()
  const routing = (await master('user_email_routing')
    .where('email', 'like', 'owner%@bench.example')
    .select('email', 'tenant_id', 'rds_instance_id')
    .finally(() => master.destroy())) as Row[]
  const registry = (await db('tenant_master').where('name', 'like', 'Bench Tenant %').select('id', 'name', 'rds_instance_id', 'remote_tenant_id')) as Row[]
  const openReservations = Number((await db('placement_reservations').whereNull('tenant_master_id').whereNull('released_at').count({n: '*'}))[0].n)

  const duplicates: string[] = []
  const missing: string[] = []
  const orphans: string[] = []
  const accounted = {tenants: new Set<string>(), routing: new Set<number>(), registry: new Set<number>()}
  const ghostCounts = new Set<number>()
  for (const job of jobs) {
    const id = Number(job.id)
    const name = nameOf.get(id)!
    const rdsId = placedOn.get(id)
    const own = tenantRows.filter((t) => t.name === name)
    const here = own.filter((t) => t.rdsId === rdsId)
    for (const t of own) accounted.tenants.add(`${t.rdsId}:${t.id}`)
    if (own.length !== here.length) orphans.push(`job ${id}: a tenant row "${name}" on an RDS its place step did not choose`)
    if (here.length === 0) {
      missing.push(`job ${id}: no tenant row`)
      continue
    }
    if (here.length > 1) duplicates.push(`job ${id}: ${here.length} tenant rows`)
    const key = `${rdsId}:${here[0].id}`
    const ownerCount = owners.get(key) ?? 0
    if (ownerCount !== 1) (ownerCount === 0 ? missing : duplicates).push(`job ${id}: ${ownerCount} owner users`)
    const locationCount = locations.get(key) ?? 0
    if (locationCount !== LOCATIONS) (locationCount < LOCATIONS ? missing : duplicates).push(`job ${id}: ${locationCount} locations`)
    ghostCounts.add(ghosts.get(key) ?? 0)
    const email = ownerEmail(Number(name.slice('bench tenant '.length)) - 1)
    const pointing = routing
      .map((r, at) => ({r, at}))
      .filter(({r}) => String(r.email).toLowerCase() === email && Number(r.rds_instance_id) === rdsId && Number(r.tenant_id) === here[0].id)
    for (const {at} of pointing) accounted.routing.add(at)
    if (pointing.length !== 1) (pointing.length === 0 ? missing : duplicates).push(`job ${id}: ${pointing.length} routing entries`)
    const registered = registry.filter((r) => Number(r.rds_instance_id) === rdsId && Number(r.remote_tenant_id) === here[0].id)
    for (const r of registered) accounted.registry.add(Number(r.id))
    if (registered.length !== 1) (registered.length === 0 ? missing : duplicates).push(`job ${id}: ${registered.length} tenant_master rows`)
  }
  for (const t of tenantRows) if (!accounted.tenants.has(`${t.rdsId}:${t.id}`)) orphans.push(`tenant row ${t.rdsId}:${t.id} "${t.name}" of no job`)
  routing.forEach((r, at) => {
    if (!accounted.routing.has(at)) orphans.push(`routing entry ${r.email} → ${r.rds_instance_id}:${r.tenant_id} of no job's tenant`)
  })
  for (const r of registry) if (!accounted.registry.has(Number(r.id))) orphans.push(`tenant_master ${r.id} "${r.name}" of no job's tenant`)
  if (openReservations > 0) orphans.push(`${openReservations} placement reservations still open`)

  const consistency = await checkConsistency(fleet.ctx)
  const fresh = consistency.issues.filter((i) => !fleet.baseline.has(issueKey(i)))

  const perRds = new Map(fleet.rdsIds.map((id) => [id, 0]))
  for (const r of registry) perRds.set(Number(r.rds_instance_id), (perRds.get(Number(r.rds_instance_id)) ?? 0) + 1)
  const durations = jobs
    .filter((j) => j.state === 'done' && j.started_at && j.finished_at)
    .map((j) => new Date(String(j.finished_at)).getTime() - new Date(String(j.started_at)).getTime())
    .sort((a, b) => a - b)
  return {
    states: Object.fromEntries(['done', 'failed', 'queued', 'running', 'canceling', 'canceled'].map((s) => [s, jobs.filter((j) => j.state === s).length])),
    perRds,
    duplicates,
    missing,
    orphans,
    consistency: {
      duplicates: fresh.filter((i) => i.kind === 'duplicate').length,
      orphans: fresh.filter((i) => i.kind === 'orphan').length,
      unreachable: fresh.filter((i) => i.kind === 'unreachable').length,
      baselineIssues: fleet.baseline.size,
      first: fresh.slice(0, 5).map(issueKey),
    },
    ghostsPerTenant: [...ghostCounts].sort(),
    jobsClaimedMoreThanOnce: jobs.filter((j) => Number(j.attempts) > 1).length,
    jobsWithStepRetries: new Set(stepRetries.map((s) => Number(s.job_id))).size,
    jobsRecoveredWithinBackoff: jobs.filter((j) => Number(j.attempts) === 1 && stepRetries.some((s) => Number(s.job_id) === Number(j.id))).length,
    stepsRetried: Object.fromEntries(
      [...new Set(stepRetries.map((s) => String(s.name)))].map((name) => [name, stepRetries.filter((s) => s.name === name).length]),
    ),
    jobDurationMs:
      durations.length === 0
        ? null
        : {
            median: durations[Math.floor(durations.length / 2)],
            p95: durations[Math.floor(durations.length * 0.95)],
            max: durations.at(-1),
          },
  }
}

/** New tenants per RDS id (from the registry), against where the rule puts them. */
function spreadReport(fleet: Fleet, actual: Map<number, number>) {
  const expected = expectedSpread(fleet.before, TENANTS)
  const rows = fleet.rdsIds.map((id, i) => ({
    rds: rdsName(i),
    master: i === 0,
    before: EXISTING[i],
    created: actual.get(id)!,
    expectedByRule: expected.get(id)!,
    after: EXISTING[i] + actual.get(id)!,
  }))
  return {
    rule: 'lowest (tenants + open reservations) / capacity, then health, latency, id; one tenant at a time from the registry before the run',
    capacity: CAPACITY,
    perRds: rows,
    maxDeviation: Math.max(...rows.map((r) => Math.abs(r.created - r.expectedByRule))),
    matchesRule: rows.every((r) => r.created === r.expectedByRule),
  }
}

function verdict(
  rows: Awaited<ReturnType<typeof checkRows>>,
  commands: Array<{code: number | null; stderrTail?: string; stderr?: string}>,
): {ok: boolean; problems: string[]} {
  const problems: string[] = []
  for (const c of commands) if (c.code !== 0) problems.push(`a command exited ${c.code}: ${(c.stderrTail ?? c.stderr ?? '').trim().slice(0, 300)}`)
  if (rows.states.done !== TENANTS) problems.push(`${rows.states.done} of ${TENANTS} jobs done (${JSON.stringify(rows.states)})`)
  problems.push(...rows.duplicates.slice(0, 5).map((d) => `duplicate: ${d}`), ...rows.missing.slice(0, 5).map((m) => `missing: ${m}`))
  problems.push(...rows.orphans.slice(0, 5).map((o) => `orphan: ${o}`), ...rows.consistency.first.map((c) => `consistency: ${c}`))
  return {ok: problems.length === 0, problems}
}

async function steady() {
  const fleet = await buildFleet('steady')
  const queued = await enqueue(fleet)
  log(`steady: ${TENANTS} jobs enqueued in ${(queued.ms / 1000).toFixed(1)} s; ${WORKERS} × job:work --once --concurrency ${WORKER_CONCURRENCY}`)
  const work = await runWorkers(fleet, WORKERS)
  log(`steady: the workers exited after ${(work.ms / 1000).toFixed(1)} s; checking every server`)
  const rows = await checkRows(fleet, queued.ids)
  const {perRds, duplicates, missing, orphans, ...rest} = rows
  log('steady: the floor: jobs one at a time in this process; and an idle job:work --once')
  const solo = await soloJobs(fleet, 5)
  const chain = await auditChainFloor(fleet, queued.ids, 500)
  const idle = await fleet.runner.cliOk(['job:work', '--once', '--json'])
  const tenantsPerS = (rows.states.done / work.ms) * 1000
  return {
    enqueue: {jobs: queued.ids.length, ms: ms1(queued.ms), perJobMs: ms1(queued.ms / TENANTS)},
    wallS: seconds(work.ms),
    tenantsPerS: ratio(tenantsPerS),
    workers: work.runs,
    floorOneJobAlone: solo,
    ratioToFloor: ratio(solo.tenantsPerSAt16 / tenantsPerS),
    floorAuditChain: chain,
    ratioToAuditChainBound: ratio(chain.tenantsPerSBound / tenantsPerS),
    idleWorkerWall: {what: 'job:work --once with nothing to do (spawned): what each worker pays to start', ms: ms1(idle.ms)},
    ...rest,
    duplicates: duplicates.length,
    missing: missing.length,
    orphans: orphans.length,
    spread: spreadReport(fleet, perRds),
    verdict: verdict(rows, work.runs),
  }
}

async function rdsKilled() {
  const fleet = await buildFleet('rds-killed')
  const queued = await enqueue(fleet)
  log(`rds-killed: ${TENANTS} jobs enqueued; ${rdsName(KILLED)} is refused for ${OUTAGE_MS} ms once ${TENANTS / 2} are done`)
  const outage = {killedAtMs: null as number | null, restoredAtMs: null as number | null, doneAtKill: 0, doneAtRestore: 0}
  const first = await runWorkers(fleet, WORKERS, async (states, elapsed) => {
    if (outage.killedAtMs === null && (states.done ?? 0) >= TENANTS / 2) {
      await fleet.proxy.setMode('refuse')
      outage.killedAtMs = elapsed
      outage.doneAtKill = states.done ?? 0
      log(`rds-killed: ${rdsName(KILLED)} killed with ${outage.doneAtKill} jobs done`)
    } else if (outage.killedAtMs !== null && outage.restoredAtMs === null && elapsed - outage.killedAtMs >= OUTAGE_MS) {
      await fleet.proxy.setMode('pass')
      outage.restoredAtMs = elapsed
      outage.doneAtRestore = states.done ?? 0
      log(`rds-killed: ${rdsName(KILLED)} back after ${OUTAGE_MS} ms`)
    }
  })
  if (fleet.proxy.mode !== 'pass') {
    await fleet.proxy.setMode('pass')
    outage.restoredAtMs = first.ms
    outage.doneAtRestore = (await jobStates(fleet.db)).done ?? 0
    log(`rds-killed: the workers exited during the outage; ${rdsName(KILLED)} back`)
  }
  const failed = (await fleet.db('jobs').whereIn('id', queued.ids).where({state: 'failed'}).select('id', 'rds_instance_id', 'error', 'error_kind')) as Row[]
  const failedSteps = (await fleet
    .db('job_steps')
    .whereIn(
      'job_id',
      failed.map((f) => Number(f.id)),
    )
    .where({state: 'failed'})
    .select('job_id', 'name')) as Row[]
  log(`rds-killed: ${failed.length} jobs failed; job:retry --detach each, then ${WORKERS} × job:work --once`)
  const retryStarted = performance.now()
  const retries = await pool(failed, WORKERS, (f) => fleet.runner.cli(['job:retry', String(f.id), '--detach', '--json']))
  const second = failed.length > 0 ? await runWorkers(fleet, WORKERS) : {ms: 0, runs: []}
  const retryMs = performance.now() - retryStarted
  const totalMs = first.ms + retryMs
  log(`rds-killed: done after ${(totalMs / 1000).toFixed(1)} s; checking every server`)
  const rows = await checkRows(fleet, queued.ids)
  const {perRds, duplicates, missing, orphans, ...rest} = rows
  const byKey = <T extends Row>(list: T[], key: (r: T) => string) =>
    Object.fromEntries([...new Set(list.map(key))].map((k) => [k, list.filter((r) => key(r) === k).length]))
  const killedId = fleet.rdsIds[KILLED]
  return {
    killed: rdsName(KILLED),
    outage: {
      ms: OUTAGE_MS,
      killedAtS: outage.killedAtMs === null ? null : seconds(outage.killedAtMs),
      restoredAtS: outage.restoredAtMs === null ? null : seconds(outage.restoredAtMs),
      doneAtKill: outage.doneAtKill,
      doneAtRestore: outage.doneAtRestore,
      jobSettings: JOB_ENV,
    },
    enqueue: {jobs: queued.ids.length, ms: ms1(queued.ms)},
    firstPass: {wallS: seconds(first.ms), workers: first.runs},
    failedThenRetried: {
      jobs: failed.length,
      onKilledRds: failed.filter((f) => Number(f.rds_instance_id) === killedId).length,
      byErrorKind: byKey(failed, (f) => String(f.error_kind)),
      byStep: byKey(failedSteps, (s) => String(s.name)),
      firstError: failed[0]?.error ?? null,
      retryCommands: {ok: retries.filter((r) => r.code === 0).length, failed: retries.filter((r) => r.code !== 0).map((r) => r.stderr.trim().slice(0, 200))},
      secondPass: {wallS: seconds(second.ms), workers: second.runs},
    },
    wallS: seconds(totalMs),
    tenantsPerS: ratio((rows.states.done / totalMs) * 1000),
    ...rest,
    duplicates: duplicates.length,
    missing: missing.length,
    orphans: orphans.length,
    spread: spreadReport(fleet, perRds),
    verdict: verdict(rows, [...first.runs, ...retries, ...second.runs]),
  }
}

try {
  const [server] = (await serverQuery('SELECT VERSION() AS version')) as Array<{version: string}>
  const steadyReport = ONLY === 'rds-killed' ? null : await steady()
  const killedReport = ONLY === 'steady' ? null : await rdsKilled()
  const ok = (steadyReport?.verdict.ok ?? true) && (killedReport?.verdict.ok ?? true)
  console.log(
    JSON.stringify(
      {
        benchmark: 'job-work',
        setup: {
          tenants: TENANTS,
          rds: EXISTING.length,
          tenantsBefore: EXISTING,
          master: rdsName(0),
          workers: WORKERS,
          concurrencyPerWorker: WORKER_CONCURRENCY,
          locationsPerTenant: LOCATIONS,
          ownerBcryptCost: BCRYPT_COST,
          server: {version: server.version},
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
        },
        steady: steadyReport,
        rdsKilled: killedReport,
        ok,
        benchWallS: Math.round((performance.now() - benchStarted) / 100) / 10,
      },
      null,
      2,
    ),
  )
  if (!ok) process.exitCode = 1
} finally {
  await cleanup(log)
}
