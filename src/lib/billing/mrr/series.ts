import {UserError} from '../../errors/index.js'
import {badInstant, day, iso, readInstant} from './instant.js'
import {currencyDigits, divRound, formatBasisPoints, formatMinor, percentOfMinor} from './money.js'
import type {Movement, MovementCause, MovementType, MrrPolicies, Standing, SubscriptionState, SubscriptionStatus, TenantTimeline} from './types.js'

const DAY_MS = 86_400_000
const STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'paused', 'canceled']

/** One point of a tenant's MRR step function: from `at` on, until the next point. */
export interface SeriesPoint {
  at: number
  mrr: number
  standing: Standing
  planCode: string | null
  /** The movement this point is, or null when only the plan changed (same MRR, same standing). */
  movement: Movement | null
}

/** What each billing event of a tenant computes to, for `explain`. */
export interface EventNote {
  eventId: string | number
  at: number
  /** When it took effect: a cancellation at the end of the paid period, or null when a later event undid or replaced it first. */
  effectiveAt: number | null
  status: SubscriptionStatus
  planCode: string
  mrr: number
  arithmetic: string
}

export interface TenantSeries {
  timeline: TenantTimeline
  /** The timeline's place in the input: ties in time are ordered by it. */
  index: number
  digits: number
  points: SeriesPoint[]
  notes?: EventNote[]
}

interface ParsedState {
  state: SubscriptionState
  at: number
  until: number | null
  paidThrough: number | null
  /** Position in the input list, to keep the later of two states at the same instant. */
  order: number
  /** When it takes effect (a cancellation may wait for the end of its paid period), or null when a later state replaced it first. */
  from: number | null
}

type RawKind = 'trial' | 'pause' | 'cancel' | 'value' | 'discount-end' | 'delinquency'

/** A change of value at an instant; its words are built only for the points that become movements. */
interface RawPoint {
  at: number
  mrr: number
  kind: RawKind
  /** A paused subscription under the `contraction` pause policy: 0 MRR, still a customer. */
  hold: boolean
  parsed: ParsedState
  /** The start of the past-due run the state belongs to, or null. */
  pastDueSince: number | null
}

const CAUSE: Record<RawKind, MovementCause> = {
  trial: 'event',
  pause: 'event',
  value: 'event',
  cancel: 'cancellation',
  'discount-end': 'discount-end',
  delinquency: 'delinquency',
}

/** Validates one timeline and returns its states sorted by time (stable: the later of equal instants last). */
function parseStates(timeline: TenantTimeline): ParsedState[] {
  if (typeof timeline.currency !== 'string' || !/^[A-Z]{3}$/.test(timeline.currency)) {
    throw new UserError(`${tenantName(timeline)}: the currency must be an ISO 4217 code such as EUR, not "${String(timeline.currency)}"`)
  }
  if (timeline.currencyDigits !== undefined && !(Number.isInteger(timeline.currencyDigits) && timeline.currencyDigits >= 0 && timeline.currencyDigits <= 4)) {
    throw new UserError(`${tenantName(timeline)}: currencyDigits must be a whole number from 0 to 4`)
  }
  let sorted = true
  let previous = -Infinity
  const parsed = timeline.states.map((state, order): ParsedState => {
    const valid =
      STATUSES.includes(state.status) &&
      Number.isSafeInteger(state.termAmountMinor) &&
      state.termAmountMinor >= 0 &&
      Number.isInteger(state.intervalMonths) &&
      state.intervalMonths >= 1 &&
      state.intervalMonths <= 120
    if (!valid) throw stateError(state, eventName(timeline, state))
    const discount = state.discount
    if (discount !== null && discount !== undefined) {
      const value = 'percentBp' in discount ? discount.percentBp : discount.amountMinor
      if (!Number.isSafeInteger(value) || value < 0)
        throw new UserError(`${eventName(timeline, state)}: a discount must be a whole number, 0 or more, not ${String(value)}`)
    }
    const at = readInstant(state.at)
    if (Number.isNaN(at)) throw badInstant(state.at, `${eventName(timeline, state)}: its date`)
    const until = state.discountUntil === null || state.discountUntil === undefined ? null : readInstant(state.discountUntil)
    if (Number.isNaN(until)) throw badInstant(state.discountUntil, `${eventName(timeline, state)}: discountUntil`)
    const paidThrough = state.paidThrough === null || state.paidThrough === undefined ? null : readInstant(state.paidThrough)
    if (Number.isNaN(paidThrough)) throw badInstant(state.paidThrough, `${eventName(timeline, state)}: paidThrough`)
    if (at < previous) sorted = false
    previous = at
    return {state, at, until, paidThrough, order, from: null}
  })
  return sorted ? parsed : parsed.sort((a, b) => a.at - b.at || a.order - b.order)
}

/** A day when the instant is midnight UTC, else the full date-time. */
const moment = (ms: number) => (ms % 86_400_000 === 0 ? day(ms) : iso(ms))

const tenantName = (timeline: TenantTimeline) => `tenant ${String(timeline.tenantName ?? timeline.tenantId)}`
const eventName = (timeline: TenantTimeline, state: SubscriptionState) => `${tenantName(timeline)}, billing event ${String(state.eventId)}`

/** Why a state's status, amount or term is refused. */
function stateError(state: SubscriptionState, what: string): UserError {
  if (!STATUSES.includes(state.status)) return new UserError(`${what}: the status must be one of ${STATUSES.join(', ')}, not "${String(state.status)}"`)
  if (!Number.isSafeInteger(state.termAmountMinor) || state.termAmountMinor < 0) {
    return new UserError(`${what}: the term amount must be a whole number of minor units, 0 or more, not ${String(state.termAmountMinor)}`)
  }
  return new UserError(`${what}: the term must be a whole number of months from 1 to 120, not ${String(state.intervalMonths)}`)
}

/** Whether a state's discount reduces its value at instant `t`: a permanent one always, a limited one only under `apply` and before its end. */
function discountApplies(parsed: Pick<ParsedState, 'state' | 'until'>, t: number, policies: MrrPolicies): boolean {
  if (parsed.state.discount === null || parsed.state.discount === undefined) return false
  return parsed.until === null || (policies.limitedDiscounts === 'apply' && t < parsed.until)
}

/** `n / d` rounded half away from zero for 0 ≤ n and 0 < d, exactly: in doubles while they are exact, else in BigInt. */
function roundedQuotient(n: number, d: number): number {
  const a = 2 * n + d
  const b = 2 * d
  if (a > Number.MAX_SAFE_INTEGER || b > Number.MAX_SAFE_INTEGER) return Number(divRound(BigInt(n), BigInt(d)))
  let q = Math.floor(a / b)
  const r = a - q * b
  if (r < 0) q--
  else if (r >= b) q++
  return q
}

/**
 * The monthly value of a state at instant `t`, in minor units: the term price,
 * less the discount that applies, divided by the term's months, rounded once,
 * half away from zero; never below 0.
 */
export function monthlyValue(parsed: Pick<ParsedState, 'state' | 'until'>, t: number, policies: MrrPolicies): number {
  const {state} = parsed
  const discount = state.discount ?? null
  if (discount === null || !discountApplies(parsed, t, policies)) return roundedQuotient(state.termAmountMinor, state.intervalMonths)
  if ('percentBp' in discount) {
    // The discount rounded to a minor unit first, as the ledger bills it: MRR is the billed term over its months.
    if (discount.percentBp >= 10_000) return 0
    return roundedQuotient(state.termAmountMinor - percentOfMinor(state.termAmountMinor, discount.percentBp), state.intervalMonths)
  }
  // A discount larger than the price leaves nothing to count, never less than nothing.
  return state.termAmountMinor <= discount.amountMinor ? 0 : roundedQuotient(state.termAmountMinor - discount.amountMinor, state.intervalMonths)
}

/** The arithmetic behind `monthlyValue`, in words: "plan pro-yearly 2,000.00 / 12 months = 166.67". */
export function valueArithmetic(parsed: Pick<ParsedState, 'state' | 'until'>, t: number, policies: MrrPolicies, digits: number): string {
  const {state, until} = parsed
  const money = (minor: number) => formatMinor(minor, digits)
  const months = `${state.intervalMonths} month${state.intervalMonths === 1 ? '' : 's'}`
  const plan = `plan ${state.planCode}${state.planVersion === undefined || state.planVersion === null ? '' : ` v${state.planVersion}`}`
  const discount = state.discount ?? null
  const discountText = discount === null ? '' : 'percentBp' in discount ? formatBasisPoints(discount.percentBp) : `${money(discount.amountMinor)} discount`
  const applies = discountApplies(parsed, t, policies)
  let text = applies
    ? `${plan} (${money(state.termAmountMinor)} − ${discountText}${until === null ? '' : ` until ${day(until)}`}) / ${months}`
    : `${plan} ${money(state.termAmountMinor)} / ${months}`
  const mrr = monthlyValue(parsed, t, policies)
  const floored = applies && discount !== null && ('percentBp' in discount ? discount.percentBp > 10_000 : discount.amountMinor > state.termAmountMinor)
  text += floored ? ` is below 0: the discount exceeds the price, MRR ${money(0)}` : ` = ${money(mrr)}`
  if (discount !== null && until !== null && !applies) {
    text +=
      policies.limitedDiscounts === 'ignore'
        ? ` (the ${discountText} discount until ${day(until)} is limited and not counted)`
        : ` (the ${discountText} discount ended ${day(until)})`
  }
  return text
}

/**
 * The states that take effect, and when (`from`): with `churnAt: period-end` a
 * cancellation takes effect at the end of its paid period unless a later state
 * comes first (the cancellation was undone); of states at one instant the last wins.
 */
function effectiveStates(states: ParsedState[], policies: MrrPolicies): ParsedState[] {
  const effective: ParsedState[] = []
  for (let i = 0; i < states.length; i++) {
    const s = states[i]
    const next = i + 1 < states.length ? states[i + 1].at : Infinity
    let from = s.at
    if (s.state.status === 'canceled' && policies.churnAt === 'period-end' && s.paidThrough !== null && s.paidThrough > s.at) from = s.paidThrough
    s.from = from < next ? from : null
    if (s.from !== null) effective.push(s)
  }
  return effective
}

/** Every instant the tenant's MRR may change, with its value from then on. */
function rawPoints(states: ParsedState[], policies: MrrPolicies): RawPoint[] {
  const points: RawPoint[] = []
  const effective = effectiveStates(states, policies)
  const point = (at: number, mrr: number, kind: RawKind, parsed: ParsedState, pastDueSince: number | null = null, hold = false): RawPoint => ({
    at,
    mrr,
    kind,
    hold,
    parsed,
    pastDueSince,
  })
  let pastDueSince = 0
  for (let i = 0; i < effective.length; i++) {
    const parsed = effective[i]
    const from = parsed.from as number
    const status = parsed.state.status
    const to = i + 1 < effective.length ? (effective[i + 1].from as number) : Infinity
    if (status === 'trialing') points.push(point(from, 0, 'trial', parsed))
    else if (status === 'paused') points.push(point(from, 0, 'pause', parsed, null, policies.pause === 'contraction'))
    else if (status === 'canceled') points.push(point(from, 0, 'cancel', parsed))
    else {
      const pastDue = status === 'past_due'
      if (pastDue && !(i > 0 && effective[i - 1].state.status === 'past_due')) pastDueSince = from
      const since = pastDue ? pastDueSince : null
      const delinquentAt = pastDue ? pastDueSince + policies.pastDueDays * DAY_MS : Infinity
      // Inside [from, to) the value changes at the start, at a limited discount's end (under `apply`) and at delinquency.
      const discountEnd = parsed.until !== null && policies.limitedDiscounts === 'apply' && parsed.until > from && parsed.until < to ? parsed.until : Infinity
      if (from >= delinquentAt) points.push(point(from, 0, 'delinquency', parsed, since))
      else points.push(point(from, monthlyValue(parsed, from, policies), 'value', parsed, since))
      if (discountEnd < delinquentAt) points.push(point(discountEnd, monthlyValue(parsed, discountEnd, policies), 'discount-end', parsed, since))
      if (delinquentAt > from && delinquentAt < to) points.push(point(delinquentAt, 0, 'delinquency', parsed, since))
    }
  }
  return points
}

/** A raw point in words. */
function describe(p: RawPoint, policies: MrrPolicies, digits: number): string {
  const {parsed} = p
  switch (p.kind) {
    case 'trial':
      return `trial of plan ${parsed.state.planCode} (trials count 0)`
    case 'pause':
      return 'paused (a pause counts 0)'
    case 'cancel':
      return p.at > parsed.at ? `canceled ${day(parsed.at)}, churn at the end of the period paid through ${moment(p.at)}` : `canceled ${day(parsed.at)}`
    case 'delinquency':
      return `past due since ${day(p.pastDueSince ?? p.at)} for ${policies.pastDueDays} days: delinquent churn`
    default: {
      const prefix = p.pastDueSince === null ? '' : `past due since ${day(p.pastDueSince)}, counted for up to ${policies.pastDueDays} days; `
      return `${prefix}${valueArithmetic(parsed, p.at, policies, digits)}`
    }
  }
}

/**
 * A tenant's MRR as a step function: one point per change of MRR, standing
 * or plan, each change classified as a movement. Changes within the merge
 * window of the first are one point, at the last of them. Without `words`
 * a movement's `reason` and `at` are left empty: for sums and counts only
 * (a report without its movement log), as most of the work is the wording.
 */
export function tenantSeries(timeline: TenantTimeline, index: number, policies: MrrPolicies, withNotes = false, words = true): TenantSeries {
  const states = parseStates(timeline)
  const digits = timeline.currencyDigits ?? currencyDigits(timeline.currency)
  const raw = rawPoints(states, policies)
  const windowMs = policies.mergeMinutes * 60_000
  const money = (minor: number) => formatMinor(minor, digits)
  const rdsId = timeline.rdsId ?? null
  const points: SeriesPoint[] = []
  let mrr = 0
  let standing: Standing = 'prospect'
  let planCode: string | null = null
  for (let g = 0; g < raw.length;) {
    const first = raw[g].at
    let last = g
    while (last + 1 < raw.length && (raw[last + 1].at === first || raw[last + 1].at < first + windowMs)) last++
    const point = raw[last]
    const start = g
    g = last + 1
    const pointPlan = point.parsed.state.planCode

    let next: Standing
    if (point.mrr > 0) next = 'paying'
    else if (point.hold && (standing === 'paying' || standing === 'paused')) next = 'paused'
    else next = standing === 'prospect' ? 'prospect' : 'lost'

    let type: MovementType | null = null
    if (next === 'paying') {
      if (standing === 'prospect') type = 'new'
      else if (standing === 'lost') type = 'reactivation'
      else if (point.mrr > mrr) type = 'expansion'
      else if (point.mrr < mrr) type = 'contraction'
    } else if (next === 'paused') {
      if (standing === 'paying') type = 'contraction'
    } else if (next === 'lost' && (standing === 'paying' || standing === 'paused')) {
      type = 'churn'
    }
    if (type === null && pointPlan === planCode && next === standing) continue
    let movement: Movement | null = null
    if (type !== null) {
      const eventIds: (string | number)[] = []
      for (let k = start; k <= last; k++) {
        const id = raw[k].parsed.state.eventId
        if (eventIds[eventIds.length - 1] !== id) eventIds.push(id)
      }
      const mergedText = last > start ? ` (${last - start + 1} changes within ${policies.mergeMinutes} minutes, as one)` : ''
      movement = {
        tenantId: timeline.tenantId,
        tenantName: timeline.tenantName,
        rdsId,
        currency: timeline.currency,
        at: words ? iso(point.at) : '',
        type,
        amountMinor: Math.abs(point.mrr - mrr),
        mrrBeforeMinor: mrr,
        mrrAfterMinor: point.mrr,
        eventId: point.parsed.state.eventId,
        eventIds,
        cause: CAUSE[point.kind],
        planCode: pointPlan,
        reason: words ? `${type} ${money(mrr)} → ${money(point.mrr)}: ${describe(point, policies, digits)}${mergedText}` : '',
      }
    }
    points.push({at: point.at, mrr: point.mrr, standing: next, planCode: pointPlan, movement})
    mrr = point.mrr
    standing = next
    planCode = pointPlan
  }
  const series: TenantSeries = {timeline, index, digits, points}
  if (withNotes) series.notes = eventNotes(states, policies, digits)
  return series
}

function eventNotes(states: ParsedState[], policies: MrrPolicies, digits: number): EventNote[] {
  return states.map((parsed) => {
    const {state} = parsed
    const counts = state.status === 'active' || state.status === 'past_due'
    const value = counts
      ? {mrr: monthlyValue(parsed, parsed.at, policies), arithmetic: valueArithmetic(parsed, parsed.at, policies, digits)}
      : {mrr: 0, arithmetic: `${state.status.replace('_', ' ')}: counts 0`}
    return {
      eventId: state.eventId,
      at: parsed.at,
      effectiveAt: parsed.from,
      status: state.status,
      planCode: state.planCode,
      mrr: value.mrr,
      arithmetic: value.arithmetic,
    }
  })
}
