import type {BillingEventType, PaymentStatus, QuantityMode} from '../db/tables.js'
import {mrrAt} from './mrr/engine.js'
import {percentOfMinor} from './mrr/money.js'
import type {Discount, SubscriptionState, SubscriptionStatus} from './mrr/types.js'

/**
 * The billing ledger's arithmetic, without a database: a tenant's billing
 * events folded in (effective_at, id) order into its subscription states, the
 * billing periods those states bill, and the payments laid over them (a period
 * left unpaid past its end and the grace days makes the subscription past due
 * until it is paid). `loadTimelines` (./timelines.ts) and the writers
 * (./subscriptions.ts, ./payments.ts) both use it, so the state tenant_billing
 * keeps and the timelines the MRR engine reads never disagree.
 */

/** What one event sets; a key left out keeps the value before it, null clears it. */
export interface BillingChanges {
  /** The plan version's row id. */
  planId?: number
  /** The quantity priced (for `locations`/`users`, the count when the event was recorded). */
  quantity?: number
  quantityMode?: QuantityMode
  discount?: Discount | null
  /** ISO date-time; null: the discount is permanent. */
  discountUntil?: string | null
  /** ISO date-time: trialing until then. */
  trialUntil?: string | null
  /** cancel → canceled, pause → paused, resume and set → active. */
  status?: 'active' | 'paused' | 'canceled'
}

export interface LedgerEvent {
  id: number
  type: BillingEventType
  /** Epoch milliseconds. */
  effectiveAt: number
  changes: BillingChanges
}

export interface LedgerPayment {
  id: number
  amountMinor: number
  currency: string
  paidAt: number
  status: PaymentStatus
  /** The period paid for, epoch ms; null: none recorded. */
  periodStart: number | null
  refundOf: number | null
}

/** A plan version as the ledger prices it. */
export interface LedgerPlan {
  id: number
  code: string
  version: number
  currency: string
  priceMinor: number
  unit: string | null
  unitPriceMinor: number | null
  includedUnits: number
  intervalMonths: number
}

/** The subscription's terms after an event: the fold's accumulator. */
export interface Terms {
  planId: number | null
  quantity: number
  quantityMode: QuantityMode
  discount: Discount | null
  discountUntil: number | null
  trialUntil: number | null
  status: 'active' | 'paused' | 'canceled'
}

export const NO_TERMS: Terms = {
  planId: null,
  quantity: 0,
  quantityMode: 'fixed',
  discount: null,
  discountUntil: null,
  trialUntil: null,
  status: 'canceled',
}

/** Events in the fold's order: effective date, then id (the order they were recorded in). */
export function byEffectiveOrder(a: LedgerEvent, b: LedgerEvent): number {
  return a.effectiveAt - b.effectiveAt || a.id - b.id
}

const ms = (iso: string | null | undefined): number | null => (iso === null || iso === undefined ? null : Date.parse(iso))

/** The terms after `event`, given the terms before it. */
export function applyEvent(before: Terms, event: LedgerEvent): Terms {
  const c = event.changes
  return {
    planId: c.planId ?? before.planId,
    quantity: c.quantity ?? before.quantity,
    quantityMode: c.quantityMode ?? before.quantityMode,
    discount: c.discount === undefined ? before.discount : c.discount,
    discountUntil: c.discountUntil === undefined ? before.discountUntil : ms(c.discountUntil),
    trialUntil: c.trialUntil === undefined ? before.trialUntil : ms(c.trialUntil),
    status: c.status ?? before.status,
  }
}

/** The price of one term for the terms' quantity, before discount. */
export function termAmount(plan: LedgerPlan, quantity: number): number {
  if (plan.unit === null || plan.unitPriceMinor === null) return plan.priceMinor
  return plan.priceMinor + plan.unitPriceMinor * Math.max(0, quantity - plan.includedUnits)
}

/**
 * What a discount takes off a term of `termMinor` (never more than the term).
 * A percentage is `termMinor × percentBp / 10,000` rounded half away from zero
 * to a whole minor unit (12.5 % of 49.00 is 6.13; 50 % of 0.03 is 0.02), in
 * integers (BigInt near the largest amount, where the product is past 2^53
 * and a float quotient can be a unit off).
 */
export function discountMinor(discount: Discount | null, termMinor: number): number {
  if (discount === null) return 0
  const off = 'percentBp' in discount ? percentOfMinor(termMinor, discount.percentBp) : discount.amountMinor
  return Math.min(off, termMinor)
}

/** Days an unpaid billing period may stay so before the subscription is past due (RAIOPS_BILLING_GRACE_DAYS). */
export const DEFAULT_BILLING_GRACE_DAYS = 7

/** How far ahead of now a billing change (--effective) or a payment or refund (--date) may be dated: 5 years. */
export const MAX_AHEAD_MONTHS = 60

/** The latest instant a billing change, payment or refund may be dated, given `now` (epoch ms). */
export const latestBillingDate = (now: number): number => addMonths(now, MAX_AHEAD_MONTHS)

/** The UTC calendar day of an instant, `YYYY-MM-DD`, as billing names periods and dates. */
export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/**
 * `at` plus `months` calendar months, in UTC, the day clamped to the month's
 * last (Jan 31 + 1 month = Feb 28). The calendar day is found by arithmetic
 * (H. Hinnant's civil_from_days and days_from_civil), without Date: a report calls this
 * once per tenant per billing period.
 */
export function addMonths(at: number, months: number): number {
  const days = Math.floor(at / 86_400_000)
  const timeOfDay = at - days * 86_400_000
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const dayOfEra = z - era * 146_097
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365)
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const shifted = Math.floor((5 * dayOfYear + 2) / 153)
  const dayOfMonth = dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1
  const month0 = shifted < 10 ? shifted + 2 : shifted - 10
  const month = month0 + months
  const year = yearOfEra + era * 400 + (month0 <= 1 ? 1 : 0) + Math.floor(month / 12)
  const monthOfYear = ((month % 12) + 12) % 12
  const last =
    monthOfYear === 1 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][monthOfYear]
  return daysFromCivil(year, monthOfYear, Math.min(dayOfMonth, last)) * 86_400_000 + timeOfDay
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 0–11): H. Hinnant's days_from_civil. */
function daysFromCivil(year: number, month0: number, dayOfMonth: number): number {
  const y = month0 <= 1 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month0 <= 1 ? month0 + 10 : month0 - 2) + 2) / 5) + dayOfMonth - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146_097 + dayOfEra - 719_468
}

const DAY_MS = 86_400_000

/** A state of the fold before payments: the engine's state without paidThrough, times in ms. */
interface BaseState {
  at: number
  status: SubscriptionStatus
  terms: Terms
  plan: LedgerPlan
  eventId: string | number
}

/** One billing period: what it costs and what was paid for it. */
export interface BillingPeriod {
  /** Epoch ms. */
  start: number
  end: number
  planCode: string
  /** The currency of the plan that bills it: only payments in it pay it. */
  currency: string
  /** The term after the discount in effect at its start. */
  dueMinor: number
  paidMinor: number
  refundedMinor: number
  /** When the payments for it reached what was due; null: not yet. */
  paidAt: number | null
  /** end + grace: when an unpaid period makes the subscription past due. */
  dueBy: number
}

export interface TenantLedger {
  /** The engine's states, in order. */
  states: SubscriptionState[]
  /** The terms after the last event (NO_TERMS when there is none). */
  terms: Terms
  /** The status at `until`; null: never subscribed. */
  status: SubscriptionStatus | null
  /** The plan version in effect at `until`. */
  plan: LedgerPlan | null
  periods: BillingPeriod[]
  /** The start of the next billing period after `until` (the trial's end while trialing); null when none is due. */
  nextBillingAt: number | null
  /** The end of the last period paid by `until`. */
  paidThrough: number | null
  /** The monthly value at `until`, as the MRR engine counts it with its default policies. */
  mrrMinor: number
}

export interface FoldOptions {
  /** Epoch ms: events, payments and overdue periods after it are ignored. */
  until: number
  graceDays: number
  /** Compute `mrrMinor` through the MRR engine (default true; loadTimelines, which hands the states to the engine itself, does not). */
  withMrr?: boolean
}

/**
 * The tenant's MRR at `until` as the MRR engine counts it with its default
 * policies (a limited discount ignored, past due counted for 30 days, a pause
 * 0, a cancellation counted to the end of the paid period), so billing:show
 * and tenant_billing agree with billing:report.
 */
function engineMrr(states: readonly SubscriptionState[], currency: string, until: number): number {
  if (states.length === 0) return 0
  const result = mrrAt([{tenantId: 0, tenantName: '', currency, states}], until)
  return result.currencies[0]?.tenants[0]?.mrrMinor ?? 0
}

/**
 * One tenant's ledger: `events` (any order: they are sorted) folded into
 * states, the periods they bill, and `payments` laid over them.
 */
export function foldLedger(
  events: readonly LedgerEvent[],
  payments: readonly LedgerPayment[],
  plans: ReadonlyMap<number, LedgerPlan>,
  options: FoldOptions,
): TenantLedger {
  const {until} = options
  const sorted = events.filter((e) => e.effectiveAt <= until).sort(byEffectiveOrder)
  // 1. The events folded: one state each, and one more where a trial ends.
  const base: BaseState[] = []
  let terms = NO_TERMS
  for (let index = 0; index < sorted.length; index++) {
    const event = sorted[index]
    terms = applyEvent(terms, event)
    const plan = terms.planId === null ? undefined : plans.get(terms.planId)
    if (!plan) continue
    const trialing = terms.status === 'active' && terms.trialUntil !== null && terms.trialUntil > event.effectiveAt
    base.push({at: event.effectiveAt, status: trialing ? 'trialing' : terms.status, terms, plan, eventId: event.id})
    const next = sorted[index + 1]?.effectiveAt ?? Number.POSITIVE_INFINITY
    if (trialing && terms.trialUntil !== null && terms.trialUntil < next && terms.trialUntil <= until)
      base.push({at: terms.trialUntil, status: 'active', terms, plan, eventId: `trial-end:${event.id}`})
  }
  // 2. The billing periods: from the start of each stretch of active states, one term after the other.
  const periods: BillingPeriod[] = []
  let anchor: number | null = null
  let months = 0
  let cursor: number | null = null
  for (let index = 0; index < base.length; index++) {
    const state = base[index]
    const next = base[index + 1]?.at ?? Number.POSITIVE_INFINITY
    if (state.status !== 'active') {
      anchor = cursor = null
      continue
    }
    if (anchor === null || cursor === null) {
      anchor = cursor = state.at
      months = 0
    }
    while (cursor < next && cursor <= until) {
      months += state.plan.intervalMonths
      const end = addMonths(anchor, months)
      const term = termAmount(state.plan, state.terms.quantity)
      const discounted = state.terms.discountUntil === null || state.terms.discountUntil > cursor
      const dueMinor = term - (discounted ? discountMinor(state.terms.discount, term) : 0)
      periods.push({
        start: cursor,
        end,
        planCode: state.plan.code,
        currency: state.plan.currency,
        dueMinor,
        paidMinor: 0,
        refundedMinor: 0,
        // A period that costs nothing (a 100 % discount) is paid as it starts: it is never overdue.
        paidAt: dueMinor === 0 ? cursor : null,
        dueBy: end + options.graceDays * DAY_MS,
      })
      cursor = end
    }
  }
  const last = base[base.length - 1]
  const nextBillingAt =
    last === undefined ? null : last.status === 'trialing' ? last.terms.trialUntil : last.status === 'active' || last.status === 'past_due' ? cursor : null
  // 3. The payments, matched to periods of their currency by the day the period starts; a period is paid once they reach what it costs.
  const dayOf = (ms: number) => Math.floor(ms / DAY_MS)
  // Periods by the day they start; two periods of different currencies starting on one day are told apart by a search.
  const periodByDay = new Map<number, BillingPeriod>()
  for (const p of periods) periodByDay.set(dayOf(p.start), p)
  const periodOf = (currency: string, start: number): BillingPeriod | undefined => {
    const day = dayOf(start)
    const found = periodByDay.get(day)
    return found === undefined || found.currency === currency ? found : periods.find((p) => p.currency === currency && dayOf(p.start) === day)
  }
  // A refund that names no period takes its payment's; the payments by id only when there is one.
  const refundsByPayment = payments.some((p) => p.periodStart === null && p.refundOf !== null)
  const byId = refundsByPayment ? new Map(payments.map((p) => [p.id, p])) : null
  for (const payment of payments.filter((p) => p.paidAt <= until).sort((a, b) => a.paidAt - b.paidAt || a.id - b.id)) {
    const start = payment.periodStart ?? (payment.refundOf === null ? null : (byId?.get(payment.refundOf)?.periodStart ?? null))
    const period = start === null ? undefined : periodOf(payment.currency, start)
    if (!period) continue
    if (payment.status === 'succeeded') {
      period.paidMinor += payment.amountMinor
      if (period.paidAt === null && period.paidMinor >= period.dueMinor) period.paidAt = payment.paidAt
    } else if (payment.status === 'refunded') period.refundedMinor += payment.amountMinor
  }
  // 4. Past due: from end + grace of a period unpaid by then, until it is paid.
  const overdue = periods
    .filter((p) => p.dueBy <= until && (p.paidAt === null || p.paidAt > p.dueBy))
    .map((p) => ({from: p.dueBy, to: p.paidAt ?? Number.POSITIVE_INFINITY, start: p.start, paymentAt: p.paidAt}))
  const pastDueAt = (t: number) => overdue.some((o) => o.from <= t && t < o.to)
  const paidThroughAt = (t: number): number | null => {
    let through: number | null = null
    for (const p of periods) if (p.paidAt !== null && p.paidAt <= t && p.start <= t && (through === null || p.end > through)) through = p.end
    return through
  }
  const baseAt = (t: number): BaseState | undefined => {
    let found: BaseState | undefined
    for (const state of base) if (state.at <= t) found = state
    return found
  }
  const points: Array<{at: number; base: BaseState; eventId: string | number; overlay: boolean}> = base.map((b) => ({
    at: b.at,
    base: b,
    eventId: b.eventId,
    overlay: false,
  }))
  for (const o of overdue) {
    const from = baseAt(o.from)
    if (from) points.push({at: o.from, base: from, eventId: `overdue:${isoDay(o.start)}`, overlay: true})
    const to = o.paymentAt === null ? undefined : baseAt(o.paymentAt)
    if (to && o.paymentAt !== null && o.paymentAt <= until) points.push({at: o.paymentAt, base: to, eventId: `paid:${isoDay(o.start)}`, overlay: true})
  }
  points.sort((a, b) => a.at - b.at || Number(a.overlay) - Number(b.overlay))
  const states: SubscriptionState[] = []
  let previous: SubscriptionStatus | null = null
  for (const point of points) {
    const status: SubscriptionStatus = point.base.status === 'active' && pastDueAt(point.at) ? 'past_due' : point.base.status
    if (point.overlay && status === previous) continue
    previous = status
    const {plan, terms: t} = point.base
    const paidThrough = paidThroughAt(point.at)
    // Instants as epoch ms: the engine takes them so, and 10,000 tenants' states need no date text.
    states.push({
      at: point.at,
      status,
      planCode: plan.code,
      planVersion: plan.version,
      termAmountMinor: termAmount(plan, t.quantity),
      intervalMonths: plan.intervalMonths,
      discount: t.discount,
      discountUntil: t.discountUntil,
      paidThrough,
      eventId: point.eventId,
    })
  }
  const current = states[states.length - 1]
  const currentBase = baseAt(until)
  const status = current ? current.status : null
  const plan = currentBase?.plan ?? null
  let mrrMinor = 0
  if (options.withMrr !== false) {
    const currencyByState = new Map(points.map((p) => [p.eventId, p.base.plan.currency]))
    const own = plan === null ? [] : states.filter((st) => currencyByState.get(st.eventId) === plan.currency)
    mrrMinor = engineMrr(own, plan?.currency ?? 'USD', until)
  }
  return {
    states,
    terms,
    status,
    plan,
    periods,
    nextBillingAt,
    paidThrough: paidThroughAt(until),
    mrrMinor,
  }
}

/**
 * What tells a tenant's status at any instant from `from` on without folding
 * its ledger again, as long as nothing is recorded since (tenant_billing keeps
 * it; ./billing-status.ts reads it): the status each event gives (`base`,
 * future-dated events included), the end of the first period never paid, and
 * the periods paid after they ended. The grace days are left out: the reader
 * adds its own.
 */
export interface StatusSchedule {
  /** [epoch ms, status]: the status before payments (trialing, active, paused, canceled) from then on; the first entry is the one in effect at `from` when there is one. */
  base: Array<[number, SubscriptionStatus]>
  /** The end of the first billing period never paid (epoch ms); null: none. */
  unpaidFrom: number | null
  /** [end, paid at] of each period paid after it ended, paid after `from`. */
  late: Array<[number, number]>
}

/** The schedule of a ledger from `from` on (see StatusSchedule). */
export function statusSchedule(
  events: readonly LedgerEvent[],
  payments: readonly LedgerPayment[],
  plans: ReadonlyMap<number, LedgerPlan>,
  from: number,
): StatusSchedule {
  // Past the last event, payment and trial end, a period paid ahead (a year at most) and two of the longest terms, nothing changes but an unpaid period.
  let last = from
  for (const e of events) last = Math.max(last, e.effectiveAt, ms(e.changes.trialUntil) ?? 0)
  for (const p of payments) last = Math.max(last, p.paidAt)
  const ledger = foldLedger(events, payments, plans, {until: addMonths(last, 12 + 2 * 36), graceDays: 0, withMrr: false})
  const base: Array<[number, SubscriptionStatus]> = []
  for (const state of ledger.states) {
    const at = new Date(state.at).getTime()
    const status = state.status === 'past_due' ? 'active' : state.status
    if (base.length > 0 && base[base.length - 1][1] === status) continue
    if (at <= from && base.length > 0) base.pop()
    base.push([at, status])
  }
  let unpaidFrom: number | null = null
  const late: Array<[number, number]> = []
  for (const p of ledger.periods) {
    if (p.paidAt === null) unpaidFrom = unpaidFrom === null ? p.end : Math.min(unpaidFrom, p.end)
    else if (p.paidAt > p.end && p.paidAt > from) late.push([p.end, p.paidAt])
  }
  return {base, unpaidFrom, late}
}

/** The status at `at` (≥ the schedule's `from`) with `graceDays`; null: none in effect yet. */
export function scheduledStatus(schedule: StatusSchedule, at: number, graceDays: number): SubscriptionStatus | null {
  let base: SubscriptionStatus | null = null
  for (const [from, status] of schedule.base) if (from <= at) base = status
  if (base !== 'active') return base
  const grace = graceDays * DAY_MS
  if (schedule.unpaidFrom !== null && schedule.unpaidFrom + grace <= at) return 'past_due'
  return schedule.late.some(([end, paidAt]) => end + grace <= at && at < paidAt) ? 'past_due' : 'active'
}
