import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {
  convert,
  movements,
  mrrAt,
  report,
  splitPeriods,
  type Movement,
  type MrrPolicies,
  type SubscriptionState,
  type TenantTimeline,
} from '../../src/lib/billing/mrr/index.js'

const DAY = 86_400_000
const MINUTE = 60_000
const START = Date.UTC(2025, 0, 1)

/** Gaps between a tenant's events: minutes (merged or not), days, or months; so bursts, past-due runs and long gaps all occur. */
const gap = fc.oneof(
  fc.integer({min: 0, max: 90}).map((m) => m * MINUTE),
  fc.integer({min: 1, max: 45}).map((d) => d * DAY),
  fc.integer({min: 1, max: 400 * DAY}),
)

const discount = fc.oneof(
  fc.constant(null),
  fc.record({percentBp: fc.integer({min: 0, max: 12_000})}),
  fc.record({amountMinor: fc.integer({min: 0, max: 600_000})}),
)

const step = fc.record({
  gap,
  status: fc.constantFrom<SubscriptionState['status']>('active', 'active', 'active', 'trialing', 'past_due', 'paused', 'canceled'),
  planCode: fc.constantFrom('basic', 'pro', 'max'),
  termAmountMinor: fc.oneof(fc.integer({min: 0, max: 500_000}), fc.constantFrom(0, 99_900, 200_000)),
  intervalMonths: fc.constantFrom(1, 3, 12, 24, 36),
  discount,
  discountUntil: fc.option(fc.integer({min: -30, max: 200}), {nil: undefined}),
  paidThrough: fc.option(fc.integer({min: -10, max: 400}), {nil: undefined}),
  asText: fc.boolean(),
})

const timeline = (index: number) =>
  fc
    .record({
      currency: fc.constantFrom('EUR', 'USD', 'JPY', 'KWD'),
      rdsId: fc.constantFrom('rds-1', 'rds-2', null),
      steps: fc.array(step, {maxLength: 8}),
    })
    .map(({currency, rdsId, steps}): TenantTimeline => {
      let at = START
      const states = steps.map((s, n): SubscriptionState => {
        at += s.gap
        return {
          at: s.asText ? new Date(at).toISOString() : at,
          status: s.status,
          planCode: s.planCode,
          termAmountMinor: s.termAmountMinor,
          intervalMonths: s.intervalMonths,
          discount: s.discount,
          discountUntil: s.discountUntil === undefined ? undefined : at + s.discountUntil * DAY,
          paidThrough: s.paidThrough === undefined ? undefined : at + s.paidThrough * DAY,
          eventId: `${index}.${n}`,
        }
      })
      return {tenantId: index, tenantName: `tenant ${index}`, rdsId, currency, states}
    })

const history = fc.integer({min: 0, max: 7}).chain((count) => fc.tuple(...Array.from({length: count}, (_, i) => timeline(i))))

const policies = fc.record<MrrPolicies>({
  limitedDiscounts: fc.constantFrom('ignore', 'apply'),
  pastDueDays: fc.constantFrom(0, 1, 30, 45),
  pause: fc.constantFrom('contraction', 'churn'),
  churnAt: fc.constantFrom('period-end', 'cancellation'),
  mergeMinutes: fc.constantFrom(0, 60, 1440),
})

/** A range starting anywhere in the first year (often mid-month), 3 to 30 months long. */
const range = fc.record({
  fromOffset: fc.oneof(
    fc.integer({min: 0, max: 365 * DAY}),
    fc.integer({min: 0, max: 11}).map((m) => Date.UTC(2025, m, 1) - START),
  ),
  months: fc.integer({min: 3, max: 30}),
  by: fc.constantFrom<'month' | 'week'>('month', 'month', 'week'),
})

const net = (f: {newMinor: number; expansionMinor: number; reactivationMinor: number; contractionMinor: number; churnMinor: number}) =>
  f.newMinor + f.expansionMinor + f.reactivationMinor - f.contractionMinor - f.churnMinor

const sign: Record<Movement['type'], (m: Movement) => boolean> = {
  new: (m) => m.mrrBeforeMinor === 0 && m.mrrAfterMinor > 0,
  reactivation: (m) => m.mrrBeforeMinor === 0 && m.mrrAfterMinor > 0,
  expansion: (m) => m.mrrAfterMinor > m.mrrBeforeMinor,
  contraction: (m) => m.mrrAfterMinor < m.mrrBeforeMinor,
  churn: (m) => m.mrrAfterMinor === 0,
}

const RUNS = 1500

/** A plain check for the hot loops: expect() on every figure of thousands of reports is slower than the engine. */
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message)
}

const sum = <T>(items: readonly T[], value: (item: T) => number) => items.reduce((n, item) => n + value(item), 0)

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>()
  for (const item of items) {
    const k = key(item)
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [item])
    else group.push(item)
  }
  return groups
}

describe('MRR properties on random histories', () => {
  it('every period of every currency rolls forward exactly, and the report agrees with its tenants, its log and mrrAt', () => {
    fc.assert(
      fc.property(history, policies, range, (timelines, p, {fromOffset, months, by}) => {
        const from = START + fromOffset
        const to = from + months * 30 * DAY
        const r = report(timelines, {from, to, by}, p)
        expect(r.currencies.map((c) => c.currency)).toEqual([...new Set(timelines.map((t) => t.currency))].sort())
        // Without the detail (what a terminal shows), the same figures and no per-tenant rows or log.
        const summary = report(timelines, {from, to, by}, p, {detail: false})
        expect(summary.currencies.map((c) => [c.currency, c.tenants.length, c.movements.length])).toEqual(r.currencies.map((c) => [c.currency, 0, 0]))
        expect(summary.currencies.map((c) => c.periods)).toEqual(r.currencies.map((c) => c.periods))
        for (const c of r.currencies) {
          const rows = groupBy(c.tenants, (row) => row.period)
          const logged = groupBy(c.movements, (m) => c.periods.findIndex((f) => m.at >= f.start && m.at < f.end))
          expect(logged.has(-1)).toBe(false)
          c.periods.forEach((f, k) => {
            const where = `${c.currency} ${f.period}`
            check(f.mrrEndMinor === f.mrrStartMinor + net(f), `${where}: MRR at end is not MRR at start plus its movements`)
            check(f.netChangeMinor === f.mrrEndMinor - f.mrrStartMinor, `${where}: net change`)
            check(f.mrrStartMinor >= 0, `${where}: MRR below 0`)
            check(k === 0 || f.mrrStartMinor === c.periods[k - 1].mrrEndMinor, `${where}: start is not the last period's end`)
            const own = rows.get(f.period) ?? []
            check(sum(own, (row) => row.mrrStartMinor) === f.mrrStartMinor, `${where}: tenants' MRR at start`)
            check(sum(own, (row) => row.mrrEndMinor) === f.mrrEndMinor, `${where}: tenants' MRR at end`)
            check(
              own.every((row) => row.mrrStartMinor >= 0 && row.mrrEndMinor >= 0),
              `${where}: a tenant below 0`,
            )
            check(sum(f.byPlan, (s) => s.mrrMinor) === f.mrrEndMinor && sum(f.byRds, (s) => s.mrrMinor) === f.mrrEndMinor, `${where}: by plan or RDS`)
            check(sum(f.byPlan, (s) => s.payingCustomers) === f.payingCustomersEnd, `${where}: paying customers by plan`)
            const moved = logged.get(k) ?? []
            for (const type of ['new', 'expansion', 'contraction', 'churn', 'reactivation'] as const) {
              const ofType = moved.filter((m) => m.type === type)
              check(sum(ofType, (m) => m.amountMinor) === f[`${type}Minor`], `${where}: ${type} is not the sum of its movements`)
              check(ofType.length === f.movementCounts[type], `${where}: ${type} count`)
            }
          })
          // mrrAt reads the same MRR at the end of the last period and of one other.
          for (const f of [c.periods[c.periods.length - 1], c.periods[Math.floor(c.periods.length / 2)]]) {
            const atEnd = mrrAt(timelines, Date.parse(f.end) - 1, p).currencies.find((x) => x.currency === c.currency)
            expect([atEnd?.totalMinor, atEnd?.payingCustomers, atEnd?.customers]).toEqual([f.mrrEndMinor, f.payingCustomersEnd, f.customersEnd])
          }
        }
      }),
      {numRuns: RUNS},
    )
  })

  it('each tenant’s movements chain, never go below 0, and point the way their type says', () => {
    fc.assert(
      fc.property(history, policies, (timelines, p) => {
        const all = movements(timelines, START - DAY, START + 20 * 365 * DAY, p)
        for (const t of timelines) {
          const own = all.filter((m) => m.tenantId === t.tenantId)
          let mrr = 0
          let last = ''
          for (const m of own) {
            check(m.at >= last, `${m.tenantName}: movements out of order`)
            check(m.mrrBeforeMinor === mrr, `${m.tenantName} ${m.at}: MRR before is not the last MRR after`)
            check(m.mrrAfterMinor >= 0, `${m.tenantName} ${m.at}: MRR below 0`)
            check(m.amountMinor === Math.abs(m.mrrAfterMinor - m.mrrBeforeMinor), `${m.tenantName} ${m.at}: amount`)
            check(sign[m.type](m), `${m.tenantName} ${m.at}: a ${m.type} from ${m.mrrBeforeMinor} to ${m.mrrAfterMinor}`)
            check(m.currency === t.currency, `${m.tenantName}: currency`)
            mrr = m.mrrAfterMinor
            last = m.at
          }
          const now = mrrAt([t], START + 20 * 365 * DAY, p).currencies[0]
          expect(now.totalMinor).toBe(mrr)
          expect(own.filter((m) => m.type === 'new').length).toBeLessThanOrEqual(1)
          if (own.length > 0 && own.some((m) => m.type === 'new')) expect(own[0].type).toBe('new')
        }
      }),
      {numRuns: RUNS},
    )
  })

  it('splitting a range into months gives the same movements as the whole range', () => {
    fc.assert(
      fc.property(history, policies, range, (timelines, p, {fromOffset, months}) => {
        const from = START + fromOffset
        const to = from + months * 30 * DAY
        const whole = movements(timelines, from, to, p)
        const pieces = splitPeriods(from, to, 'month').flatMap((period) => movements(timelines, period.start, period.end, p))
        expect(pieces).toEqual(whole)
      }),
      {numRuns: 300},
    )
  })

  it('converted to one currency, every period rolls forward with its FX impact, exactly', () => {
    const rate = fc.integer({min: 1, max: 2_000_000}).map((n) => (n / 10_000).toFixed(4))
    const rates = fc.record({
      EUR: fc.array(fc.record({month: fc.integer({min: 0, max: 40}), rate}), {minLength: 1, maxLength: 5}),
      JPY: rate,
      KWD: fc.array(fc.record({month: fc.integer({min: 0, max: 40}), rate}), {minLength: 1, maxLength: 3}),
    })
    fc.assert(
      fc.property(history, policies, range, rates, (timelines, p, {fromOffset, months, by}, given) => {
        const from = START + fromOffset
        const to = from + months * 30 * DAY
        const r = report(timelines, {from, to, by}, p)
        const dated = (list: {month: number; rate: string}[]) => [
          {from: '2024-01-01', rate: '1'},
          ...list.map((x) => ({from: Date.UTC(2025, x.month, 1), rate: x.rate})),
        ]
        const converted = convert(r, {to: 'USD', rates: {EUR: dated(given.EUR), JPY: given.JPY, KWD: dated(given.KWD)}})
        converted.periods.forEach((f, k) => {
          check(f.mrrEndMinor === f.mrrStartMinor + f.netChangeMinor + f.fxImpactMinor, `${f.period}: converted MRR does not roll forward`)
          check(f.netChangeMinor === net(f), `${f.period}: converted net change`)
          check(k === 0 || f.mrrStartMinor === converted.periods[k - 1].mrrEndMinor, `${f.period}: converted start is not the last end`)
          check(sum(f.lines, (line) => line.fxImpactMinor) === f.fxImpactMinor, `${f.period}: FX impact lines`)
          const usd = f.lines.find((line) => line.currency === 'USD')
          check(usd === undefined || usd.fxImpactMinor === 0, `${f.period}: FX impact in the target currency`)
        })
      }),
      {numRuns: 500},
    )
  })

  it('each tenant’s MRR at any instant is what its subscription in force says, computed the slow way', () => {
    fc.assert(
      fc.property(history, policies, fc.array(fc.integer({min: 0, max: 1_500 * DAY}), {minLength: 1, maxLength: 12}), (timelines, p, offsets) => {
        const unmerged = {...p, mergeMinutes: 0}
        for (const offset of offsets) {
          const at = START + offset
          const result = mrrAt(timelines, at, unmerged)
          for (const t of timelines) {
            const tenant = result.currencies.find((c) => c.currency === t.currency)?.tenants.find((x) => x.tenantId === t.tenantId)
            check(
              (tenant?.mrrMinor ?? 0) === slowMrr(t, at, unmerged),
              `${t.tenantName} at ${new Date(at).toISOString()}: ${tenant?.mrrMinor} is not ${slowMrr(t, at, unmerged)}`,
            )
          }
        }
      }),
      {numRuns: 1000},
    )
  })
})

/**
 * A tenant's MRR at `at` straight from the definitions, with none of the
 * engine's machinery (no step function, no sweep): the state in force, its
 * past-due run, its discount, the exact fraction rounded half up.
 */
function slowMrr(t: TenantTimeline, at: number, p: MrrPolicies): number {
  const ms = (x: string | number) => (typeof x === 'number' ? x : Date.parse(x))
  const states = t.states.map((s, order) => ({s, at: ms(s.at), order})).sort((a, b) => a.at - b.at || a.order - b.order)
  const valid = states
    .map((x, i) => {
      const paidThrough = x.s.paidThrough === undefined || x.s.paidThrough === null ? null : ms(x.s.paidThrough)
      const deferred = x.s.status === 'canceled' && p.churnAt === 'period-end' && paidThrough !== null && paidThrough > x.at
      const from = deferred ? (paidThrough as number) : x.at
      const next = i + 1 < states.length ? states[i + 1].at : Infinity
      return {...x, from, ok: from < next}
    })
    .filter((x) => x.ok)
  const index = valid.findLastIndex((x) => x.from <= at)
  if (index < 0) return 0
  const {s} = valid[index]
  if (s.status !== 'active' && s.status !== 'past_due') return 0
  if (s.status === 'past_due') {
    let first = index
    while (first > 0 && valid[first - 1].s.status === 'past_due') first--
    if (at >= valid[first].from + p.pastDueDays * DAY) return 0
  }
  let numerator = BigInt(s.termAmountMinor)
  const denominator = BigInt(s.intervalMonths)
  const until = s.discountUntil === undefined || s.discountUntil === null ? null : ms(s.discountUntil)
  if (s.discount && (until === null || (p.limitedDiscounts === 'apply' && at < until))) {
    if ('percentBp' in s.discount) {
      // The discount is rounded to a minor unit (half up) and taken off the term, as it is billed.
      const bp = BigInt(Math.min(s.discount.percentBp, 10_000))
      numerator -= (2n * numerator * bp + 10_000n) / 20_000n
    } else {
      numerator -= BigInt(s.discount.amountMinor)
    }
  }
  if (numerator <= 0n) return 0
  return Number((2n * numerator + denominator) / (2n * denominator))
}
