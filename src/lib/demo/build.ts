import knexFactory, {type Knex} from 'knex'
import {mkdirSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {runAlerts} from '../alerts/engine.js'
import {startSession, readSessionToken, verifySession} from '../auth/session.js'
import {createPlan} from '../billing/plan-changes.js'
import {BusyError, ConfigError, RaiopsError, UserError} from '../errors/index.js'
import {DEFAULT_SLOW_MS} from '../health/rules.js'
import type {JobState} from '../jobs/index.js'
import {createTenant} from '../provisioning/create.js'
import {TENANT_CREATE_KIND} from '../provisioning/input.js'
import {runHealth} from '../rds/health.js'
import {addRds, setRdsState} from '../rds/service.js'
import {Runtime} from '../runtime.js'
import {initRaiops} from '../setup/init.js'
import {syncTenants} from '../sync/tenants.js'
import {shellQuote} from '../text/shell.js'
import {DEMO_BILLING_MONTHS, demoBillingShowcase, demoBillingWindow, writeDemoBilling} from './billing-history.js'
import {claimDemoDir, clearDemoDir, inspectDemoDir, writeMarker, type DemoMarker} from './directory.js'
import {planCounts, type RoutedDatabase} from './fleet-data.js'
import {writeRaiDatabase} from './fleet-load.js'
import {DEMO_PLANS, DEMO_SEED, demoFleet, type DemoFleet, type DemoSize} from './fleet.js'

/** The demo's first operator: a system_admin, signed in on the demo's own home. */
export const DEMO_ADMIN = {email: 'admin@demo.example.com', name: 'Demo Admin', password: 'demo-admin-password'} as const
/** How long the demo's session lasts; `raiops demo` run again renews it. */
const DEMO_SESSION_TTL_MS = 30 * 24 * 3_600_000

export interface DemoRequest {
  /** Absolute path of the demo directory. */
  dir: string
  /** Default: the size of the demo already there, else small. A demo of another size is refused unless `reset`. */
  size?: DemoSize
  /** Delete a demo already in `dir` (only one with a demo marker) and build it again. */
  reset: boolean
  /** One line per stage of a build, for a progress display. */
  onProgress?: (message: string) => void
  now?: Date
}

export interface DemoRdsSummary {
  name: string
  state: 'online' | 'draining' | 'locked'
  master: boolean
  /** Whether its RAI database file is missing on purpose (the server that is down). */
  missing: boolean
  /** Whether it is the server that came back after an outage, locked, a failed tenant creation waiting on it. */
  outage: boolean
  file: string
  tenants: number
  users: number
  ghostUsers: number
  locations: number
}

export interface DemoResult {
  /** created: built now; exists: a complete demo was already there (its session renewed when needed). */
  status: 'created' | 'exists'
  dir: string
  /** Entries of the directory that are not the demo's, left in place by --reset. */
  keptEntries: string[]
  /** The RAIOPS_HOME of the demo: its control database, master key and session. */
  home: string
  size: DemoSize
  seed: number
  admin: string
  rds: DemoRdsSummary[]
  totals: {tenants: number; users: number; ghostUsers: number; locations: number; routing: number}
  /** Emails that are users of several tenants on different RDS (the first few). */
  sharedEmails: string[]
  /** A tenant to open for support, as RDS:REMOTE_ID. */
  supportTenant: string
  sessionExpiresAt: string
  /** The billing history: its range (YYYY-MM-DD, --to exclusive), where the tour's report starts, and the tenant it explains. */
  billing: {from: string; to: string; reportFrom: string; showcase: string}
  /**
   * A tenant creation that failed on a server while it was down (`rds`, since
   * back and locked), and its state now: failed until the tour's `rds:online`
   * and `job:retry` complete it (null: none, in a demo built before there were jobs).
   */
  failedJob: {id: number; rds: string; state: JobState} | null
}

export function demoHome(dir: string): string {
  return join(dir, 'home')
}

function fleetDir(dir: string): string {
  return join(dir, 'fleet')
}

/**
 * The environment of raiops on the demo: its home, and its control database and
 * key file named outright, so that neither the caller's environment nor a
 * `.env` in the demo's home points it anywhere else.
 */
export function demoEnvironment(dir: string): {RAIOPS_HOME: string; RAIOPS_DATABASE_URL: string; RAIOPS_MASTER_KEY_FILE: string} {
  const home = demoHome(dir)
  return {
    RAIOPS_HOME: home,
    RAIOPS_DATABASE_URL: pathToFileURL(join(home, 'raiops.sqlite')).href.replace(/^file:/, 'sqlite:'),
    RAIOPS_MASTER_KEY_FILE: join(home, 'master.key'),
  }
}

function demoRuntime(dir: string, commandLine: readonly string[]): Runtime {
  return new Runtime({env: demoEnvironment(dir), cwd: dir, permission: null, commandLine})
}

/** `raiops demo FLAGS --dir DIR`, to paste. */
export function demoCommand(dir: string, flags: string): string {
  return ['raiops demo', flags, `--dir ${shellQuote(dir)}`].filter((part) => part !== '').join(' ')
}

/** Whether the process that marked a build is still at it (on this machine). */
function buildRunning(marker: DemoMarker): boolean {
  if (marker.state !== 'building' || marker.builder.host !== hostname() || marker.builder.pid === process.pid) return false
  try {
    process.kill(marker.builder.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The master RDS: its tenants are the ones with a billing history. */
function masterOf(fleet: DemoFleet): DemoFleet['rds'][number] {
  return fleet.rds.find((server) => server.master) ?? fleet.rds[0]
}

function billingFacts(fleet: DemoFleet, seed: number, builtAt: Date): DemoResult['billing'] {
  const master = masterOf(fleet)
  return {...demoBillingWindow(builtAt), showcase: demoBillingShowcase(master.name, master.plan.tenants, seed)}
}

function summarize(fleet: DemoFleet, dir: string): Pick<DemoResult, 'rds' | 'totals' | 'sharedEmails' | 'supportTenant'> {
  const rds = fleet.rds.map((server): DemoRdsSummary => {
    const counts = planCounts(server.plan)
    return {
      name: server.name,
      state: server.state,
      master: server.master,
      missing: server.missing,
      outage: server.outage,
      file: join(fleetDir(dir), server.file),
      ...counts,
    }
  })
  const sum = (key: 'tenants' | 'users' | 'ghostUsers' | 'locations') => rds.reduce((total, r) => total + r[key], 0)
  return {
    rds,
    totals: {
      tenants: sum('tenants'),
      users: sum('users'),
      ghostUsers: sum('ghostUsers'),
      locations: sum('locations'),
      routing: sum('users'),
    },
    sharedEmails: fleet.sharedEmails.slice(0, 5),
    supportTenant: fleet.supportTenant,
  }
}

/** Signs the demo admin in on the demo's home unless a session that is still good for a day is there. */
async function ensureSession(runtime: Runtime, home: string, now: Date, force: boolean): Promise<Date> {
  const token = readSessionToken(home)
  if (token && !force) {
    const checked = await verifySession(home, token, now)
    if (checked.ok && checked.claims.expiresAt.getTime() - now.getTime() > 24 * 3_600_000) return checked.claims.expiresAt
  }
  const db = await runtime.db()
  const admin = await db('operators').where({email: DEMO_ADMIN.email}).first('id', 'email')
  if (!admin) throw new ConfigError(`it has no operator ${DEMO_ADMIN.email}`)
  const session = await startSession({db, now: () => now}, {home, operator: {id: Number(admin.id), email: admin.email}, ttlMs: DEMO_SESSION_TTL_MS})
  // As the session token holds it (whole seconds), so a later run reports the same instant.
  return new Date(Math.floor(session.expiresAt.getTime() / 1000) * 1000)
}

/** Writes the fleet's RAI databases as SQLite files, the missing one and the one yet to come back left out; `ids` are their registry ids. */
async function writeFleet(fleet: DemoFleet, dir: string, ids: readonly number[], progress: (message: string) => void): Promise<void> {
  mkdirSync(fleetDir(dir), {recursive: true, mode: 0o700})
  const routes: RoutedDatabase[] = fleet.rds.map((server, index) => ({plan: server.plan, rdsInstanceId: ids[index]}))
  for (const server of fleet.rds) {
    if (server.missing || server.outage) continue
    progress(`writing the RAI database of ${server.name} (${server.plan.tenants} tenants${server.master ? ', and the routing directory' : ''})`)
    await writeServer(dir, server, server.master ? routes : undefined)
  }
}

async function writeServer(dir: string, server: DemoFleet['rds'][number], routes: RoutedDatabase[] | undefined): Promise<void> {
  const db = knexFactory({
    client: 'better-sqlite3',
    connection: {filename: join(fleetDir(dir), server.file)},
    useNullAsDefault: true,
    pool: {min: 1, max: 1},
  })
  try {
    await writeRaiDatabase(db, {plan: server.plan, routes})
  } finally {
    await db.destroy()
  }
}

/** When the demo's plans were created and its master's tenants registered: a week before its billing history starts. */
function billingSince(now: Date): Date {
  return new Date(Date.parse(`${demoBillingWindow(now).from}T00:00:00Z`) - 7 * 86_400_000)
}

/**
 * Two years of billing for tenants of the master: its tenants synced into the
 * registry as cron would have done before the history starts (the ledger takes
 * no change dated before a tenant was registered), then the history written
 * through the billing services, as the demo admin.
 */
async function writeBillingHistory(fleet: DemoFleet, dir: string, now: Date, progress: (message: string) => void): Promise<void> {
  const master = masterOf(fleet)
  const registeredAt = billingSince(now)
  progress(`writing ${DEMO_BILLING_MONTHS} months of billing history for tenants of ${master.name}`)
  const operator = demoRuntime(dir, ['demo'])
  try {
    const ctx = await operator.context()
    await operator.identity()
    const acting = {...ctx, audit: operator.audit}
    await syncTenants({...acting, now: () => registeredAt}, {refs: [master.name], force: true, maxAgeMs: 0, concurrency: 1, deadlineMs: 60_000})
    await writeDemoBilling(acting, {rds: master.name, tenants: master.plan.tenants, seed: DEMO_SEED, now})
  } finally {
    await operator.close()
  }
}

/** The tenant the demo's failed creation was for. */
const FAILED_TENANT = 'Corner Cafe'

const MINUTE = 60_000
/** How long before the build the outage's creation failed, and when cron's health checks and alert runs saw the outage after it. */
const OUTAGE_AGO_MS = 15 * MINUTE
const CRON_RUNS_AGO_MS = [12 * MINUTE, 6 * MINUTE] as const

/**
 * An outage, as the tour finds it: a tenant creation sent to a server while it
 * was down (its file not written yet), before any health check said so, fails
 * at its tenant step having written nothing there. Then cron, twice, six
 * minutes apart: `rds:health` finds that server and the one whose file is
 * missing down, and `alerts:run` makes their rds-down alerts pending, then
 * firing (its rule's `for` is 5 minutes). Then the server comes back (its file
 * is written) and is found locked, as an operator left it during the outage.
 * The tour shows the alerts, the job, puts the server online, retries the job,
 * silences the alert of the server still down and sees the other one resolve.
 */
async function writeOutage(fleet: DemoFleet, dir: string, now: Date, progress: (message: string) => void): Promise<DemoResult['failedJob']> {
  const server = fleet.rds.find((rds) => rds.outage)
  if (!server) return null
  progress(
    `creating a tenant on ${server.name} while it is down: its job fails; cron's health checks and alert runs see it down; then ${server.name} comes back, locked`,
  )
  const operator = demoRuntime(dir, ['demo'])
  try {
    const ctx = await operator.context()
    await operator.identity()
    const acting = {...ctx, audit: operator.audit}
    const failedAt = new Date(now.getTime() - OUTAGE_AGO_MS)
    const result = await createTenant(
      {...acting, now: () => failedAt},
      {
        name: FAILED_TENANT,
        owner: {name: 'Cora Owner', email: 'cora@corner-cafe.example', password: null},
        locations: '1',
        rds: server.name,
        capacity: operator.config.placementCapacity,
        ghostDomain: operator.config.ghostDomain,
        graceDays: operator.config.billingGraceDays,
      },
      {detach: false, settings: {...operator.config.jobs, retryLimit: 0}},
    )
    for (const ago of CRON_RUNS_AGO_MS) {
      const at = new Date(now.getTime() - ago)
      await runHealth({...acting, now: () => at}, {timeoutMs: 5000, slowMs: DEFAULT_SLOW_MS})
      await runAlerts({db: acting.db, now: () => at}, {now: at, deliver: false})
    }
    await writeServer(dir, server, undefined)
    await setRdsState(acting, {ref: server.name, state: 'locked'})
    return {id: result.job.id, rds: server.name, state: result.job.state}
  } finally {
    await operator.close()
  }
}

/** The demo's failed tenant creation, as the build left it or a tour since made it. */
async function failedJobOf(db: Knex, fleet: DemoFleet): Promise<DemoResult['failedJob']> {
  const server = fleet.rds.find((rds) => rds.outage)
  const row = await db('jobs').where({kind: TENANT_CREATE_KIND, tenant_name: FAILED_TENANT}).orderBy('id').first('id', 'state')
  return row && server ? {id: Number(row.id), rds: server.name, state: row.state} : null
}

/**
 * Builds the demo in `dir`: a home of its own (SQLite control database, master
 * key, the admin signed in), the fleet's RAI databases in SQLite files, and the
 * five RDS registered (one master, one draining, one whose file is missing, one back from an outage, locked).
 * A complete demo already there is left as it is (`status: exists`); an
 * incomplete one, or a directory that is a file or holds something else, is
 * refused (exit 2).
 */
export async function buildDemo(request: DemoRequest): Promise<DemoResult> {
  const now = request.now ?? new Date()
  const progress = request.onProgress ?? (() => {})
  const {dir} = request
  const home = demoHome(dir)
  const state = inspectDemoDir(dir)
  let keptEntries: string[] = []

  if (state.kind === 'demo' && buildRunning(state.marker)) {
    throw new BusyError(`a demo is being built in ${dir} right now (process ${state.marker.builder.pid})`, {
      hint: `wait for it to finish, then run \`${demoCommand(dir, '--tour')}\``,
    })
  }
  if (state.kind === 'demo' && !request.reset) {
    if (state.marker.state !== 'complete') {
      throw new UserError(`the demo in ${dir} is incomplete: its build was interrupted`, {
        hint: `run \`${demoCommand(dir, '--reset')}\` to build it again`,
      })
    }
    if (request.size && request.size !== state.marker.size) {
      throw new UserError(`the demo in ${dir} is of size ${state.marker.size}, not ${request.size}`, {
        hint: `run \`${demoCommand(dir, `--reset --size ${request.size}`)}\` to build it again`,
      })
    }
    const runtime = demoRuntime(dir, ['demo'])
    try {
      const fleet = demoFleet(state.marker.size)
      // The control database must be there and ready, whatever the session file says.
      const failedJob = await failedJobOf(await runtime.db(), fleet)
      const expiresAt = await ensureSession(runtime, home, now, false)
      return {
        status: 'exists',
        dir,
        keptEntries,
        home,
        size: fleet.size,
        seed: state.marker.seed,
        admin: DEMO_ADMIN.email,
        ...summarize(fleet, dir),
        sessionExpiresAt: expiresAt.toISOString(),
        billing: billingFacts(fleet, state.marker.seed, new Date(state.marker.startedAt)),
        failedJob,
      }
    } catch (error) {
      // A demo whose home was changed by hand: rebuilding it is the way back.
      if (error instanceof RaiopsError && !(error instanceof UserError)) {
        throw new UserError(`the demo in ${dir} is damaged: ${error.message}`, {
          hint: `run \`${demoCommand(dir, '--reset')}\` to build it again`,
        })
      }
      throw error
    } finally {
      await runtime.close()
    }
  }
  const size = request.size ?? 'small'
  if (state.kind === 'demo') {
    progress(`deleting the demo in ${dir}`)
    keptEntries = clearDemoDir(dir)
  }

  const marker: DemoMarker = {
    raiops: 'demo',
    version: 1,
    state: 'building',
    size,
    seed: DEMO_SEED,
    startedAt: now.toISOString(),
    completedAt: null,
    builder: {host: hostname(), pid: process.pid},
  }
  claimDemoDir(dir, marker)
  const fleet = demoFleet(size)

  progress('setting up raiops in the demo home: master key, control database, roles, admin')
  mkdirSync(home, {mode: 0o700})
  const setup = demoRuntime(dir, ['demo'])
  let sessionExpiresAt: Date
  try {
    await initRaiops(
      {db: await setup.db({prepare: true}), audit: setup.audit, now: () => now},
      {target: setup.target, home, masterKeyFile: setup.config.masterKeyFile, admin: async () => ({...DEMO_ADMIN})},
    )
    sessionExpiresAt = await ensureSession(setup, home, now, true)
  } finally {
    await setup.close()
  }

  // The registry is changed as the demo admin, so the audit trail shows who did it.
  progress(`registering ${fleet.rds.length} RDS and ${DEMO_PLANS.length} subscription plans`)
  const operator = demoRuntime(dir, ['demo'])
  const ids: number[] = []
  try {
    const ctx = await operator.context()
    await operator.identity()
    const acting = {...ctx, audit: operator.audit}
    for (const server of fleet.rds) {
      const added = await addRds(acting, {
        name: server.name,
        engine: 'sqlite',
        raiDatabase: join(fleetDir(dir), server.file),
        appUrl: server.appUrl,
        master: server.master,
        test: false,
      })
      ids.push(added.rds.id)
      // The server of the outage is locked once it is back (writeOutage).
      if (server.state !== 'online' && !server.outage) await setRdsState(acting, {ref: server.name, state: server.state})
    }
    // In effect from before the billing history starts.
    for (const plan of DEMO_PLANS) await createPlan({...acting, now: () => billingSince(now)}, plan)
  } finally {
    await operator.close()
  }

  await writeFleet(fleet, dir, ids, progress)
  await writeBillingHistory(fleet, dir, now, progress)
  const failedJob = await writeOutage(fleet, dir, now, progress)

  writeMarker(dir, {...marker, state: 'complete', completedAt: new Date().toISOString()})
  return {
    status: 'created',
    dir,
    keptEntries,
    home,
    size: fleet.size,
    seed: DEMO_SEED,
    admin: DEMO_ADMIN.email,
    ...summarize(fleet, dir),
    sessionExpiresAt: sessionExpiresAt.toISOString(),
    billing: billingFacts(fleet, DEMO_SEED, now),
    failedJob,
  }
}
