import type {Db} from '../db/control-db.js'
import type {BillingEventRow, PaymentRow, TenantBillingRow} from '../db/tables.js'
import {foldLedger, statusSchedule, type FoldOptions, type LedgerEvent, type LedgerPayment, type LedgerPlan, type TenantLedger} from './ledger.js'
import {ledgerEvent, ledgerPayment, loadLedgerPlans} from './timelines.js'

/**
 * The ledger of one tenant as the writers read and rewrite it, inside their
 * transaction: the tenant locked, its events and payments read, and
 * tenant_billing recomputed from them after a change.
 */

const isSqlite = (db: Db): boolean => db.client.config.client === 'better-sqlite3'

export interface LockedLedger {
  /** The tenant_billing row (a placeholder with status `none` when the tenant had none: replaced by `saveBillingState`). */
  billing: TenantBillingRow
  events: LedgerEvent[]
  payments: LedgerPayment[]
  plans: Map<number, LedgerPlan>
}

/**
 * Locks the tenant's subscription for a change: its tenant_master row (which
 * always exists, so two first subscriptions of a tenant cannot race into the
 * same gap), then its tenant_billing row, created if missing (SELECT … FOR
 * UPDATE on MariaDB and PostgreSQL; SQLite's write lock, taken at BEGIN, holds
 * every writer off already). Then reads the ledger, which no other writer can
 * change until the transaction ends.
 */
export async function lockLedger(tx: Db, tenantId: number, now: Date): Promise<LockedLedger> {
  const lock = <Q extends {forUpdate(): Q}>(query: Q): Q => (isSqlite(tx) ? query : query.forUpdate())
  await lock(tx('tenant_master').where({id: tenantId}).select('id'))
  let billing = (await lock(tx('tenant_billing').where({tenant_master_id: tenantId}).select('*')))[0] as TenantBillingRow | undefined
  if (!billing) {
    await tx('tenant_billing').insert({tenant_master_id: tenantId, status: 'none', mrr_cents: 0, currency: 'USD', created_at: now, updated_at: now})
    billing = (await lock(tx('tenant_billing').where({tenant_master_id: tenantId}).select('*')))[0] as TenantBillingRow
  }
  const eventRows: BillingEventRow[] = await tx('billing_events').where({tenant_master_id: tenantId}).orderBy(['effective_at', 'id']).select('*')
  const paymentRows: PaymentRow[] = await tx('payments').where({tenant_master_id: tenantId}).orderBy(['paid_at', 'id']).select('*')
  return {billing, events: eventRows.map(ledgerEvent), payments: paymentRows.map(ledgerPayment), plans: await loadLedgerPlans(tx)}
}

/** tenant_billing as the ledger says it is at `now`; its version counts one more change. */
export async function saveBillingState(tx: Db, locked: LockedLedger, options: FoldOptions & {now: Date}): Promise<TenantLedger> {
  const ledger = foldLedger(locked.events, locked.payments, locked.plans, options)
  const {terms, plan} = ledger
  const sorted = [...locked.events].sort((a, b) => a.effectiveAt - b.effectiveAt || a.id - b.id)
  const lastEvent = [...locked.events].sort((a, b) => a.id - b.id).pop()
  const canceledAt = terms.status === 'canceled' ? [...sorted].reverse().find((e) => e.changes.status === 'canceled') : undefined
  const discount = terms.discount
  await tx('tenant_billing')
    .where({id: locked.billing.id})
    .update({
      plan_id: terms.planId,
      status: ledger.status ?? 'canceled',
      mrr_cents: ledger.mrrMinor,
      currency: plan?.currency ?? locked.billing.currency,
      quantity: terms.quantity,
      quantity_mode: terms.quantityMode,
      discount_percent_bp: discount && 'percentBp' in discount ? discount.percentBp : null,
      discount_amount_minor: discount && 'amountMinor' in discount ? discount.amountMinor : null,
      discount_until: terms.discountUntil === null ? null : new Date(terms.discountUntil),
      trial_until: terms.trialUntil === null ? null : new Date(terms.trialUntil),
      started_at: sorted[0] ? new Date(sorted[0].effectiveAt) : null,
      cancelled_at: canceledAt ? new Date(canceledAt.effectiveAt) : null,
      next_billing_at: ledger.nextBillingAt === null ? null : new Date(ledger.nextBillingAt),
      paid_through: ledger.paidThrough === null ? null : new Date(ledger.paidThrough),
      last_event_id: lastEvent?.id ?? null,
      status_schedule: JSON.stringify(statusSchedule(locked.events, locked.payments, locked.plans, options.now.getTime())),
      version: Number(locked.billing.version) + 1,
      updated_at: options.now,
    })
  return ledger
}
