import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {UserError} from '../errors/index.js'
import {parseTimeFlag} from '../time/parse-time.js'
import {discountMinor, foldLedger, isoDay, termAmount, type LedgerPayment, type TenantLedger} from './ledger.js'
import {formatAmount} from './money.js'
import {mrrAt, movements, type SubscriptionStatus, type TenantTimeline} from './mrr/index.js'
import {DEFAULT_BILLING_GRACE_DAYS, loadLedgerData, tenantTimelines} from './timelines.js'

/**
 * Billing alerts: what in the billing ledger needs a person now. Read-only.
 * Four kinds, worst first:
 *
 * - `overdue`: a billing period ended without succeeded payments reaching what
 *   it cost, and the grace days after its end have passed (the subscription is
 *   past due): one alert per unpaid period, since its end plus the grace days;
 * - `failed-payment`: a failed payment within `since`, not followed by a
 *   succeeded one for the same period (or, when it names no period, by any
 *   later succeeded payment of the tenant);
 * - `contraction`: an MRR movement of type contraction or churn within `since`
 *   (the engine's `movements`, default policies, over the timelines folded as
 *   `loadTimelines` folds them, from the same read as the rest) whose
 *   amount is at least `minContractionPercent` of the tenant's MRR before it;
 * - `trial-ending`: a trial that ends within `trialDays` from now.
 */

export const BILLING_ALERT_KINDS = ['overdue', 'failed-payment', 'contraction', 'trial-ending'] as const
export type BillingAlertKind = (typeof BILLING_ALERT_KINDS)[number]

export const DEFAULT_TRIAL_DAYS = 7
export const DEFAULT_ALERT_SINCE = '30d'
export const DEFAULT_MIN_CONTRACTION_PERCENT = 20

export interface BillingAlert {
  kind: BillingAlertKind
  tenantId: number
  tenantName: string
  /**
   * ISO time: since when it stands (overdue: the period's end plus the grace
   * days; failed-payment: the attempt; contraction: the movement) or, for
   * trial-ending, when the trial ends.
   */
  at: string
  currency: string
  /** Minor units: unpaid, failed, MRR lost, or the first term due after the trial. */
  amountMinor: number
  /** The same as a decimal in the currency's major unit. */
  amount: string
  /** What it is, in words. */
  detail: string
  /** What to do about it. */
  action: string
}

export interface BillingAlertsInput {
  /** Trials ending within this many days from now (default 7). */
  trialDays?: number
  /** Failed payments and contractions from this time on: ISO date or time, or a duration back from now (default 30d). */
  since?: string
  /** A contraction or churn is an alert from this percent of the tenant's MRR before it (default 20). */
  minContractionPercent?: number
  /** Days after an unpaid period's end before it is overdue (RAIOPS_BILLING_GRACE_DAYS, default 7). */
  graceDays?: number
}

export interface BillingAlertsResult {
  generatedAt: string
  settings: {graceDays: number; trialDays: number; since: string; minContractionPercent: number}
  /** How many alerts of each kind, every kind named. */
  counts: Record<BillingAlertKind, number>
  alerts: BillingAlert[]
}

const DAY_MS = 86_400_000
const MAX_DAYS = 36_500

function checkDays(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_DAYS)
    throw new UserError(`${flag} must be a whole number of days from 0 to ${MAX_DAYS}, not ${value}`, {hint: `for example ${flag} 7`})
  return value
}

/** The input checked, with its defaults: bad input is a UserError before anything is read. */
export function resolveAlertSettings(input: BillingAlertsInput, now: Date): BillingAlertsResult['settings'] {
  const trialDays = checkDays(input.trialDays ?? DEFAULT_TRIAL_DAYS, '--trial-days')
  const graceDays = checkDays(input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS, 'the grace days (RAIOPS_BILLING_GRACE_DAYS)')
  const minContractionPercent = input.minContractionPercent ?? DEFAULT_MIN_CONTRACTION_PERCENT
  if (!Number.isInteger(minContractionPercent) || minContractionPercent < 1 || minContractionPercent > 100)
    throw new UserError(`--min-contraction must be a whole percent from 1 to 100, not ${minContractionPercent}`, {hint: 'for example --min-contraction 20'})
  const since = parseTimeFlag(input.since ?? DEFAULT_ALERT_SINCE, '--since', now)
  if (since.getTime() > now.getTime()) throw new UserError('--since must not be in the future', {hint: 'give a past date or a duration back from now (30d)'})
  return {graceDays, trialDays, since: since.toISOString(), minContractionPercent}
}

/** Every tenant's ledger folded at `until`, from one query for events and one for payments, and the MRR engine's timelines from the same fold. */
export interface LoadedLedgers {
  ledgers: Map<number, TenantLedger>
  payments: Map<number, LedgerPayment[]>
  names: Map<number, string>
  timelines: TenantTimeline[]
}

export async function loadLedgers(db: Db, until: number, graceDays: number): Promise<LoadedLedgers> {
  const data = await loadLedgerData(db, {until})
  const ledgers = new Map<number, TenantLedger>()
  const payments = new Map<number, LedgerPayment[]>()
  const timelines: TenantTimeline[] = []
  for (const id of data.ids) {
    const paid = data.paymentsOf(id)
    if (paid.length > 0) payments.set(id, paid)
    const ledger = foldLedger(data.eventsOf(id), paid, data.plans, {until, graceDays})
    ledgers.set(id, ledger)
    if (ledger.states.length > 0) timelines.push(...tenantTimelines(data, id, ledger.states))
  }
  const names = new Map([...data.tenants].map(([id, t]) => [id, t.name]))
  return {ledgers, payments, names, timelines}
}

function alert(
  kind: BillingAlertKind,
  tenantId: number,
  tenantName: string,
  at: number,
  currency: string,
  amountMinor: number,
  detail: string,
  action: string,
): BillingAlert {
  return {kind, tenantId, tenantName, at: new Date(at).toISOString(), currency, amountMinor, amount: formatAmount(amountMinor, currency), detail, action}
}

function overdueAlerts(loaded: LoadedLedgers, now: number, graceDays: number): BillingAlert[] {
  const result: BillingAlert[] = []
  for (const [id, ledger] of loaded.ledgers) {
    const name = loaded.names.get(id) ?? `#${id}`
    for (const period of ledger.periods) {
      if (period.dueBy > now || period.paidAt !== null || period.dueMinor <= 0) continue
      const {currency} = period
      const unpaid = period.dueMinor - period.paidMinor
      const paidPart = period.paidMinor > 0 ? ` (${formatAmount(period.paidMinor, currency)} paid)` : ''
      result.push(
        alert(
          'overdue',
          id,
          name,
          period.dueBy,
          currency,
          unpaid,
          `period ${isoDay(period.start)} to ${isoDay(period.end)} of ${period.planCode} unpaid ${graceDays} day(s) after its end${paidPart}; past due`,
          `collect ${formatAmount(unpaid, currency)} ${currency} and record it with billing:payment for the period starting ${isoDay(period.start)}`,
        ),
      )
    }
  }
  return result
}

function failedPaymentAlerts(loaded: LoadedLedgers, since: number, now: number): BillingAlert[] {
  const result: BillingAlert[] = []
  for (const [id, list] of loaded.payments) {
    const name = loaded.names.get(id) ?? `#${id}`
    for (const failed of list) {
      if (failed.status !== 'failed' || failed.paidAt < since || failed.paidAt > now) continue
      const settled = list.some(
        (p) =>
          p.status === 'succeeded' &&
          p.currency === failed.currency &&
          (p.paidAt > failed.paidAt || (p.paidAt === failed.paidAt && p.id > failed.id)) &&
          (failed.periodStart === null || (p.periodStart !== null && isoDay(p.periodStart) === isoDay(failed.periodStart))),
      )
      if (settled) continue
      const period = failed.periodStart === null ? '' : ` for the period starting ${isoDay(failed.periodStart)}`
      result.push(
        alert(
          'failed-payment',
          id,
          name,
          failed.paidAt,
          failed.currency,
          failed.amountMinor,
          `payment #${failed.id}${period} failed; no succeeded payment since`,
          'retry the charge or ask for another payment method, then record it with billing:payment',
        ),
      )
    }
  }
  return result
}

function contractionAlerts(timelines: readonly TenantTimeline[], since: number, now: number, minPercent: number): BillingAlert[] {
  if (now <= since) return []
  const result: BillingAlert[] = []
  for (const m of movements(timelines, since, now + 1)) {
    if (m.type !== 'contraction' && m.type !== 'churn') continue
    // In integers: amount / before ≥ minPercent / 100.
    if (m.amountMinor <= 0 || m.mrrBeforeMinor <= 0 || m.amountMinor * 100 < minPercent * m.mrrBeforeMinor) continue
    const percent = Math.floor((m.amountMinor * 100) / m.mrrBeforeMinor)
    result.push(
      alert(
        'contraction',
        Number(m.tenantId),
        m.tenantName,
        Date.parse(m.at),
        m.currency,
        m.amountMinor,
        `${m.type}: MRR ${formatAmount(m.mrrBeforeMinor, m.currency)} → ${formatAmount(m.mrrAfterMinor, m.currency)} (−${percent} %); ${m.reason}`,
        `talk to the customer; billing:explain ${m.tenantId} shows the event behind it`,
      ),
    )
  }
  return result
}

function trialAlerts(loaded: LoadedLedgers, now: number, trialDays: number): BillingAlert[] {
  const result: BillingAlert[] = []
  for (const [id, ledger] of loaded.ledgers) {
    const trialUntil = ledger.terms.trialUntil
    if (ledger.status !== 'trialing' || trialUntil === null || trialUntil <= now || trialUntil - now > trialDays * DAY_MS || ledger.plan === null) continue
    const term = termAmount(ledger.plan, ledger.terms.quantity)
    const discounted = ledger.terms.discountUntil === null || ledger.terms.discountUntil > trialUntil
    const due = term - (discounted ? discountMinor(ledger.terms.discount, term) : 0)
    const days = Math.ceil((trialUntil - now) / DAY_MS)
    result.push(
      alert(
        'trial-ending',
        id,
        loaded.names.get(id) ?? `#${id}`,
        trialUntil,
        ledger.plan.currency,
        due,
        `trial of ${ledger.plan.code} ends in ${days} day(s); the first term costs ${formatAmount(due, ledger.plan.currency)}`,
        'check the plan and the billing contact before the first term is billed (billing:show)',
      ),
    )
  }
  return result
}

const RANK: Record<BillingAlertKind, number> = {overdue: 0, 'failed-payment': 1, contraction: 2, 'trial-ending': 3}

/** Worst kind first; within a kind, the oldest (for trials, the soonest) first, then by tenant. */
export function byWorst(a: BillingAlert, b: BillingAlert): number {
  return RANK[a.kind] - RANK[b.kind] || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0) || a.tenantId - b.tenantId
}

export function countByKind(alerts: readonly BillingAlert[]): Record<BillingAlertKind, number> {
  const counts = Object.fromEntries(BILLING_ALERT_KINDS.map((k) => [k, 0])) as Record<BillingAlertKind, number>
  for (const a of alerts) counts[a.kind]++
  return counts
}

/** The alerts at `now` from ledgers and timelines already loaded. */
function collectAlerts(loaded: LoadedLedgers, timelines: readonly TenantTimeline[], settings: BillingAlertsResult['settings'], now: number): BillingAlert[] {
  const since = Date.parse(settings.since)
  return [
    ...overdueAlerts(loaded, now, settings.graceDays),
    ...failedPaymentAlerts(loaded, since, now),
    ...contractionAlerts(timelines, since, now, settings.minContractionPercent),
    ...trialAlerts(loaded, now, settings.trialDays),
  ].sort(byWorst)
}

/** `billing:alerts`: the billing alerts now, worst first. Reads the ledger; writes nothing. */
export async function billingAlerts(ctx: Pick<OpsContext, 'db' | 'now'>, input: BillingAlertsInput = {}): Promise<BillingAlertsResult> {
  const now = ctx.now()
  const settings = resolveAlertSettings(input, now)
  return billingAlertsOf(await loadLedgers(ctx.db, now.getTime(), settings.graceDays), input, now)
}

/** The billing alerts at `now` from ledgers already loaded (loadLedgers at `now` with the same grace days): what billingAlerts returns. */
export function billingAlertsOf(loaded: LoadedLedgers, input: BillingAlertsInput, now: Date): BillingAlertsResult {
  const settings = resolveAlertSettings(input, now)
  const alerts = collectAlerts(loaded, loaded.timelines, settings, now.getTime())
  return {generatedAt: now.toISOString(), settings, counts: countByKind(alerts), alerts}
}

/** The billing picture the status overview shows: subscriptions by status, MRR per currency, alerts by kind. */
export interface BillingOverview {
  /** Tenants with a billing event. */
  subscriptions: number
  byStatus: Record<SubscriptionStatus, number>
  /** MRR now per currency (the engine's, default policies), minor units and decimal. */
  mrr: Array<{currency: string; mrrMinor: number; mrr: string; customers: number}>
  alerts: Record<BillingAlertKind, number>
  settings: BillingAlertsResult['settings']
}

const STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'paused', 'canceled']

export async function billingOverview(ctx: Pick<OpsContext, 'db' | 'now'>, input: Pick<BillingAlertsInput, 'graceDays'> = {}): Promise<BillingOverview> {
  const now = ctx.now()
  const settings = resolveAlertSettings(input, now)
  const loaded = await loadLedgers(ctx.db, now.getTime(), settings.graceDays)
  const {timelines} = loaded
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<SubscriptionStatus, number>
  let subscriptions = 0
  for (const ledger of loaded.ledgers.values()) {
    if (ledger.status === null) continue
    subscriptions++
    byStatus[ledger.status]++
  }
  const mrr =
    timelines.length === 0
      ? []
      : mrrAt(timelines, now.getTime()).currencies.map((c) => ({
          currency: c.currency,
          mrrMinor: c.totalMinor,
          mrr: formatAmount(c.totalMinor, c.currency),
          customers: c.payingCustomers,
        }))
  return {subscriptions, byStatus, mrr, alerts: countByKind(collectAlerts(loaded, timelines, settings, now.getTime())), settings}
}
