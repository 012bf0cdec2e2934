/**
 * The MRR engine's input and output. The input is what the billing ledger
 * knows about each tenant: its effective-dated subscription states. The
 * engine never reads a database; callers map their rows into these types.
 */

/** A point in time in UTC: an ISO 8601 date or date-time (`2026-01-31`, `2026-01-31T12:00:00Z`) or epoch milliseconds. */
export type Instant = string | number

export type SubscriptionStatus = 'trialing' | 'active' | 'past_due' | 'paused' | 'canceled'

/** A discount per term: a percentage in basis points (1000 = 10 %) or an amount in minor units off each term. */
export type Discount = {percentBp: number} | {amountMinor: number}

/**
 * What a tenant's subscription becomes at instant `at`, until the next state:
 * the whole subscription as it then stands (plan, price, discount), not only
 * what the event changed. One state per billing event (plan set, quantity
 * changed, discount, trial, past due, pause, resume, cancel); a cancellation
 * or pause may repeat the plan it ends, or not: it counts 0 either way.
 */
export interface SubscriptionState {
  at: Instant
  status: SubscriptionStatus
  planCode: string
  planVersion?: number | string | null
  /** The price of one term for the whole quantity, before discount, net of tax, in integer minor units. */
  termAmountMinor: number
  /** The length of a term in months: 1 monthly, 3 quarterly, 12 yearly, 24 or 36 multi-year. */
  intervalMonths: number
  discount?: Discount | null
  /** When a limited discount ends; none means the discount is permanent. */
  discountUntil?: Instant | null
  /** The end of the period already paid for: with a cancellation, when churn is recognised by default. */
  paidThrough?: Instant | null
  /** The billing event this state comes from; movements name it. */
  eventId: string | number
}

/**
 * One tenant's subscription history in one currency. States may come in any
 * order: they are sorted by `at`, and of two states at the same instant the
 * later in the list wins. A tenant with no state is not a customer. A tenant
 * that changed currency is two timelines (its customers are counted per currency).
 */
export interface TenantTimeline {
  tenantId: string | number
  tenantName: string
  rdsId?: string | number | null
  /** ISO 4217 code, e.g. EUR. */
  currency: string
  /** Decimals of the currency's minor unit; by default from ISO 4217 (JPY 0, KWD 3, others 2). */
  currencyDigits?: number
  states: readonly SubscriptionState[]
}

/** The choices revenue tools disagree on, stated. `describePolicies` says them in words. */
export interface MrrPolicies {
  /**
   * A discount with an end date: `ignore` (default: it does not reduce MRR,
   * as Stripe's once/repeating coupons) or `apply` (it reduces MRR until it
   * ends, and its end is an expansion). A permanent discount always reduces MRR.
   */
  limitedDiscounts: 'ignore' | 'apply'
  /** Days a subscription may stay past due and still count (default 30); then it is delinquent churn. */
  pastDueDays: number
  /**
   * A pause: `contraction` (default: the MRR leaves as contraction, the
   * customer stays one, resuming is expansion; a cancellation while paused is
   * a logo churn of 0) or `churn` (a pause is churn, resuming reactivation).
   */
  pause: 'contraction' | 'churn'
  /** When a cancellation is churn: `period-end` (default: at the end of the paid period, else at cancellation) or `cancellation`. */
  churnAt: 'period-end' | 'cancellation'
  /**
   * Changes of one tenant within this many minutes of its first change are
   * one movement, dated at the last of them (default 60, as ChartMogul; 0
   * merges only changes at the same instant).
   */
  mergeMinutes: number
}

export const DEFAULT_MRR_POLICIES: Readonly<MrrPolicies> = Object.freeze({
  limitedDiscounts: 'ignore',
  pastDueDays: 30,
  pause: 'contraction',
  churnAt: 'period-end',
  mergeMinutes: 60,
})

export type MovementType = 'new' | 'expansion' | 'contraction' | 'churn' | 'reactivation'

export const MOVEMENT_TYPES: readonly MovementType[] = ['new', 'expansion', 'contraction', 'churn', 'reactivation']

/** Where a tenant stands: never paid yet, paying, paused but still a customer, or lost. */
export type Standing = 'prospect' | 'paying' | 'paused' | 'lost'

/** What made the MRR change: a billing event, a limited discount's end, past due turning delinquent, a cancellation taking effect. */
export type MovementCause = 'event' | 'discount-end' | 'delinquency' | 'cancellation'

/** One change of one tenant's MRR. `amountMinor` is never negative: the type says the direction. */
export interface Movement {
  tenantId: string | number
  tenantName: string
  rdsId: string | number | null
  currency: string
  /** ISO date-time (UTC) at which the change takes effect. */
  at: string
  type: MovementType
  amountMinor: number
  mrrBeforeMinor: number
  mrrAfterMinor: number
  /** The event that decided the change (the last one when several were merged). */
  eventId: string | number
  /** Every event merged into this movement, in order. */
  eventIds: (string | number)[]
  cause: MovementCause
  planCode: string | null
  /** The arithmetic, in words: "new: plan pro-yearly 2,000.00 / 12 months = 166.67". */
  reason: string
}
