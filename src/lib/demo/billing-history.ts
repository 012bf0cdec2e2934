import {lockLedger, saveBillingState} from '../billing/ledger-store.js'
import {addMonths, foldLedger, isoDay, type LedgerEvent, type LedgerPlan} from '../billing/ledger.js'
import {recordPayment} from '../billing/payments.js'
import {cancelSubscription, setSubscription} from '../billing/subscriptions.js'
import {DEFAULT_BILLING_GRACE_DAYS, loadLedgerPlans} from '../billing/timelines.js'
import type {ChangeContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {getTenant} from '../tenant/reference.js'
import {rng} from './names.js'

/**
 * The demo's billing history: a few dozen tenants of the master RDS on the
 * demo's plans over the 24 months before the build, every MRR movement in it
 * (new, expansion, contraction, churn, reactivation), in USD and EUR, with a
 * payment for every period paid. Written through the billing services
 * themselves, each change and payment at the instant it happened (one change
 * recorded late: backdated), so the ledger and the audit trail are what
 * operators would have left.
 */

const DAY_MS = 86_400_000
/** How many months of history. */
export const DEMO_BILLING_MONTHS = 24
/** How many tenants have a subscription. */
const SUBSCRIBERS = 30

/** How many whole months the tour's report shows: the last ones of the history, which hold every MRR movement in USD. */
export const DEMO_REPORT_MONTHS = 8

/**
 * The history's range, the 24 whole months before the build's month (`from`,
 * `to` exclusive), and where the tour's report starts (`reportFrom`: the last
 * DEMO_REPORT_MONTHS of it, short enough to read on one screen).
 */
export function demoBillingWindow(now: Date): {from: string; to: string; reportFrom: string} {
  const to = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)
  const day = (at: number) => new Date(at).toISOString().slice(0, 10)
  return {from: day(addMonths(to, -DEMO_BILLING_MONTHS)), to: day(to), reportFrom: day(addMonths(to, -DEMO_REPORT_MONTHS))}
}

/** The tenant whose history the tour explains, as RDS:REMOTE_ID. */
export function demoBillingShowcase(rds: string, tenants: number, seed: number): string {
  return `${rds}:${subscriberIds(tenants, seed)[0]}`
}

/** What happens to one subscriber, in months from the start of the history. */
type Action =
  | {kind: 'set'; at: number; recordedAt: number; plan: string; quantity: number; reason: string; trialUntil?: number}
  | {kind: 'cancel'; at: number; recordedAt: number; reason: string}

interface Script {
  remoteId: number
  actions: Action[]
  /** Periods starting at or after it go unpaid (the subscriber who stops paying). */
  stopPayingAt?: number
  /** The period starting at this month has a failed payment first. */
  failedMonth?: number
  /** The latest period's payment failed, and it is not paid yet. */
  failedLatest?: boolean
}

export interface DemoBillingResult {
  /** The tenant whose history the tour explains, as RDS:REMOTE_ID. */
  showcase: string
  subscribers: number
  events: number
  payments: number
}

/** The remote ids of the subscribers: distinct, from the demo's seed. */
function subscriberIds(tenants: number, seed: number): number[] {
  const random = rng(seed, 16)
  const ids: number[] = []
  const taken = new Set<number>()
  while (ids.length < Math.min(SUBSCRIBERS, tenants)) {
    const id = 1 + Math.floor(random() * tenants)
    if (taken.has(id)) continue
    taken.add(id)
    ids.push(id)
  }
  return ids
}

function scripts(ids: readonly number[], seed: number, start: number, now: number): Script[] {
  const at = (month: number, day: number) => addMonths(start, month) + (day - 1) * DAY_MS + 9 * 3_600_000
  const set = (month: number, day: number, plan: string, quantity: number, reason: string): Action => {
    const t = at(month, day)
    return {kind: 'set', at: t, recordedAt: t, plan, quantity, reason}
  }
  const cancel = (month: number, day: number, reason: string): Action => ({kind: 'cancel', at: at(month, day), recordedAt: at(month, day), reason})
  const backdatedAt = at(21, 25)
  const result: Script[] = [
    // The tenant the tour explains: new, expansion, a failed payment, contraction, churn, reactivation, a backdated expansion.
    {
      remoteId: ids[0],
      failedMonth: 8,
      actions: [
        set(1, 10, 'starter', 2, 'signed up: two restaurants'),
        set(5, 10, 'starter', 4, 'opened two more locations'),
        set(11, 10, 'starter', 3, 'closed the airport location'),
        cancel(14, 10, 'moved to a competitor'),
        set(18, 20, 'starter', 3, 'came back: three locations'),
        {kind: 'set', at: backdatedAt, recordedAt: at(22, 8), plan: 'starter', quantity: 5, reason: 'two locations opened on the 25th, reported late'},
      ],
    },
    // Stops paying: past due, then churned by the report's delinquency rule.
    {remoteId: ids[1], stopPayingAt: 20, actions: [set(2, 5, 'starter', 3, 'signed up: three locations')]},
    // In EUR: churns, then comes back.
    {
      remoteId: ids[2],
      actions: [set(0, 15, 'eu-team', 1, 'signed up'), cancel(9, 1, 'seasonal closure'), set(15, 3, 'eu-team', 1, 'reopened for the season')],
    },
    // What billing:alerts finds besides the overdue periods: a card declined this month, a trial ending, a large contraction.
    {remoteId: ids[3], failedLatest: true, actions: [set(3, 12, 'starter', 2, 'signed up: two locations')]},
    {
      remoteId: ids[4],
      actions: [
        {kind: 'set', at: now - 10 * DAY_MS, recordedAt: now - 10 * DAY_MS, plan: 'starter', quantity: 1, reason: 'trial', trialUntil: now + 4 * DAY_MS},
      ],
    },
    {
      remoteId: ids[5],
      actions: [
        set(2, 18, 'pro-yearly', 4, 'signed up: four locations'),
        {kind: 'set', at: now - 5 * DAY_MS, recordedAt: now - 5 * DAY_MS, plan: 'pro-yearly', quantity: 2, reason: 'sold two locations'},
      ],
    },
  ]
  for (const [k, remoteId] of ids.entries()) {
    if (k < 6) continue
    const random = rng(seed, 16, k)
    const plan = (['starter', 'pro-yearly', 'eu-team'] as const)[k % 3]
    const month = Math.floor(random() * 20)
    const day = 1 + Math.floor(random() * 27)
    const min = plan === 'pro-yearly' ? 2 : 1
    let quantity = plan === 'eu-team' ? 1 : min + Math.floor(random() * 4)
    const actions: Action[] = [set(month, day, plan, quantity, 'signed up')]
    const later = month + 2 + Math.floor(random() * 6)
    const roll = random()
    if (later < DEMO_BILLING_MONTHS) {
      if (plan !== 'eu-team' && roll < 0.35) {
        quantity += 1 + Math.floor(random() * 2)
        actions.push(set(later, day, plan, quantity, 'more locations'))
      } else if (plan !== 'eu-team' && roll < 0.55 && quantity > min + (plan === 'starter' ? 0 : 1)) {
        quantity -= 1
        actions.push(set(later, day, plan, quantity, 'closed a location'))
      } else if (roll < 0.75) {
        actions.push(cancel(later, day, 'closed the business'))
        if (plan === 'starter' && random() < 0.4 && later + 4 < DEMO_BILLING_MONTHS) actions.push(set(later + 4, day, plan, quantity, 'reopened'))
      }
    }
    result.push({remoteId, actions})
  }
  return result
}

function minorToDecimal(minor: number): string {
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`
}

type Step = {recordedAt: number; order: number; run: (ctx: ChangeContext) => Promise<unknown>}

/**
 * Writes the history for the tenants of `rds` (already in tenant_master, registered before the history starts)
 * and recomputes their tenant_billing at `now`.
 */
export async function writeDemoBilling(ctx: ChangeContext, input: {rds: string; tenants: number; seed: number; now: Date}): Promise<DemoBillingResult> {
  const now = input.now.getTime()
  const start = Date.parse(`${demoBillingWindow(input.now).from}T00:00:00Z`)
  const ids = subscriberIds(input.tenants, input.seed)
  const plans = await loadLedgerPlans(ctx.db)
  const planByCode = new Map<string, LedgerPlan>()
  for (const plan of plans.values()) if ((planByCode.get(plan.code)?.version ?? 0) < plan.version) planByCode.set(plan.code, plan)
  const steps: Step[] = []
  let events = 0
  let payments = 0
  for (const script of scripts(ids, input.seed, start, now)) {
    const tenant = `${input.rds}:${script.remoteId}`
    // The periods these changes bill, by the ledger's own fold, to pay each one what it costs.
    const ledgerEvents: LedgerEvent[] = script.actions.map((action, index) => ({
      id: index + 1,
      type: action.kind,
      effectiveAt: action.at,
      changes:
        action.kind === 'set'
          ? {
              planId: planByCode.get(action.plan)?.id,
              quantity: action.quantity,
              status: 'active',
              ...(action.trialUntil === undefined ? {} : {trialUntil: new Date(action.trialUntil).toISOString()}),
            }
          : {status: 'canceled'},
    }))
    const ledger = foldLedger(ledgerEvents, [], plans, {until: now, graceDays: DEFAULT_BILLING_GRACE_DAYS, withMrr: false})
    for (const action of script.actions) {
      events++
      const effective = new Date(action.at)
      steps.push({
        recordedAt: action.recordedAt,
        order: steps.length,
        run: (c) =>
          action.kind === 'set'
            ? setSubscription(c, {
                tenant,
                plan: action.plan,
                quantity: action.quantity,
                effective,
                reason: action.reason,
                trialUntil: action.trialUntil === undefined ? undefined : new Date(action.trialUntil),
              })
            : cancelSubscription(c, {tenant, effective, reason: action.reason}),
      })
    }
    const plan = (code: string) => planByCode.get(code)
    const periodsToPay = ledger.periods.filter(
      (period) => period.start + DAY_MS <= now && (script.stopPayingAt === undefined || period.start < addMonths(start, script.stopPayingAt)),
    )
    for (const period of periodsToPay) {
      const paidAt = period.start + DAY_MS
      const currency = plan(period.planCode)?.currency ?? 'USD'
      const base = {tenant, amount: minorToDecimal(period.dueMinor), currency, method: 'card', period: new Date(period.start)}
      if (script.failedLatest && periodsToPay.at(-1) === period) {
        // Declined in the last few days, so that billing:alerts (the last 30 days) shows it whatever the day of the month.
        const declinedAt = Math.max(paidAt, now - 2 * DAY_MS)
        payments++
        steps.push({
          recordedAt: declinedAt,
          order: steps.length,
          run: (c) =>
            recordPayment(c, {...base, status: 'failed', reference: `DECLINED-${script.remoteId}-${isoDay(period.start)}`, date: new Date(declinedAt)}),
        })
        continue
      }
      const failed =
        script.failedMonth !== undefined && period.start >= addMonths(start, script.failedMonth) && period.start < addMonths(start, script.failedMonth + 1)
      if (failed) {
        payments++
        steps.push({
          recordedAt: paidAt,
          order: steps.length,
          run: (c) => recordPayment(c, {...base, status: 'failed', reference: `DECLINED-${script.remoteId}-${isoDay(period.start)}`, date: new Date(paidAt)}),
        })
      }
      const settledAt = failed ? paidAt + 5 * DAY_MS : paidAt
      payments++
      steps.push({
        recordedAt: settledAt,
        order: steps.length,
        run: (c) => recordPayment(c, {...base, status: 'succeeded', reference: `INV-${script.remoteId}-${isoDay(period.start)}`, date: new Date(settledAt)}),
      })
    }
  }
  // In the order they happened, each at its own instant.
  steps.sort((a, b) => a.recordedAt - b.recordedAt || a.order - b.order)
  // One transaction for all (each service's own is a savepoint in it): a demo build, not hundreds of commits.
  await ctx.db.transaction(async (tx) => {
    for (const step of steps) await step.run({...ctx, db: tx, now: () => new Date(step.recordedAt)})
    // tenant_billing as the ledger says it is now (a subscriber who stopped paying is past due now, not at its last payment).
    for (const remoteId of ids) await recomputeBilling(tx, `${input.rds}:${remoteId}`, input.now)
  })
  return {showcase: `${input.rds}:${ids[0]}`, subscribers: ids.length, events, payments}
}

async function recomputeBilling(db: Db, ref: string, now: Date): Promise<void> {
  const tenant = await getTenant(db, ref)
  await db.transaction(async (tx) => {
    const locked = await lockLedger(tx, tenant.id, now)
    await saveBillingState(tx, locked, {until: now.getTime(), graceDays: DEFAULT_BILLING_GRACE_DAYS, now})
  })
}
