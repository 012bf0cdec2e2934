import {UserError} from '../../errors/index.js'
import {currencyDigits, divRound, formatBasisPoints, formatMinor} from './money.js'
import type {Instant, Movement, MovementCause, MovementType, MrrPolicies, Standing, SubscriptionState, SubscriptionStatus, TenantTimeline} from './types.js'

const DAY_MS = 86_400_000
const STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'paused', 'canceled']

/** An instant as epoch milliseconds; a date-time without a zone is read as UTC. */
export function toMs(instant: Instant, what: string): number {
  if (typeof instant === 'number') {
    if (Number.isSafeInteger(instant)) return instant
  } else if (typeof instant === 'string') {
    const text = instant.trim()
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
      const ms = Date.parse(`${text}T00:00:00Z`)
      if (!Number.isNaN(ms)) return ms
    } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(text)) {
      const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`
      const ms = Date.parse(zoned.replace(' ', 'T'))
      if (!Number.isNaN(ms)) return ms
    }
  }
  throw new UserError(`${what} must be an ISO date or date-time in UTC (2026-01-31, 2026-01-31T12:00:00Z) or epoch milliseconds, not "${String(instant)}"`)
}

export const iso = (ms: number): string => new Date(ms).toISOString()
const day = (ms: number): string => iso(ms).slice(0, 10)

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
}

interface RawPoint {
  at: number
  mrr: number
  /** A paused subscription under the `contraction` pause policy: 0 MRR, still a customer. */
  hold: boolean
  planCode: string
  cause: MovementCause
  eventId: string | number
  detail: string
}

/** Validates one timeline and returns its states sorted by time (stable: the later of equal instants last). */
function parseStates(timeline: TenantTimeline): ParsedState[] {
  const who = `tenant ${String(timeline.tenantName ?? timeline.tenantId)}`
  if (typeof timeline.currency !== 'string' || !/^[A-Z]{3}$/.test(timeline.currency)) {
    throw new UserError(`${who}: the currency must be an ISO 4217 code such as EUR, not "${String(timeline.currency)}"`)
  }
  if (timeline.currencyDigits !== undefined && !(Number.isInteger(timeline.currencyDigits) && timeline.currencyDigits >= 0 && timeline.currencyDigits <= 4)) {
    throw new UserError(`${who}: currencyDigits must be a whole number from 0 to 4`)
  }
  const parsed = timeline.states.map((state, order): ParsedState => {
    const what = `${who}, billing event ${String(state.eventId)}`
    if (!STATUSES.includes(state.status)) throw new UserError(`${what}: the status must be one of ${STATUSES.join(', ')}, not "${String(state.status)}"`)
    if (!Number.isSafeInteger(state.termAmountMinor) || state.termAmountMinor < 0) {
      throw new UserError(`${what}: the term amount must be a whole number of minor units, 0 or more, not ${String(state.termAmountMinor)}`)
    }
    if (!Number.isInteger(state.intervalMonths) || state.intervalMonths < 1 || state.intervalMonths > 120) {
      throw new UserError(`${what}: the term must be a whole number of months from 1 to 120, not ${String(state.intervalMonths)}`)
    }
    const discount = state.discount
    if (discount !== null && discount !== undefined) {
      const value = 'percentBp' in discount ? discount.percentBp : discount.amountMinor
      if (!Number.isSafeInteger(value) || value < 0) throw new UserError(`${what}: a discount must be a whole number, 0 or more, not ${String(value)}`)
    }
    return {
      state,
      at: toMs(state.at, `${what}: its date`),
      until: state.discountUntil === null || state.discountUntil === undefined ? null : toMs(state.discountUntil, `${what}: discountUntil`),
      paidThrough: state.paidThrough === null || state.paidThrough === undefined ? null : toMs(state.paidThrough, `${what}: paidThrough`),
      order,
    }
  })
  return parsed.sort((a, b) => a.at - b.at || a.order - b.order)
}

/** The monthly value of a state at instant `t` and the arithmetic behind it. */
export function monthlyValue(
  parsed: Pick<ParsedState, 'state' | 'until'>,
  t: number,
  policies: MrrPolicies,
  digits: number,
): {mrr: number; arithmetic: string} {
  const {state, until} = parsed
  const money = (minor: number) => formatMinor(minor, digits)
  const months = `${state.intervalMonths} month${state.intervalMonths === 1 ? '' : 's'}`
  const plan = `plan ${state.planCode}${state.planVersion === undefined || state.planVersion === null ? '' : ` v${state.planVersion}`}`
  const discount = state.discount ?? null
  const discountText = discount === null ? '' : 'percentBp' in discount ? formatBasisPoints(discount.percentBp) : `${money(discount.amountMinor)} discount`
  const limited = discount !== null && until !== null
  const applies = discount !== null && (!limited || (policies.limitedDiscounts === 'apply' && t < until))
  let numerator = BigInt(state.termAmountMinor)
  let denominator = BigInt(state.intervalMonths)
  let arithmetic: string
  if (applies && discount !== null) {
    if ('percentBp' in discount) {
      numerator = numerator * BigInt(10_000 - discount.percentBp)
      denominator = denominator * 10_000n
    } else {
      numerator = numerator - BigInt(discount.amountMinor)
    }
    const untilText = limited ? ` until ${day(until)}` : ''
    arithmetic = `${plan} (${money(state.termAmountMinor)} − ${discountText}${untilText}) / ${months}`
  } else {
    arithmetic = `${plan} ${money(state.termAmountMinor)} / ${months}`
  }
  // A discount larger than the price leaves nothing to count, never less than nothing.
  const floored = numerator < 0n
  const mrr = floored ? 0 : Number(divRound(numerator, denominator))
  arithmetic += floored ? ` is below 0: the discount exceeds the price, MRR ${money(0)}` : ` = ${money(mrr)}`
  if (discount !== null && limited && !applies) {
    arithmetic +=
      policies.limitedDiscounts === 'ignore'
        ? ` (the ${discountText} discount until ${day(until)} is limited and not counted)`
        : ` (the ${discountText} discount ended ${day(until)})`
  }
  return {mrr, arithmetic}
}

/**
 * The states that take effect, and when: with `churnAt: period-end` a
 * cancellation takes effect at the end of its paid period unless a later state
 * comes first (the cancellation was undone); of states at one instant the last wins.
 */
function effectiveStates(states: ParsedState[], policies: MrrPolicies): {parsed: ParsedState; from: number}[] {
  const effective: {parsed: ParsedState; from: number}[] = []
  for (let i = 0; i < states.length; i++) {
    const s = states[i]
    const next = i + 1 < states.length ? states[i + 1].at : Infinity
    let from = s.at
    if (s.state.status === 'canceled' && policies.churnAt === 'period-end' && s.paidThrough !== null && s.paidThrough > s.at) from = s.paidThrough
    if (from >= next) continue
    effective.push({parsed: s, from})
  }
  return effective
}

/** Every instant the tenant's MRR may change, with its value from then on. */
function rawPoints(states: ParsedState[], policies: MrrPolicies, digits: number): RawPoint[] {
  const points: RawPoint[] = []
  const effective = effectiveStates(states, policies)
  let pastDueSince = 0
  for (let i = 0; i < effective.length; i++) {
    const {parsed, from} = effective[i]
    const {state} = parsed
    const to = i + 1 < effective.length ? effective[i + 1].from : Infinity
    const base = {planCode: state.planCode, eventId: state.eventId, hold: false}
    switch (state.status) {
      case 'trialing':
        points.push({...base, at: from, mrr: 0, cause: 'event', detail: `trial of plan ${state.planCode} (trials count 0)`})
        break
      case 'paused':
        points.push({...base, at: from, mrr: 0, hold: policies.pause === 'contraction', cause: 'event', detail: `paused (a pause counts 0)`})
        break
      case 'canceled': {
        const detail = from > parsed.at ? `canceled ${day(parsed.at)}, churn at the end of the period paid through ${iso(from)}` : `canceled ${day(parsed.at)}`
        points.push({...base, at: from, mrr: 0, cause: 'cancellation', detail})
        break
      }
      case 'active':
      case 'past_due': {
        const pastDue = state.status === 'past_due'
        if (pastDue && !(i > 0 && effective[i - 1].parsed.state.status === 'past_due')) pastDueSince = from
        const delinquentAt = pastDue ? pastDueSince + policies.pastDueDays * DAY_MS : Infinity
        // The instants inside [from, to) at which this state's value changes: its start, a limited discount's end, delinquency.
        const instants = [from]
        if (parsed.until !== null && policies.limitedDiscounts === 'apply' && parsed.until > from && parsed.until < to) instants.push(parsed.until)
        if (delinquentAt > from && delinquentAt < to) instants.push(delinquentAt)
        instants.sort((a, b) => a - b)
        for (const at of instants) {
          if (at >= delinquentAt) {
            const detail = `past due since ${day(pastDueSince)} for ${policies.pastDueDays} days: delinquent churn`
            points.push({...base, at, mrr: 0, cause: 'delinquency', detail})
          } else {
            const {mrr, arithmetic} = monthlyValue(parsed, at, policies, digits)
            const prefix = pastDue ? `past due since ${day(pastDueSince)}, counted for up to ${policies.pastDueDays} days; ` : ''
            const cause: MovementCause = at === from ? 'event' : 'discount-end'
            points.push({...base, at, mrr, cause, detail: `${prefix}${arithmetic}`})
          }
        }
        break
      }
    }
  }
  return points
}

/**
 * A tenant's MRR as a step function: one point per change of MRR, standing
 * or plan, each change classified as a movement. Changes within the merge
 * window of the first are one point, at the last of them.
 */
export function tenantSeries(timeline: TenantTimeline, index: number, policies: MrrPolicies, withNotes = false): TenantSeries {
  const states = parseStates(timeline)
  const digits = timeline.currencyDigits ?? currencyDigits(timeline.currency)
  const raw = rawPoints(states, policies, digits)
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
    const eventIds: (string | number)[] = []
    for (let k = g; k <= last; k++) if (eventIds[eventIds.length - 1] !== raw[k].eventId) eventIds.push(raw[k].eventId)
    const point = raw[last]
    const merged = last - g
    g = last + 1

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
    if (type === null && point.planCode === planCode && next === standing) continue
    let movement: Movement | null = null
    if (type !== null) {
      const mergedText = merged > 0 ? ` (${merged + 1} changes within ${policies.mergeMinutes} minutes, as one)` : ''
      movement = {
        tenantId: timeline.tenantId,
        tenantName: timeline.tenantName,
        rdsId,
        currency: timeline.currency,
        at: iso(point.at),
        type,
        amountMinor: Math.abs(point.mrr - mrr),
        mrrBeforeMinor: mrr,
        mrrAfterMinor: point.mrr,
        eventId: point.eventId,
        eventIds,
        cause: point.cause,
        planCode: point.planCode,
        reason: `${type} ${money(mrr)} → ${money(point.mrr)}: ${point.detail}${mergedText}`,
      }
    }
    points.push({at: point.at, mrr: point.mrr, standing: next, planCode: point.planCode, movement})
    mrr = point.mrr
    standing = next
    planCode = point.planCode
  }
  const series: TenantSeries = {timeline, index, digits, points}
  if (withNotes) series.notes = eventNotes(states, policies, digits)
  return series
}

function eventNotes(states: ParsedState[], policies: MrrPolicies, digits: number): EventNote[] {
  const effective = new Map(effectiveStates(states, policies).map((e) => [e.parsed, e.from]))
  return states.map((parsed) => {
    const {state} = parsed
    const counts = state.status === 'active' || state.status === 'past_due'
    const value = counts ? monthlyValue(parsed, parsed.at, policies, digits) : {mrr: 0, arithmetic: `${state.status.replace('_', ' ')}: counts 0`}
    return {
      eventId: state.eventId,
      at: parsed.at,
      effectiveAt: effective.get(parsed) ?? null,
      status: state.status,
      planCode: state.planCode,
      mrr: value.mrr,
      arithmetic: value.arithmetic,
    }
  })
}
