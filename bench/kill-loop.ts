// The kill loop, as a report: for every step of `tenant:create` and every point of it
// (`before` it runs, `unrecorded`: after its write and before its record, `after` its record),
// a `tenant:create` is started (the spawned CLI), stopped there (RAIOPS_JOB_HANG) and killed
// with SIGKILL; then `job:retry ID` resumes the job. Per kill: the step the job was at, the
// steps recorded done, how the resume ended and how long it took, and what the fleet holds
// for that tenant (tenant rows on the RDS, owner users, locations, routing entries on the
// master, registry rows); then lib/provisioning's consistency check over the whole fleet.
// MariaDB: the control database, a master and one RDS. Prints a table on stderr and one JSON
// document on stdout (exit 1 when a kill did not converge to one of everything).
// Usage: npm run build && npm run bench:kill-loop [-- --points unrecorded|all]
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseKeyring} from '../src/lib/crypto/keyring.js'
import {openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {checkConsistency} from '../src/lib/provisioning/consistency.js'
import {tenantCreateKind} from '../src/lib/provisioning/kind.js'
import {makeContext} from '../test/support/context.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {benchLog, bin, cleanup, cleanUpOnSignals, cleanups, cliRunner, ms1, root} from './support.js'

const ALL = process.argv.includes('--points') && process.argv[process.argv.indexOf('--points') + 1] === 'all'
const STEPS = tenantCreateKind.steps.map((s) => s.name)
const POINTS = ALL ? STEPS.flatMap((s) => [`${s}:before`, `${s}:unrecorded`, `${s}:after`]) : STEPS.map((s) => `${s}:unrecorded`)
/** Fast retries and a short lease: a dead worker's job is free soon after its kill. */
const JOB_ENV = {RAIOPS_JOB_RETRY_LIMIT: '2', RAIOPS_JOB_RETRY_DELAY_MS: '50', RAIOPS_JOB_RETRY_MAX_MS: '200', RAIOPS_JOB_LEASE_MS: '1000'}
const log = benchLog('kill-loop')
cleanUpOnSignals(log)

interface Row {
  point: string
  job: number
  stateAtKill: string
  doneAtKill: number
  /** How `job:retry` ended, after how many refusals (exit 6: the dead worker's lease not yet lapsed), in ms from the first try. */
  resume: {exit: number | null; refusedBusy: number; state: string; ms: number}
  tenants: number
  owners: number
  locations: number
  routing: number
  registry: number
  converged: boolean
}

try {
  const home = createTestDir('raiops-bench-kill-loop-')
  cleanups.push(() => home.drop())
  const runner = cliRunner(home.path)
  Object.assign(runner.env, JOB_ENV)
  const [master, east] = await Promise.all([
    createRaiFixture({engine: 'mysql', tenants: 5, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 1, master: true}),
    createRaiFixture({engine: 'mysql', tenants: 5, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 1, seed: 2}),
  ])
  cleanups.push(
    () => master.drop(),
    () => east.drop(),
  )
  const control = await createTestDatabase('mysql', 'raiops_bench_kill')
  cleanups.push(() => control.drop())
  runner.env.RAIOPS_DATABASE_URL = control.url
  await runner.cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench Admin', '--password-stdin'], 'bench-password-1\n')
  const passwordArgs = mysqlServer.password ? ['--password-stdin'] : []
  const passwordInput = mysqlServer.password ? `${mysqlServer.password}\n` : ''
  for (const [name, fixture, isMaster] of [
    ['main', master, true],
    ['east', east, false],
  ] as const) {
    await runner.cliOk(
      [
        'rds:add',
        '--name',
        name,
        '--host',
        mysqlServer.host,
        '--port',
        String(mysqlServer.port),
        '--username',
        mysqlServer.user,
        '--rai-database',
        fixture.database,
        '--no-input',
        ...(isMaster ? ['--master'] : []),
        ...passwordArgs,
      ],
      passwordInput,
    )
  }
  const rds = JSON.parse((await runner.cliOk(['rds:list', '--json'])).stdout) as Array<{id: number; name: string}>
  const masterDb = await master.knex()
  const eastDb = await east.knex()
  cleanups.push(
    () => masterDb.destroy(),
    () => eastDb.destroy(),
  )
  await masterDb('user_email_routing').update({rds_instance_id: rds.find((r) => r.name === 'main')!.id})
  await runner.cliOk(['sync:tenants', '--force', '--json'])
  const db = await openControlDb(parseDatabaseUrl(control.url, home.path))
  cleanups.push(() => db.destroy())
  const keyring = parseKeyring(readFileSync(join(home.path, 'master.key'), 'utf8'), 'bench master key')
  const ctx = makeContext(db, {keyring})
  cleanups.push(() => ctx.close())

  const rows: Row[] = []
  for (const point of POINTS) {
    const name = `Killed ${point.replace(':', ' ')}`
    const email = `${point.replace(':', '.')}@killed.example`
    log(`${point}: start, stop there, kill -9`)
    const child = spawn(
      process.execPath,
      [bin, 'tenant:create', '--name', name, '--owner-name', 'K', '--owner-email', email, '--owner-without-password', '--locations', '2', '--rds', 'east'],
      {cwd: root, env: {...runner.env, RAIOPS_JOB_HANG: point}, stdio: ['ignore', 'ignore', 'pipe']},
    )
    let stderr = ''
    const hanging = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d
        if (stderr.includes(`hanging at ${point}`)) resolve()
      })
      child.on('exit', () => reject(new Error(`${point}: tenant:create exited before it hung\n${stderr}`)))
    })
    await hanging
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    const job = (await db('jobs').where({tenant_name: name}).first())!
    const doneAtKill = Number((await db('job_steps').where({job_id: job.id, state: 'done'}).count({n: '*'}))[0].n)
    const started = Date.now()
    const resume = await runner.cli(['job:retry', String(job.id), '--json'])
    // A dead worker's job is free once its holder is proven gone or its lease lapses: retry until it is.
    let again = resume
    let refused = 0
    while (again.code === 6 && Date.now() - started < 10_000) {
      refused++
      await new Promise((resolve) => setTimeout(resolve, 200))
      again = await runner.cli(['job:retry', String(job.id), '--json'])
    }
    const ended = (await db('jobs').where({id: job.id}).first('state'))!.state
    const count = async (q: Promise<Array<Record<string, unknown>>>) => (await q).length
    const tenantIds = (await eastDb('tenants').where({name}).pluck('id')) as number[]
    const row: Row = {
      point,
      job: Number(job.id),
      stateAtKill: job.state,
      doneAtKill,
      resume: {exit: again.code, refusedBusy: refused, state: ended, ms: ms1(Date.now() - started)},
      tenants: tenantIds.length,
      owners: await count(eastDb('users').whereIn('tenant_id', tenantIds).where({email, is_ghost: false}).select('id')),
      locations: await count(eastDb('locations').whereIn('tenant_id', tenantIds).select('id')),
      routing: await count(masterDb('user_email_routing').where({email}).select('id')),
      registry: await count(db('tenant_master').where({name}).select('id')),
      converged: false,
    }
    row.converged = ended === 'done' && row.tenants === 1 && row.owners === 1 && row.locations === 2 && row.routing === 1 && row.registry === 1
    rows.push(row)
  }
  const consistency = await checkConsistency(ctx)
  const header = ['point', 'job', 'at kill', 'done', 'refused', 'resume exit', 'state', 'ms', 'tenants', 'owners', 'locations', 'routing', 'registry']
  const table = [
    header,
    ...rows.map((r) => [
      r.point,
      String(r.job),
      r.stateAtKill,
      `${r.doneAtKill}/${STEPS.length}`,
      String(r.resume.refusedBusy),
      String(r.resume.exit),
      r.resume.state,
      String(r.resume.ms),
      String(r.tenants),
      String(r.owners),
      String(r.locations),
      String(r.routing),
      String(r.registry),
    ]),
  ]
  const widths = header.map((_, i) => Math.max(...table.map((line) => line[i].length)))
  for (const line of table) process.stderr.write(`${line.map((cell, i) => cell.padEnd(widths[i])).join('  ')}\n`)
  const ok = rows.every((r) => r.converged) && consistency.issues.length === 0
  console.log(
    JSON.stringify(
      {benchmark: 'kill-loop', points: POINTS.length, converged: rows.filter((r) => r.converged).length, consistencyIssues: consistency.issues, rows},
      null,
      2,
    ),
  )
  if (!ok) process.exitCode = 1
} finally {
  await cleanup(log)
}
