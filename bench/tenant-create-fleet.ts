// Tenant creation at fleet scale: --tenants tenant.create jobs (default 200) queued at once,
// run by --workers `raiops job:work --once` processes (default 4) over 5 MariaDB RDS, each
// behind a fault proxy; the control database on the same MariaDB. Reports the throughput,
// duplicates and orphans across the fleet (lib/provisioning/consistency.ts), and the spread of
// the new tenants over the servers against the placement rule (equal loads: within one of
// each other). Then the same again with one RDS cut (connections refused) when half the jobs
// are done and back 2 s later: the jobs that failed on it are retried (job:retry's service,
// then one more worker) and must complete, again with no duplicate and no orphan.
// Prints one JSON document on stdout.
// Usage: npm run bench:tenant-create-fleet [-- --tenants 200] [--workers 4]
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {loadKeyring} from '../src/lib/crypto/keyring.js'
import {openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {enqueueJob, retryJob} from '../src/lib/jobs/index.js'
import {checkConsistency} from '../src/lib/provisioning/consistency.js'
import {TENANT_CREATE_KIND} from '../src/lib/provisioning/input.js'
import {prepareTenantCreate} from '../src/lib/provisioning/prepare.js'
import {addRds} from '../src/lib/rds/service.js'
import {runTenantSync} from '../src/lib/sync/index.js'
import {makeContext} from '../test/support/context.js'
import {startFaultProxy} from '../test/support/fault-proxy.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, cliRunner, ms1, numberArgument} from './support.js'

const TENANTS = numberArgument('--tenants', 200)
const WORKERS = numberArgument('--workers', 4)
const SERVERS = 5
const log = benchLog('tenant-create-fleet')
cleanUpOnSignals(log)

try {
  log(`fixtures: ${SERVERS} RDS behind proxies, the control database, a raiops home`)
  const fleet = await Promise.all(
    Array.from({length: SERVERS}, (_, i) =>
      createRaiFixture({engine: 'mysql', master: i === 0, tenants: 1, usersPerTenant: 1, ghostUsersPerTenant: 0, locationsPerTenant: 1, seed: i + 1}),
    ),
  )
  cleanups.push(...fleet.map((f) => () => f.drop()))
  const proxies = await Promise.all(fleet.map((f) => startFaultProxy({targetHost: mysqlServer.host, targetPort: f.port ?? 3306})))
  cleanups.push(...proxies.map((p) => () => p.close()))
  const controlDb = await createTestDatabase('mysql', 'raiops_bench_tcf')
  cleanups.push(() => controlDb.drop())
  const dir = createTestDir('raiops-bench-tcf-')
  cleanups.push(() => dir.drop())
  const home = join(dir.path, 'home')
  mkdirSync(home)
  const runner = cliRunner(home)
  runner.env.RAIOPS_DATABASE_URL = controlDb.url
  Object.assign(runner.env, {RAIOPS_JOB_RETRY_LIMIT: '2', RAIOPS_JOB_RETRY_DELAY_MS: '300', RAIOPS_JOB_RETRY_MAX_MS: '600', RAIOPS_CONNECT_TIMEOUT_MS: '1000'})
  await runner.cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-admin-password-1\n')

  const db = await openControlDb(parseDatabaseUrl(controlDb.url, home))
  cleanups.push(() => db.destroy())
  const ctx = makeContext(db, {keyring: loadKeyring({masterKeyFile: join(home, 'master.key')}), connectTimeoutMs: 1000})
  cleanups.push(() => ctx.close())
  const ids: number[] = []
  for (const [i, f] of fleet.entries()) {
    const added = await addRds(ctx, {
      name: `rds${i + 1}`,
      engine: 'mysql',
      host: mysqlServer.host,
      port: proxies[i].port,
      username: mysqlServer.user,
      password: mysqlServer.password || null,
      raiDatabase: f.database,
      master: i === 0,
      test: false,
    })
    ids.push(added.rds.id)
  }
  const master = await fleet[0].knex()
  await master('user_email_routing').update({rds_instance_id: ids[0]})
  await master.destroy()
  await runTenantSync(ctx, {maxAgeMs: 0, concurrency: SERVERS, deadlineMs: 60_000, force: true})

  const queue = async (prefix: string): Promise<number[]> => {
    const jobs: number[] = []
    for (let i = 0; i < TENANTS; i++) {
      const {input} = await prepareTenantCreate(ctx, {
        name: `${prefix} ${i}`,
        owner: {name: 'Owner', email: `owner${i}@${prefix.toLowerCase()}.example`, password: null},
        locations: '2',
        capacity: 10_000,
        ghostDomain: 'raiops.invalid',
        graceDays: 7,
      })
      jobs.push((await enqueueJob(ctx, {kind: TENANT_CREATE_KIND, input})).id)
    }
    return jobs
  }
  const states = async (jobs: number[]) => {
    const rows = (await db('jobs').whereIn('id', jobs).groupBy('state').select('state', db.raw('COUNT(*) AS n'))) as Array<{state: string; n: unknown}>
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]))
  }
  /** Tenants per RDS in the registry (all of them: the rule balances totals), and the batch's. */
  const spread = async (prefix: string) => {
    const count = async (like: string | null) => {
      const query = db('tenant_master as t').join('rds_instances as r', 'r.id', 't.rds_instance_id').groupBy('r.name').orderBy('r.name')
      if (like) query.where('t.name', 'like', like)
      const rows = (await query.select('r.name', db.raw('COUNT(*) AS n'))) as Array<{name: string; n: unknown}>
      return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]))
    }
    const total = await count(null)
    const counts = ids.map((_, i) => total[`rds${i + 1}`] ?? 0)
    return {
      batch: await count(`${prefix} %`),
      total,
      maxMinusMin: Math.max(...counts) - Math.min(...counts),
      expected: 'loads equal to start with: totals within 1 of each other',
    }
  }
  const workers = () => Promise.all(Array.from({length: WORKERS}, () => runner.cli(['job:work', '--once', '--concurrency', '2'])))
  const check = async () => {
    const report = await checkConsistency(ctx)
    return {
      duplicates: report.issues.filter((i) => i.kind === 'duplicate').length,
      orphans: report.issues.filter((i) => i.kind === 'orphan').length,
      unreachable: report.issues.filter((i) => i.kind === 'unreachable').length,
      issues: report.issues.slice(0, 5),
    }
  }

  log(`run 1: ${TENANTS} jobs, ${WORKERS} workers`)
  const first = await queue('Fleet')
  let started = performance.now()
  await workers()
  const firstMs = performance.now() - started
  const firstResult = {
    jobs: await states(first),
    ms: ms1(firstMs),
    tenantsPerSecond: ms1((TENANTS / firstMs) * 1000),
    spread: await spread('Fleet'),
    ...(await check()),
  }

  log(`run 2: ${TENANTS} jobs, rds3 cut when half are done, back 2 s later`)
  const second = await queue('Outage')
  started = performance.now()
  const running = workers()
  let cut = false
  const watcher = (async () => {
    for (;;) {
      const done = (await states(second)).done ?? 0
      if (done >= TENANTS / 2) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await proxies[2].setMode('refuse')
    cut = true
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await proxies[2].setMode('pass')
  })()
  await running
  await watcher
  const failed = (await db('jobs').whereIn('id', second).where({state: 'failed'}).pluck('id')) as number[]
  for (const id of failed) await retryJob(ctx, {id: Number(id)})
  if (failed.length > 0) await runner.cli(['job:work', '--once', '--concurrency', '4'])
  const secondMs = performance.now() - started
  const secondResult = {
    cut,
    failedThenRetried: failed.length,
    jobs: await states(second),
    ms: ms1(secondMs),
    tenantsPerSecond: ms1((TENANTS / secondMs) * 1000),
    spread: await spread('Outage'),
    ...(await check()),
  }
  console.log(
    JSON.stringify(
      {
        benchmark: 'tenant-create-fleet',
        what: `${TENANTS} tenant.create jobs (2 locations, no password, no plan) run by ${WORKERS} \`job:work --once --concurrency 2\` processes over ${SERVERS} MariaDB RDS; control database on MariaDB`,
        run: firstResult,
        withOutage: secondResult,
        target: '0 duplicates, 0 orphans, every job done, spread within 1 of the rule',
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
