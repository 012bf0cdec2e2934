// The MRR engine alone (no database): `report` by month over a generated ledger of
// 10,000 tenants with 6 billing events each (60,000 events) over 24 months, and
// the same tenants with twice the history (120,000 events over 48 months), to
// show growth is linear. CPU time of the warm call, median of several runs,
// against a floor measured in the same run: reading every event's instants and
// amounts once (what any computation over the ledger must at least do).
// Prints one JSON document on stdout; progress goes to stderr.
// Usage: npm run bench:mrr-engine [-- --runs 7] [--tenants 10000]
import {cpus, loadavg} from 'node:os'

import {report, type SubscriptionState, type TenantTimeline} from '../src/lib/billing/mrr/index.js'
import {benchLog, median, ms1, numberArgument, ratio} from './support.js'

const runs = numberArgument('--runs', 7)
const TENANTS = numberArgument('--tenants', 10_000)
const DAY = 86_400_000
const START = Date.UTC(2024, 0, 1)
const log = benchLog('mrr-engine')

/** A reproducible ledger: each tenant's events spread over `months`, every status, yearly and monthly plans, discounts. */
function ledger(tenants: number, eventsPerTenant: number, months: number): TenantTimeline[] {
  let seed = 42
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
  const statuses = ['active', 'active', 'active', 'past_due', 'paused', 'canceled', 'trialing'] as const
  const spacing = (months * 30 * DAY) / eventsPerTenant
  return Array.from({length: tenants}, (_, i): TenantTimeline => {
    let at = START + Math.floor(random() * spacing)
    const states = Array.from({length: eventsPerTenant}, (_, k): SubscriptionState => {
      const state: SubscriptionState = {
        at: new Date(at).toISOString(),
        status: statuses[Math.floor(random() * statuses.length)],
        planCode: ['basic', 'pro', 'max'][k % 3],
        termAmountMinor: Math.floor(random() * 100_000),
        intervalMonths: [1, 12, 1, 3][k % 4],
        discount: k % 3 === 0 ? {percentBp: 1_000} : null,
        discountUntil: k % 6 === 0 ? new Date(at + 90 * DAY).toISOString() : null,
        paidThrough: new Date(at + 30 * DAY).toISOString(),
        eventId: i * 100 + k,
      }
      at += Math.floor(random() * 2 * spacing)
      return state
    })
    return {tenantId: i, tenantName: `tenant ${i}`, rdsId: i % 20, currency: i % 5 === 0 ? 'USD' : 'EUR', states}
  })
}

function cpuMs(work: () => unknown): number {
  const started = process.cpuUsage()
  work()
  const used = process.cpuUsage(started)
  return (used.user + used.system) / 1000
}

/** The floor: every instant parsed and every amount read once. */
function readAll(timelines: TenantTimeline[]): number {
  let sum = 0
  for (const t of timelines) {
    for (const s of t.states) {
      sum += Date.parse(s.at as string) + s.termAmountMinor
      if (typeof s.paidThrough === 'string') sum += Date.parse(s.paidThrough)
      if (typeof s.discountUntil === 'string') sum += Date.parse(s.discountUntil)
    }
  }
  return sum
}

function measure(months: number, eventsPerTenant: number) {
  const timelines = ledger(TENANTS, eventsPerTenant, months)
  const range = {from: new Date(START).toISOString(), to: new Date(Date.UTC(2024, months, 1)).toISOString(), by: 'month' as const}
  let movements = 0
  report(timelines, range) // warm
  const reportMs = Array.from({length: runs}, () =>
    cpuMs(() => {
      const r = report(timelines, range)
      movements = r.currencies.reduce((n, c) => n + c.movements.length, 0)
    }),
  )
  const floorMs = Array.from({length: runs}, () => cpuMs(() => readAll(timelines)))
  log(`${months} months: report ${ms1(median(reportMs))} ms CPU, floor ${ms1(median(floorMs))} ms`)
  return {
    tenants: TENANTS,
    events: TENANTS * eventsPerTenant,
    months,
    movements,
    reportCpuMs: ms1(median(reportMs)),
    floorCpuMs: ms1(median(floorMs)),
    ratio: ratio(median(reportMs) / median(floorMs)),
    samplesMs: reportMs.map(ms1),
  }
}

const base = measure(24, 6)
const doubled = measure(48, 12)
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'mrr-engine',
      cpus: cpus().length,
      loadAverage: loadavg()[0],
      base,
      doubled,
      growth: ratio(doubled.reportCpuMs / base.reportCpuMs),
    },
    null,
    2,
  )}\n`,
)
