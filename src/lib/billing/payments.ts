import {appendAudit} from '../audit/writer.js'
import type {ChangeContext, OpsContext} from '../context.js'
import {insertReturningId, type Db} from '../db/control-db.js'
import {PAYMENT_STATUSES, type BillingEventRow, type PaymentRow, type PaymentStatus, type TenantBillingRow} from '../db/tables.js'
import {toIso, toIsoRequired, toMinor} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {getTenant} from '../tenant/reference.js'
import {lockLedger, saveBillingState} from './ledger-store.js'
import {addMonths, foldLedger, isoDay, latestBillingDate, type BillingPeriod} from './ledger.js'
import {currencyCode, formatMoney, MAX_AMOUNT_MINOR, parseAmount} from './money.js'
import {subscriptionView, type BillingEventView, type SubscriptionView} from './subscriptions.js'
import {DEFAULT_BILLING_GRACE_DAYS, ledgerEvent, loadLedgerPlans} from './timelines.js'

/**
 * Payments (`billing:payment`, `billing:refund`) and what `billing:show` reads.
 * A payment pays one billing period (by default the oldest unpaid one); a
 * period is paid once its succeeded payments reach what it costs, and one left
 * unpaid past its end and the grace days makes the subscription past due until
 * it is. A refund is its own row pointing at the payment; refunds never change
 * MRR nor un-pay a period.
 */

export interface PaymentView {
  id: number
  amountMinor: number
  amount: string
  currency: string
  paidAt: string
  status: PaymentStatus
  method: string | null
  reference: string | null
  periodStart: string | null
  periodEnd: string | null
  refundOf: number | null
  recordedBy: string | null
  reason: string | null
}

export interface RecordPaymentInput {
  tenant: string
  /** A decimal in the currency (49.00 USD, 4900 JPY). */
  amount: string
  currency: string
  method: string
  reference: string
  status: string
  /** When it was paid (or failed, or was refunded). */
  date: Date
  /** The start of the billing period it pays (a day: YYYY-MM-DD); default the oldest unpaid period. */
  period?: Date
  graceDays?: number
}

export interface PaymentResult {
  tenant: {id: number; name: string}
  payment: PaymentView
  subscription: SubscriptionView
}

const MAX_TEXT = 255

function toPaymentView(row: PaymentRow): PaymentView {
  return {
    id: Number(row.id),
    amountMinor: toMinor(row.amount_cents),
    amount: formatMoney(toMinor(row.amount_cents), row.currency),
    currency: row.currency,
    paidAt: toIsoRequired(row.paid_at),
    status: row.status,
    method: row.method,
    reference: row.reference,
    periodStart: toIso(row.period_start),
    periodEnd: toIso(row.period_end),
    refundOf: row.refund_of === null ? null : Number(row.refund_of),
    recordedBy: row.recorded_by,
    reason: row.reason,
  }
}

function shortText(value: string, flag: string): string {
  const text = value.trim()
  if (text === '' || text.length > MAX_TEXT)
    throw new UserError(`${flag} must be 1 to ${MAX_TEXT} characters`, {hint: `e.g. ${flag === '--method' ? 'card, transfer' : 'the processor’s id'}`})
  return text
}

function paymentStatus(text: string): PaymentStatus {
  const status = text.trim().toLowerCase()
  if (!(PAYMENT_STATUSES as readonly string[]).includes(status))
    throw new UserError(`--status ${text} is not a payment status`, {hint: `one of ${PAYMENT_STATUSES.join(', ')}`})
  return status as PaymentStatus
}

async function readPayment(db: Db, id: number): Promise<PaymentRow> {
  const row = (await db('payments').where({id}).first()) as PaymentRow | undefined
  if (!row) throw new NotFoundError(`no payment ${id}`, {hint: 'see the payments of `raiops billing:show TENANT`'})
  return row
}

/** `billing:payment`: a payment, failed attempt or refund, for one billing period of the tenant's subscription. */
export async function recordPayment(ctx: ChangeContext, input: RecordPaymentInput): Promise<PaymentResult> {
  const now = ctx.now()
  const currency = currencyCode(input.currency)
  const amountMinor = parseAmount(input.amount, currency, {what: '--amount', maxMinor: MAX_AMOUNT_MINOR})
  const status = paymentStatus(input.status)
  // A refund returns money of a payment: billing:refund checks it against that payment; here it would be unbounded.
  if (status === 'refunded')
    throw new UserError('billing:payment records payments and failed attempts, not refunds', {
      hint: 'refund a payment with `raiops billing:refund PAYMENT_ID --reason TEXT` (payment ids: `raiops billing:show TENANT`)',
    })
  const method = shortText(input.method, '--method')
  const reference = shortText(input.reference, '--reference')
  if (Number.isNaN(input.date.getTime())) throw new UserError('--date is not a date', {hint: 'e.g. --date 2026-03-01'})
  notTooFarAhead(input.date, now)
  const graceDays = input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  const tenant = await getTenant(ctx.db, input.tenant)
  return ctx.db.transaction(async (tx) => {
    const locked = await lockLedger(tx, tenant.id, now)
    if (locked.events.length === 0)
      throw new UserError(`${tenant.name} has no subscription to pay for`, {hint: 'put it on a plan first with `raiops billing:set`'})
    // Periods through a year ahead of the payment, so that a period may be paid in advance.
    const horizon = addMonths(Math.max(now.getTime(), input.date.getTime()), 12)
    const ledger = foldLedger(locked.events, locked.payments, locked.plans, {until: horizon, graceDays})
    const subscriptionCurrency = ledger.plan?.currency ?? locked.billing.currency
    // A payment pays a period of its own currency: one of the plan now, or one billed before a move to another currency (--period).
    if (subscriptionCurrency !== currency && (input.period === undefined || !ledger.periods.some((p) => p.currency === currency)))
      throw new UserError(`a payment in ${currency} for a subscription in ${subscriptionCurrency}`, {
        hint: `record it in ${subscriptionCurrency}, the currency of the tenant's plan (a period billed in another currency before: name it with --period)`,
      })
    const period = choosePeriod(ledger.periods, currency, input.period, Math.max(now.getTime(), input.date.getTime()))
    const id = await insertReturningId(tx, 'payments', {
      tenant_master_id: tenant.id,
      amount_cents: amountMinor,
      currency,
      paid_at: input.date,
      method,
      reference,
      status,
      period_start: new Date(period.start),
      period_end: new Date(period.end),
      refund_of: null,
      recorded_by: ctx.audit.actor,
      reason: null,
      created_at: now,
      updated_at: now,
    })
    const row = await readPayment(tx, id)
    locked.payments.push({id, amountMinor, currency, paidAt: input.date.getTime(), status, periodStart: period.start, refundOf: null})
    await saveBillingState(tx, locked, {until: now.getTime(), graceDays, now})
    const payment = toPaymentView(row)
    await appendAudit(
      tx,
      ctx.audit,
      {action: 'billing.payment', targetType: 'payment', targetId: id, rdsInstanceId: tenant.rdsInstanceId, tenantMasterId: tenant.id, newValues: {...payment}},
      now,
    )
    const after = (await tx('tenant_billing').where({id: locked.billing.id}).first()) as TenantBillingRow
    return {tenant: {id: tenant.id, name: tenant.name}, payment, subscription: await subscriptionView(tx, after)}
  })
}

function notTooFarAhead(date: Date, now: Date): void {
  const latest = latestBillingDate(now.getTime())
  if (date.getTime() > latest) throw new UserError(`--date ${isoDay(date.getTime())} is more than 5 years ahead`, {hint: `give a date up to ${isoDay(latest)}`})
}

/** Of the periods billed in `currency`: the one asked for (by the day it starts), else the oldest unpaid one up to `at`, else the next one. */
function choosePeriod(all: readonly BillingPeriod[], currency: string, asked: Date | undefined, at: number): BillingPeriod {
  const periods = all.filter((p) => p.currency === currency)
  if (asked !== undefined) {
    const found = periods.find((p) => isoDay(p.start) === isoDay(asked.getTime()))
    const other = all.find((p) => isoDay(p.start) === isoDay(asked.getTime()) && p.currency !== currency)
    if (!found && other)
      throw new UserError(`the period starting ${isoDay(other.start)} is billed in ${other.currency}, not ${currency}`, {
        hint: `record its payment in ${other.currency}`,
      })
    if (!found) {
      const starts = periods.slice(-6).map((p) => isoDay(p.start))
      throw new UserError(`no billing period starts on ${isoDay(asked.getTime())}`, {
        hint:
          starts.length > 0
            ? `periods start on ${starts.join(', ')}${periods.length > 6 ? ' (the latest)' : ''}`
            : 'the subscription bills no period (trialing, paused or canceled)',
      })
    }
    return found
  }
  const unpaid = periods.find((p) => p.start <= at && p.paidAt === null)
  const next = unpaid ?? periods.find((p) => p.start > at)
  if (!next)
    throw new UserError('the subscription bills no period to pay', {hint: 'it is trialing, paused or canceled: give --period YYYY-MM-DD for a past period'})
  return next
}

export interface RefundInput {
  /** The payment's id, as a number or as typed (`billing:refund 812`). */
  paymentId: number | string
  /** A decimal in the payment's currency; default what is left of it. */
  amount?: string
  reason: string
  date?: Date
  graceDays?: number
}

/** `billing:refund`: returns some or all of a succeeded payment. MRR does not change; the period stays paid. */
export async function refundPayment(ctx: ChangeContext, input: RefundInput): Promise<PaymentResult> {
  const now = ctx.now()
  const reason = input.reason.trim()
  if (reason === '' || reason.length > 1000) throw new UserError('a refund needs --reason (at most 1000 characters)', {hint: 'e.g. --reason "double charge"'})
  const typed = String(input.paymentId).trim()
  const paymentId = /^\d{1,15}$/.test(typed) ? Number(typed) : Number.NaN
  if (!Number.isSafeInteger(paymentId) || paymentId <= 0)
    throw new UserError(`${JSON.stringify(typed).slice(0, 60)} is not a payment id`, {hint: 'a whole number, as billing:show lists'})
  if (input.date !== undefined) {
    if (Number.isNaN(input.date.getTime())) throw new UserError('--date is not a date', {hint: 'e.g. --date 2026-03-01'})
    notTooFarAhead(input.date, now)
  }
  const original = await readPayment(ctx.db, paymentId)
  const tenant = await getTenant(ctx.db, String(original.tenant_master_id))
  const graceDays = input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  return ctx.db.transaction(async (tx) => {
    const locked = await lockLedger(tx, tenant.id, now)
    const payment = await readPayment(tx, paymentId)
    if (payment.status !== 'succeeded')
      throw new UserError(`payment ${payment.id} is ${payment.status}: only a succeeded payment can be refunded`, {hint: 'see `raiops billing:show`'})
    const refunded = locked.payments.filter((p) => p.refundOf === payment.id).reduce((sum, p) => sum + p.amountMinor, 0)
    const left = toMinor(payment.amount_cents) - refunded
    const amountMinor = input.amount === undefined ? left : parseAmount(input.amount, payment.currency, {what: '--amount', maxMinor: MAX_AMOUNT_MINOR})
    if (amountMinor <= 0 || amountMinor > left)
      throw new UserError(
        `a refund of ${formatMoney(amountMinor, payment.currency)} is not possible: ${formatMoney(left, payment.currency)} of payment ${payment.id} is left to refund`,
        {
          hint: left > 0 ? `give --amount up to ${formatMoney(left, payment.currency)}` : 'it is refunded in full already',
        },
      )
    const paidAt = input.date ?? now
    const paymentAt = Date.parse(toIsoRequired(payment.paid_at))
    if (paidAt.getTime() < paymentAt)
      throw new UserError(`--date ${paidAt.toISOString()} is before payment ${payment.id} was made (${toIsoRequired(payment.paid_at)})`, {
        hint: `a refund returns money already paid: give --date ${isoDay(paymentAt)} or later`,
      })
    const id = await insertReturningId(tx, 'payments', {
      tenant_master_id: tenant.id,
      amount_cents: amountMinor,
      currency: payment.currency,
      paid_at: paidAt,
      method: payment.method,
      reference: payment.reference,
      status: 'refunded',
      period_start: payment.period_start,
      period_end: payment.period_end,
      refund_of: payment.id,
      recorded_by: ctx.audit.actor,
      reason,
      created_at: now,
      updated_at: now,
    })
    locked.payments.push({
      id,
      amountMinor,
      currency: payment.currency,
      paidAt: paidAt.getTime(),
      status: 'refunded',
      periodStart: payment.period_start === null ? null : Date.parse(toIsoRequired(payment.period_start)),
      refundOf: payment.id,
    })
    await saveBillingState(tx, locked, {until: now.getTime(), graceDays, now})
    const view = toPaymentView(await readPayment(tx, id))
    await appendAudit(
      tx,
      ctx.audit,
      {action: 'billing.refund', targetType: 'payment', targetId: id, rdsInstanceId: tenant.rdsInstanceId, tenantMasterId: tenant.id, newValues: {...view}},
      now,
    )
    const after = (await tx('tenant_billing').where({id: locked.billing.id}).first()) as TenantBillingRow
    return {tenant: {id: tenant.id, name: tenant.name}, payment: view, subscription: await subscriptionView(tx, after)}
  })
}

/** A billing period as billing:show shows it. */
export interface PeriodView {
  start: string
  end: string
  planCode: string
  /** The currency the period is billed in (its plan's then). */
  currency: string
  dueMinor: number
  paidMinor: number
  refundedMinor: number
  /** What is left to pay: due − paid + refunded. */
  balanceMinor: number
  paidAt: string | null
  /** When it makes the subscription past due if still unpaid. */
  dueBy: string
  overdue: boolean
}

export interface BillingShow {
  tenant: {id: number; name: string}
  /** Null: the tenant was never put on a plan. */
  subscription: (SubscriptionView & {balanceMinor: number; balance: string}) | null
  /** The period that contains now (null when none is billed). */
  currentPeriod: PeriodView | null
  /** Every billed period, oldest first. */
  periods: PeriodView[]
  events: BillingEventView[]
  payments: PaymentView[]
  graceDays: number
}

/** How many periods, events and payments billing:show lists at most (the newest). */
const SHOWN = 50

/**
 * `billing:show`: the subscription now, computed from the ledger at this
 * instant (a period that turned overdue since the last change is past due
 * here even before tenant_billing is rewritten), with its periods, events and payments.
 */
export async function showBilling(ctx: Pick<OpsContext, 'db' | 'now'>, input: {tenant: string; graceDays?: number}): Promise<BillingShow> {
  const now = ctx.now().getTime()
  const graceDays = input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  const tenant = await getTenant(ctx.db, input.tenant)
  const billing = (await ctx.db('tenant_billing').where({tenant_master_id: tenant.id}).first()) as TenantBillingRow | undefined
  const eventRows: BillingEventRow[] = await ctx.db('billing_events').where({tenant_master_id: tenant.id}).orderBy(['effective_at', 'id']).select('*')
  const paymentRows: PaymentRow[] = await ctx.db('payments').where({tenant_master_id: tenant.id}).orderBy(['paid_at', 'id']).select('*')
  const plans = await loadLedgerPlans(ctx.db)
  const payments = paymentRows.map(toPaymentView)
  const ledger = foldLedger(
    eventRows.map(ledgerEvent),
    payments.map((p) => ({...p, paidAt: Date.parse(p.paidAt), periodStart: p.periodStart === null ? null : Date.parse(p.periodStart)})),
    plans,
    {until: now, graceDays},
  )
  const periods: PeriodView[] = ledger.periods.map((p) => ({
    start: new Date(p.start).toISOString(),
    end: new Date(p.end).toISOString(),
    planCode: p.planCode,
    currency: p.currency,
    dueMinor: p.dueMinor,
    paidMinor: p.paidMinor,
    refundedMinor: p.refundedMinor,
    balanceMinor: p.dueMinor - p.paidMinor + p.refundedMinor,
    paidAt: p.paidAt === null ? null : new Date(p.paidAt).toISOString(),
    dueBy: new Date(p.dueBy).toISOString(),
    overdue: p.dueBy <= now && (p.paidAt === null || p.paidAt > now),
  }))
  const current = [...periods].reverse().find((p) => Date.parse(p.start) <= now && now < Date.parse(p.end)) ?? null
  let subscription: BillingShow['subscription'] = null
  if (billing && eventRows.length > 0) {
    const view = await subscriptionView(ctx.db, billing)
    const currency = ledger.plan?.currency ?? view.currency
    const balanceMinor = current?.balanceMinor ?? 0
    subscription = {
      ...view,
      status: ledger.status ?? view.status,
      mrrMinor: ledger.mrrMinor,
      mrr: formatMoney(ledger.mrrMinor, currency),
      nextBillingAt: ledger.nextBillingAt === null ? null : new Date(ledger.nextBillingAt).toISOString(),
      paidThrough: ledger.paidThrough === null ? null : new Date(ledger.paidThrough).toISOString(),
      balanceMinor,
      balance: formatMoney(balanceMinor, currency),
    }
  }
  const events: BillingEventView[] = eventRows.map((row) => {
    const recordedAt = toIsoRequired(row.recorded_at ?? row.created_at)
    const effectiveAt = toIsoRequired(row.effective_at)
    return {
      id: Number(row.id),
      type: row.type,
      effectiveAt,
      recordedAt,
      backdated: Date.parse(effectiveAt) < Date.parse(recordedAt),
      actor: row.actor ?? '',
      reason: row.reason,
      changes: ledgerEvent(row).changes,
      currency: row.currency ?? '',
      mrrMinor: toMinor(row.mrr_cents),
      mrrDeltaMinor: toMinor(row.mrr_delta_cents),
    }
  })
  return {
    tenant: {id: tenant.id, name: tenant.name},
    subscription,
    currentPeriod: current,
    periods: periods.slice(-SHOWN),
    events: events.slice(-SHOWN),
    payments: payments.slice(-SHOWN),
    graceDays,
  }
}
