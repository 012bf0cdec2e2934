import {appendAudit} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import {insertReturningId, type Db} from '../db/control-db.js'
import type {BillingEventType, TenantBillingRow} from '../db/tables.js'
import {toIso, toMinor} from '../db/values.js'
import {UserError} from '../errors/index.js'
import {getTenant, type TenantRef} from '../tenant/reference.js'
import {lockLedger, saveBillingState, type LockedLedger} from './ledger-store.js'
import {
  applyEvent,
  discountMinor,
  foldLedger,
  isoDay,
  latestBillingDate,
  NO_TERMS,
  termAmount,
  type BillingChanges,
  type LedgerPlan,
  type Terms,
} from './ledger.js'
import {currencyCode, formatMoney, MAX_AMOUNT_MINOR, parseAmount} from './money.js'
import type {Discount} from './mrr/types.js'
import {planCode} from './plan-model.js'
import {getPlan} from './plans.js'
import {DEFAULT_BILLING_GRACE_DAYS, toMs} from './timelines.js'

/**
 * The changes to a tenant's subscription (`billing:set`, `billing:cancel`,
 * `billing:pause`, `billing:resume`). Each appends one billing_events row,
 * recomputes tenant_billing from the whole ledger and appends an audit entry,
 * in one transaction that holds the tenant's lock (./ledger-store.ts), so two
 * operators changing one subscription at once land one after the other. A
 * change may be backdated (`effective` before now): every state after it is
 * then recomputed, and the audit entry says it was backdated.
 */

export interface SubscriptionChangeInput {
  /** The tenant, as getTenant reads a reference. */
  tenant: string
  /** When the change takes effect (default now); not before the tenant was registered. */
  effective?: Date
  /** Why: kept with the event and in the audit trail. */
  reason?: string
  /** RAIOPS_BILLING_GRACE_DAYS. */
  graceDays?: number
}

export interface SetSubscriptionInput extends SubscriptionChangeInput {
  plan: string
  /** A version of the plan; default the one in effect at the effective date. */
  planVersion?: number
  quantity?: number
  /** Price the tenant's locations or users (as counted when the change is recorded). */
  quantityFrom?: 'locations' | 'users'
  /** `10%`, `12.5%`, an amount in the plan's currency off each term (`5.00`), or `none`. */
  discount?: string
  /** When the discount ends (default: permanent). */
  discountUntil?: Date
  trialUntil?: Date
  /** Allow a plan in another currency than the tenant's payments. */
  forceCurrency?: boolean
}

/** A billing event as the commands show it. */
export interface BillingEventView {
  id: number
  type: BillingEventType
  effectiveAt: string
  recordedAt: string
  /** Effective before it was recorded. */
  backdated: boolean
  actor: string
  reason: string | null
  changes: BillingChanges
  currency: string
  /** The monthly value right after the event at its effective date, as computed when recorded. */
  mrrMinor: number
  mrrDeltaMinor: number
}

/** The subscription as tenant_billing keeps it. */
export interface SubscriptionView {
  status: string
  plan: {id: number; code: string; version: number; name: string; interval: string; intervalMonths: number} | null
  currency: string
  quantity: number
  quantityMode: string
  discount: Discount | null
  discountUntil: string | null
  trialUntil: string | null
  /** The monthly value now, minor units; `mrr` the same as a decimal. */
  mrrMinor: number
  mrr: string
  startedAt: string | null
  cancelledAt: string | null
  nextBillingAt: string | null
  paidThrough: string | null
  /** How many changes made it. */
  version: number
}

export interface SubscriptionChangeResult {
  tenant: {id: number; name: string}
  event: BillingEventView
  subscription: SubscriptionView
}

const MAX_REASON = 1000

function reasonOf(reason: string | undefined, required: boolean): string | null {
  const text = reason?.trim() ?? ''
  if (text === '') {
    if (required) throw new UserError('a billing change needs --reason', {hint: 'say why, e.g. --reason "upgrade agreed with the customer"'})
    return null
  }
  if (text.length > MAX_REASON) throw new UserError(`--reason is ${text.length} characters, over ${MAX_REASON}`, {hint: 'keep it to a sentence or two'})
  return text
}

/** The tenant and its registration date: no change may take effect before it. */
async function tenantSince(db: Db, ref: string): Promise<{tenant: TenantRef; since: Date}> {
  const tenant = await getTenant(db, ref)
  const row = await db('tenant_master').where({id: tenant.id}).first('created_at')
  return {tenant, since: new Date(row ? toMs(row.created_at) : 0)}
}

function effectiveDate(input: SubscriptionChangeInput, since: Date, now: Date): Date {
  const effective = input.effective ?? now
  if (Number.isNaN(effective.getTime())) throw new UserError('--effective is not a date', {hint: 'e.g. --effective 2026-01-01'})
  if (effective.getTime() > latestBillingDate(now.getTime()))
    throw new UserError(`--effective ${isoDay(effective.getTime())} is more than 5 years ahead`, {
      hint: `a billing change may be dated up to ${isoDay(latestBillingDate(now.getTime()))}`,
    })
  if (effective.getTime() < since.getTime())
    throw new UserError(`--effective ${effective.toISOString()} is before the tenant existed (registered ${since.toISOString()})`, {
      hint: 'a subscription cannot take effect before its tenant: give a later date',
    })
  return effective
}

/** `10%` → basis points; `5.00` → minor units of the currency; `none` → no discount. */
export function parseDiscount(text: string, currency: string): Discount | null {
  const input = text.trim()
  if (input.toLowerCase() === 'none' || input === '0' || input === '0%') return null
  const percent = /^(\d{1,3})(?:\.(\d{1,2}))?\s*%$/.exec(input)
  if (percent) {
    const bp = Number(percent[1]) * 100 + Number((percent[2] ?? '').padEnd(2, '0'))
    if (bp > 10_000) throw new UserError(`--discount ${input} is over 100 %`, {hint: 'a percentage from 0% to 100%, at most two decimals'})
    return {percentBp: bp}
  }
  if (/^-?\d+(?:\.\d+)?%$/.test(input) || input.startsWith('-'))
    throw new UserError(`--discount ${input} is not a discount: it cannot be negative nor have more than two decimals of a percent`, {
      hint: 'e.g. --discount 10% or --discount 12.5%',
    })
  return {amountMinor: parseAmount(input, currency, {what: '--discount', maxMinor: MAX_AMOUNT_MINOR})}
}

interface EventDraft {
  type: BillingEventType
  changes: BillingChanges
  planId: number | null
  currency: string
}

const stateAt = (locked: LockedLedger, at: number): Terms => {
  let terms = NO_TERMS
  for (const event of [...locked.events].sort((a, b) => a.effectiveAt - b.effectiveAt || a.id - b.id))
    if (event.effectiveAt <= at) terms = applyEvent(terms, event)
  return terms
}

/**
 * The common path of every subscription change: the tenant locked, the event
 * drafted from the ledger (`draft` checks and may refuse, writing nothing),
 * appended, tenant_billing recomputed, the change audited.
 */
async function changeSubscription(
  ctx: ChangeContext,
  input: SubscriptionChangeInput,
  action: BillingEventType,
  draft: (locked: LockedLedger, effective: Date, tx: Db, tenant: TenantRef) => Promise<EventDraft>,
  options: {reasonRequired: boolean},
): Promise<SubscriptionChangeResult> {
  const now = ctx.now()
  const reason = reasonOf(input.reason, options.reasonRequired)
  const {tenant, since} = await tenantSince(ctx.db, input.tenant)
  const effective = effectiveDate(input, since, now)
  const graceDays = input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  return ctx.db.transaction(async (tx) => {
    const locked = await lockLedger(tx, tenant.id, now)
    const before = {...locked.billing}
    const event = await draft(locked, effective, tx, tenant)
    const at = effective.getTime()
    if (action !== 'set') refuseBefore(locked, action, at)
    const mrrBefore = foldLedger(locked.events, locked.payments, locked.plans, {until: at, graceDays}).mrrMinor
    const provisional = {id: Number.MAX_SAFE_INTEGER, type: event.type, effectiveAt: at, changes: event.changes}
    const mrrAfter = foldLedger([...locked.events, provisional], locked.payments, locked.plans, {until: at, graceDays}).mrrMinor
    const id = await insertReturningId(tx, 'billing_events', {
      tenant_master_id: tenant.id,
      type: event.type,
      plan_id: event.planId,
      mrr_cents: mrrAfter,
      mrr_delta_cents: mrrAfter - mrrBefore,
      effective_at: effective,
      details: null,
      currency: event.currency,
      changes: JSON.stringify(event.changes),
      actor: ctx.audit.actor,
      reason,
      recorded_at: now,
      created_at: now,
    })
    locked.events.push({...provisional, id})
    await saveBillingState(tx, locked, {until: now.getTime(), graceDays, now})
    const after = (await tx('tenant_billing').where({id: locked.billing.id}).first()) as TenantBillingRow
    const backdated = at < now.getTime()
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: `billing.${action}`,
        targetType: 'tenant',
        targetId: tenant.id,
        rdsInstanceId: tenant.rdsInstanceId,
        tenantMasterId: tenant.id,
        oldValues: before.status === 'none' ? null : auditState(before),
        newValues: {
          eventId: id,
          effectiveAt: effective.toISOString(),
          ...(backdated ? {backdated: true} : {}),
          changes: event.changes,
          reason,
          ...auditState(after),
        },
      },
      now,
    )
    const subscription = await subscriptionView(tx, after)
    return {
      tenant: {id: tenant.id, name: tenant.name},
      event: {
        id,
        type: event.type,
        effectiveAt: effective.toISOString(),
        recordedAt: now.toISOString(),
        backdated,
        actor: ctx.audit.actor,
        reason,
        changes: event.changes,
        currency: event.currency,
        mrrMinor: mrrAfter,
        mrrDeltaMinor: mrrAfter - mrrBefore,
      },
      subscription,
    }
  })
}

/**
 * A cancel, pause or resume is placed after every change already recorded: put
 * before a later `billing:set`, that set (which makes the subscription active)
 * would silently undo it. A pause or resume also restarts the billing periods,
 * so it may not come before a payment for a later period, which would then pay
 * no period at all.
 */
function refuseBefore(locked: LockedLedger, action: BillingEventType, at: number): void {
  const later = locked.events.filter((e) => e.effectiveAt > at).sort((a, b) => a.effectiveAt - b.effectiveAt)
  if (later.length > 0)
    throw new UserError(
      `the ${action} would take effect on ${isoDay(at)}, before ${later.length} change(s) already recorded (the first on ${isoDay(later[0].effectiveAt)}), which it would not survive`,
      {hint: `give --effective ${isoDay(later.at(-1)!.effectiveAt)} or later, or see the events with \`raiops billing:show\``},
    )
  if (action === 'pause' || action === 'resume') {
    const paid = locked.payments.filter((p) => p.status === 'succeeded' && p.periodStart !== null && p.periodStart > at)
    if (paid.length > 0)
      throw new UserError(
        `the ${action} on ${isoDay(at)} would restart the billing periods, leaving ${paid.length} payment(s) for periods after it (the first for ${isoDay(paid[0].periodStart as number)}) paying none`,
        {hint: 'give a later --effective, or refund those payments first with `raiops billing:refund`'},
      )
  }
}

/** What the audit trail keeps of tenant_billing. */
function auditState(row: TenantBillingRow): Record<string, unknown> {
  return {
    status: row.status,
    planId: row.plan_id,
    quantity: Number(row.quantity),
    mrrMinor: toMinor(row.mrr_cents),
    currency: row.currency,
    version: Number(row.version),
  }
}

const dateOrNull = (value: unknown): string | null => toIso(value)

/** tenant_billing with its plan, as the commands show it. */
export async function subscriptionView(db: Db, row: TenantBillingRow): Promise<SubscriptionView> {
  const plan = row.plan_id === null ? undefined : await db('subscription_plans').where({id: row.plan_id}).first()
  const percent = row.discount_percent_bp
  const amount = row.discount_amount_minor
  return {
    status: row.status,
    plan: plan
      ? {
          id: Number(plan.id),
          code: plan.code,
          version: Number(plan.version),
          name: plan.name,
          interval: plan.interval,
          intervalMonths: Number(plan.interval_months),
        }
      : null,
    currency: row.currency,
    quantity: Number(row.quantity),
    quantityMode: row.quantity_mode,
    discount: percent !== null ? {percentBp: Number(percent)} : amount !== null ? {amountMinor: toMinor(amount)} : null,
    discountUntil: dateOrNull(row.discount_until),
    trialUntil: dateOrNull(row.trial_until),
    mrrMinor: toMinor(row.mrr_cents),
    mrr: formatMoney(toMinor(row.mrr_cents), row.currency),
    startedAt: dateOrNull(row.started_at),
    cancelledAt: dateOrNull(row.cancelled_at),
    nextBillingAt: dateOrNull(row.next_billing_at),
    paidThrough: dateOrNull(row.paid_through),
    version: Number(row.version),
  }
}

/** The currencies the tenant has paid in. */
async function paymentCurrencies(db: Db, tenantId: number): Promise<string[]> {
  const rows = (await db('payments').where({tenant_master_id: tenantId}).distinct('currency')) as Array<{currency: string}>
  return rows.map((r) => r.currency).sort()
}

/** `billing:set`: puts the tenant on a plan (or changes its quantity, discount or trial) from the effective date. */
export async function setSubscription(ctx: ChangeContext, input: SetSubscriptionInput): Promise<SubscriptionChangeResult> {
  const code = planCode(input.plan)
  if (input.quantity !== undefined && input.quantityFrom !== undefined)
    throw new UserError('give --quantity or --quantity-from, not both', {hint: '--quantity-from locations prices the tenant’s locations as counted now'})
  if (input.quantity !== undefined && (!Number.isSafeInteger(input.quantity) || input.quantity < 0 || input.quantity > 1_000_000))
    throw new UserError(`--quantity must be a whole number from 0 to 1000000, not ${input.quantity}`, {hint: 'the number of units priced, e.g. --quantity 3'})
  if (input.discountUntil !== undefined && input.discount === undefined)
    throw new UserError('--discount-until needs --discount', {hint: 'e.g. --discount 10% --discount-until 2027-01-01'})
  return changeSubscription(
    ctx,
    input,
    'set',
    async (locked, effective, tx, tenant) => {
      const at = effective.getTime()
      const plan = await getPlan(tx, code, input.planVersion === undefined ? {at: effective} : {version: input.planVersion})
      const previous = stateAt(locked, at)
      const previousPlan = previous.planId === null ? undefined : locked.plans.get(previous.planId)
      if (plan.archivedAt !== null && previousPlan?.code !== plan.code)
        throw new UserError(`plan "${plan.code}" is archived: no new subscription may start on it`, {
          hint: 'choose another plan (`raiops plan:list`) or unarchive it',
        })
      const currency = currencyCode(plan.currency)
      if (!input.forceCurrency) {
        const others = (await paymentCurrencies(tx, tenant.id)).filter((c) => c !== currency)
        if (others.length > 0)
          throw new UserError(
            `plan "${plan.code}" is in ${currency} but ${tenant.name} has paid in ${others.join(', ')}: its revenue would be split across currencies`,
            {hint: 'choose a plan in that currency, or give --force-currency to move the tenant to this one'},
          )
      }
      // The quantity: given, counted now, else the previous one, else the plan's unit, else 1.
      let quantityMode = previous.quantityMode
      let quantity = previous.quantity
      const follow =
        input.quantityFrom ??
        (input.quantity === undefined && previous.planId === null && plan.unit !== null ? (plan.unit === 'location' ? 'locations' : 'users') : undefined)
      if (input.quantity !== undefined) {
        quantityMode = 'fixed'
        quantity = input.quantity
      } else if (follow !== undefined) {
        const row = await tx('tenant_master').where({id: tenant.id}).first('cached_location_count', 'cached_user_count')
        quantityMode = follow
        quantity = Number(follow === 'locations' ? row?.cached_location_count : row?.cached_user_count) || 0
      } else if (previous.planId === null) {
        quantity = 1
      }
      const ledgerPlan: LedgerPlan = {
        id: plan.id,
        code: plan.code,
        version: plan.version,
        currency,
        priceMinor: plan.priceMinor,
        unit: plan.unit,
        unitPriceMinor: plan.unitPriceMinor,
        includedUnits: plan.includedUnits,
        intervalMonths: plan.intervalMonths,
      }
      const term = termAmount(ledgerPlan, quantity)
      if (!Number.isSafeInteger(term) || term > MAX_AMOUNT_MINOR)
        throw new UserError(`${quantity} units of plan "${plan.code}" cost more than raiops bills in a term`, {
          hint: `a term costs at most ${formatMoney(MAX_AMOUNT_MINOR, currency)}: give a smaller --quantity`,
        })
      const changes: BillingChanges = {planId: plan.id, quantity, quantityMode, status: 'active'}
      if (input.discount !== undefined) {
        const discount = parseDiscount(input.discount, currency)
        if (discount && 'amountMinor' in discount && discount.amountMinor > term)
          throw new UserError(`--discount ${input.discount} is larger than the price of a term (${formatMoney(term, currency)})`, {
            hint: 'a discount can take at most the whole price: give a smaller amount or a percentage',
          })
        changes.discount = discount
        if (input.discountUntil !== undefined && input.discountUntil.getTime() <= at)
          throw new UserError(`--discount-until ${input.discountUntil.toISOString()} is not after --effective ${effective.toISOString()}`, {
            hint: 'a limited discount ends after it starts',
          })
        changes.discountUntil = discount === null || input.discountUntil === undefined ? null : input.discountUntil.toISOString()
      } else if (previous.discount && 'amountMinor' in previous.discount && discountMinor(previous.discount, term) < previous.discount.amountMinor) {
        throw new UserError(
          `the tenant's discount of ${formatMoney(previous.discount.amountMinor, currency)} is larger than the new price of a term (${formatMoney(term, currency)})`,
          {
            hint: 'give a new --discount (or --discount none) with the change',
          },
        )
      }
      if (input.trialUntil !== undefined) {
        if (input.trialUntil.getTime() <= at)
          throw new UserError(`--trial-until ${input.trialUntil.toISOString()} is not after --effective ${effective.toISOString()}`, {
            hint: 'a trial ends after the subscription starts',
          })
        changes.trialUntil = input.trialUntil.toISOString()
      }
      return {type: 'set', changes, planId: plan.id, currency}
    },
    {reasonRequired: true},
  )
}

/** The subscription at the effective date must be in one of `statuses`; the drafted event sets `status`. */
function statusChange(type: Exclude<BillingEventType, 'set'>, status: 'active' | 'paused' | 'canceled', allowed: readonly Terms['status'][], verb: string) {
  return async (locked: LockedLedger, effective: Date): Promise<EventDraft> => {
    const terms = stateAt(locked, effective.getTime())
    const plan = terms.planId === null ? undefined : locked.plans.get(terms.planId)
    if (!plan || !allowed.includes(terms.status))
      throw new UserError(`the subscription cannot be ${verb}: at ${effective.toISOString()} it is ${plan ? terms.status : 'not subscribed'}`, {
        hint: plan ? 'see `raiops billing:show`' : 'put the tenant on a plan first with `raiops billing:set`',
      })
    return {type, changes: {status}, planId: null, currency: plan.currency}
  }
}

/** `billing:cancel`: the subscription ends at the effective date (churn is the report's to place: at the end of the paid period by default). */
export function cancelSubscription(ctx: ChangeContext, input: SubscriptionChangeInput): Promise<SubscriptionChangeResult> {
  return changeSubscription(ctx, input, 'cancel', statusChange('cancel', 'canceled', ['active', 'paused'], 'canceled'), {reasonRequired: true})
}

/** `billing:pause`: no billing and no MRR from the effective date until resumed. */
export function pauseSubscription(ctx: ChangeContext, input: SubscriptionChangeInput): Promise<SubscriptionChangeResult> {
  return changeSubscription(ctx, input, 'pause', statusChange('pause', 'paused', ['active'], 'paused'), {reasonRequired: false})
}

/** `billing:resume`: a paused subscription is active again, a new billing period starting at the effective date. */
export function resumeSubscription(ctx: ChangeContext, input: SubscriptionChangeInput): Promise<SubscriptionChangeResult> {
  return changeSubscription(ctx, input, 'resume', statusChange('resume', 'active', ['paused'], 'resumed'), {reasonRequired: false})
}
