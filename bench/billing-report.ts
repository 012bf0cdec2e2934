// `raiops billing:report --by month` over 24 months of billing history for 10,000
// tenants (6 billing events and about 24 monthly payments each: ≈60,000 events,
// ≈235,000 payments) on a MariaDB control database, rows inserted directly in
// bulk; then the same tenants with twice the history (48 months, twice the
// events and payments). Against a floor measured in the same run: a node
// process that merely reads the events and the payments the report needs with
// one streamed mysql2 query each. Every figure is a spawned process, node
// start-up included on both sides; the CLI's peak RSS too. An in-process
// breakdown (the ledger's reading, its fold, the engine with and without the exports) says where the
// time goes. Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run build && npm run bench:billing-report [-- --runs 3] [--tenants 10000]
import mysql from 'mysql2/promise'
import {cpus, loadavg} from 'node:os'

import {foldLedger} from '../src/lib/billing/ledger.js'
import {report, reportBuilder, type TenantTimeline} from '../src/lib/billing/mrr/index.js'
import {DEFAULT_BILLING_GRACE_DAYS, loadLedgerData, tenantTimelines} from '../src/lib/billing/timelines.js'
import {openControlDb, parseDatabaseUrl} from '../src/lib/db/control-db.js'
import {createTestDatabase, createTestDir, mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, cliRunner, median, numberArgument, ratio, stats, timed, nodeFloor} from './support.js'

const runs = numberArgument('--runs', 3)
const TENANTS = numberArgument('--tenants', 10_000)
const RDS = 10
const INSERT_BATCH = 5000
const BLOCK = 24

const benchStarted = performance.now()
const log = benchLog('billing-report')
cleanUpOnSignals(log)

const home = createTestDir('raiops-bench-billing-report-')
cleanups.push(() => home.drop())
const {env, cliOk} = cliRunner(home.path, {measureRss: true})

/** The plans, as plan:create makes them: [code, currency, price]. */
const PLANS = [
  ['basic', 'USD', 4900],
  ['pro', 'USD', 9900],
  ['team', 'USD', 19_900],
  ['euro', 'EUR', 8900],
  ['euro-plus', 'EUR', 14_900],
] as const

const monthStart = (start: number, m: number): Date => {
  const d = new Date(start)
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + m, 1))
}

/**
 * One tenant's history of `months` (a multiple of 24), block by block: set at
 * month 0 of each block (new, or reactivation), a plan change at 4, a permanent
 * 10 % discount at 8, back to the first plan at 12, the discount removed at
 * 16, and at 20 a cancellation (one tenant in five) or another plan change.
 * Every month it is active is paid in full on its first day.
 */
function tenantHistory(i: number, tenantId: number, months: number, start: number, planIds: Map<string, number>) {
  const euro = i % 4 === 3
  const [first, second] = euro ? ['euro', 'euro-plus'] : i % 2 === 0 ? ['basic', 'pro'] : ['pro', 'team']
  const price = (code: string) => PLANS.find((p) => p[0] === code)![2]
  const currency = euro ? 'EUR' : 'USD'
  const cancels = i % 5 === 0
  const events: unknown[][] = []
  const payments: unknown[][] = []
  const event = (m: number, type: string, changes: object, planId: number | null) => {
    const at = monthStart(start, m)
    events.push([tenantId, type, planId, 0, 0, at, currency, JSON.stringify(changes), 'bench@example.com', at, at])
  }
  for (let block = 0; block < months; block += BLOCK) {
    event(block, 'set', {planId: planIds.get(first), quantity: 1, quantityMode: 'fixed', status: 'active'}, planIds.get(first)!)
    event(block + 4, 'set', {planId: planIds.get(second)}, planIds.get(second)!)
    event(block + 8, 'set', {discount: {percentBp: 1000}, discountUntil: null}, null)
    event(block + 12, 'set', {planId: planIds.get(first)}, planIds.get(first)!)
    event(block + 16, 'set', {discount: null}, null)
    if (cancels) event(block + 20, 'cancel', {status: 'canceled'}, null)
    else event(block + 20, 'set', {planId: planIds.get(second)}, planIds.get(second)!)
    for (let m = 0; m < BLOCK; m++) {
      if (cancels && m >= 20) break
      const term = price(m < 4 ? first : m < 12 ? second : m < 20 ? first : second)
      const due = m >= 8 && m < 16 ? term - Math.round((term * 1000) / 10_000) : term
      const at = monthStart(start, block + m)
      payments.push([tenantId, due, currency, at, 'card', null, 'succeeded', at, monthStart(start, block + m + 1), 'bench@example.com', at, at])
    }
  }
  return {events, payments}
}

/** The floor: node, one streamed mysql2 query for the events and one for the payments, rows counted. */
const FLOOR_SCRIPT = `
import mysql from 'mysql2'
const [url, until] = process.argv.slice(1)
const conn = mysql.createConnection({uri: url, timezone: 'Z', charset: 'utf8mb4'})
let n = 0
for await (const r of conn.query('SELECT id, tenant_master_id, type, effective_at, changes FROM billing_events WHERE effective_at <= ?', [new Date(until)]).stream()) n += r.id > 0 ? 1 : 0
for await (const r of conn.query('SELECT id, tenant_master_id, amount_cents, currency, paid_at, status, period_start, refund_of FROM payments WHERE paid_at <= ?', [new Date(until)]).stream()) n += r.id > 0 ? 1 : 0
conn.end()
process.stderr.write(String(n))
`

function floorRun(url: string, until: Date): Promise<{ms: number; rows: number}> {
  return nodeFloor(FLOOR_SCRIPT, [url, until.toISOString()])
}

try {
  const control = await createTestDatabase('mysql', 'raiops_bench_br')
  cleanups.push(() => control.drop())
  env.RAIOPS_DATABASE_URL = control.url
  log(`control database ${control.name}: init`)
  await cliOk(['init', '--admin-email', 'bench@example.com', '--admin-name', 'Bench', '--password-stdin'], 'bench-password-1\n')
  const now = new Date()
  // The plans exist from long before the history.
  for (const [code, currency, price] of PLANS)
    await cliOk(['plan:create', code, '--name', code, '--currency', currency, '--interval', 'month', '--price', (price / 100).toFixed(2)])

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
  const planIds = new Map(
    ((await conn.query('SELECT id, code FROM subscription_plans')) as unknown as [Array<{id: number; code: string}>])[0].map((r) => [r.code, r.id]),
  )
  for (let i = 1; i <= RDS; i++)
    await conn.query('INSERT INTO rds_instances (name, engine, rai_database, created_at, updated_at) VALUES (?, ?, ?, ?, ?)', [
      `rds-${String(i).padStart(2, '0')}`,
      'sqlite',
      `/tmp/rai-bench-${i}.sqlite`,
      now,
      now,
    ])
  const rdsIds = ((await conn.query('SELECT id FROM rds_instances ORDER BY id')) as unknown as [Array<{id: number}>])[0].map((r) => r.id)
  for (let start = 0; start < TENANTS; start += INSERT_BATCH) {
    const rows = Array.from({length: Math.min(INSERT_BATCH, TENANTS - start)}, (_, k) => {
      const i = start + k
      return [rdsIds[i % RDS], i + 1, `Tenant ${i}`, 'active', `tenant ${i}`, now, now]
    })
    await conn.query('INSERT INTO tenant_master (rds_instance_id, remote_tenant_id, name, status, search_text, created_at, updated_at) VALUES ?', [rows])
  }
  const tenantIds = ((await conn.query('SELECT id FROM tenant_master ORDER BY remote_tenant_id')) as unknown as [Array<{id: number}>])[0].map((r) => r.id)

  const sizes = []
  for (const months of [BLOCK, 2 * BLOCK]) {
    await conn.query('DELETE FROM payments')
    await conn.query('DELETE FROM billing_events')
    // The history ends with the month before this one: --to is the first of this month.
    const start = monthStart(now.getTime(), -months).getTime()
    const from = new Date(start).toISOString().slice(0, 10)
    const to = monthStart(start, months).toISOString().slice(0, 10)
    let eventCount = 0
    let paymentCount = 0
    const insertMs = await timed(async () => {
      let events: unknown[][] = []
      let payments: unknown[][] = []
      const flush = async (force: boolean) => {
        if (events.length >= INSERT_BATCH || (force && events.length > 0)) {
          await conn.query(
            'INSERT INTO billing_events (tenant_master_id, type, plan_id, mrr_cents, mrr_delta_cents, effective_at, currency, changes, actor, recorded_at, created_at) VALUES ?',
            [events],
          )
          eventCount += events.length
          events = []
        }
        if (payments.length >= INSERT_BATCH || (force && payments.length > 0)) {
          await conn.query(
            'INSERT INTO payments (tenant_master_id, amount_cents, currency, paid_at, method, reference, status, period_start, period_end, recorded_by, created_at, updated_at) VALUES ?',
            [payments],
          )
          paymentCount += payments.length
          payments = []
        }
      }
      for (let i = 0; i < TENANTS; i++) {
        const history = tenantHistory(i, tenantIds[i], months, start, planIds)
        events.push(...history.events)
        payments.push(...history.payments)
        await flush(false)
      }
      await flush(true)
    })
    await conn.query('ANALYZE TABLE billing_events, payments')
    log(`${months} months: ${eventCount} events, ${paymentCount} payments inserted in ${(insertMs / 1000).toFixed(1)} s`)

    // In process, once: where the time goes (the ledger read as columns, folded tenant by tenant, run through the engine).
    const db = await openControlDb(parseDatabaseUrl(control.url, home.path))
    const until = Date.now()
    let data: Awaited<ReturnType<typeof loadLedgerData>> | undefined
    const readMs = await timed(async () => (data = await loadLedgerData(db, {until})))
    const timelines: TenantTimeline[] = []
    const foldMs = await timed(async () => {
      for (const id of data!.ids) {
        const ledger = foldLedger(data!.eventsOf(id), data!.paymentsOf(id), data!.plans, {until, graceDays: DEFAULT_BILLING_GRACE_DAYS, withMrr: false})
        timelines.push(...tenantTimelines(data!, id, ledger.states))
      }
    })
    const engineMs = await timed(async () => {
      const builder = reportBuilder({from, to, by: 'month'}, {}, {detail: false})
      for (const timeline of timelines) builder.add(timeline)
      builder.finish()
    })
    const engineDetailMs = await timed(async () => report(timelines, {from, to, by: 'month'}))
    await db.destroy()

    const args = ['billing:report', '--by', 'month', '--from', from, '--to', to]
    const check = await cliOk(args)
    if (!/USD: MRR [\d,.]+/.test(check.stdout) || !/EUR: MRR/.test(check.stdout)) throw new Error(`unexpected report:\n${check.stdout.slice(0, 2000)}`)
    const floorCheck = await floorRun(control.url, now)
    if (floorCheck.rows !== eventCount + paymentCount) throw new Error(`the floor read ${floorCheck.rows} rows`)
    const cliMs: number[] = []
    const floorMs: number[] = []
    const rssKb: number[] = []
    for (let i = 0; i < runs; i++) {
      const run = await cliOk(args)
      cliMs.push(run.ms)
      if (run.peakRssKb !== null) rssKb.push(run.peakRssKb)
      floorMs.push((await floorRun(control.url, now)).ms)
      log(`${months} months ${i + 1}/${runs}: CLI ${run.ms.toFixed(0)} ms (peak RSS ${run.peakRssKb} kB), floor ${floorMs[i].toFixed(0)} ms`)
    }
    const peakMb = rssKb.length > 0 ? Math.round(Math.max(...rssKb) / 1024) : null
    const r = median(cliMs) / median(floorMs)
    sizes.push({
      months,
      tenants: TENANTS,
      events: eventCount,
      payments: paymentCount,
      command: `raiops ${args.join(' ')}`,
      wall: stats(cliMs),
      floor: {what: 'node + mysql2: one streamed SELECT of the events and one of the payments the report reads, rows counted', ...stats(floorMs)},
      ratio: ratio(r),
      goal: 2,
      met: r <= 2,
      peakRssMb: peakMb,
      peakRssGoalMb: 200,
      peakRssMet: peakMb !== null && peakMb <= 200,
      inProcess: {
        readMs: Math.round(readMs),
        foldMs: Math.round(foldMs),
        engineMs: Math.round(engineMs),
        engineWithExportsMs: Math.round(engineDetailMs),
        timelines: timelines.length,
      },
      insertS: Math.round(insertMs / 100) / 10,
    })
  }
  const [small, large] = sizes
  console.log(
    JSON.stringify(
      {
        benchmark: 'billing-report',
        setup: {
          tenants: TENANTS,
          rds: RDS,
          runs,
          cpus: cpus().length,
          loadavgAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
          startup: 'node start-up included on both sides: every figure is a spawned process, from spawn to exit',
          peakRssMeasuredBy: '/usr/bin/time -f %M when present, else VmHWM polled',
        },
        sizes,
        growth: {
          rows: ratio((large.events + large.payments) / (small.events + small.payments)),
          wall: ratio(large.wall.medianMs / small.wall.medianMs),
          floor: ratio(large.floor.medianMs / small.floor.medianMs),
          read: ratio(large.inProcess.readMs / small.inProcess.readMs),
          fold: ratio(large.inProcess.foldMs / small.inProcess.foldMs),
          engine: ratio(large.inProcess.engineMs / small.inProcess.engineMs),
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
