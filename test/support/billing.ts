import type {Knex} from 'knex'

import type {BillingChanges} from '../../src/lib/billing/ledger.js'
import {createPlan, type CreatePlanInput} from '../../src/lib/billing/plan-changes.js'
import type {BillingEventType, PaymentStatus} from '../../src/lib/db/tables.js'
import {changeContext} from './context.js'

/**
 * A billing ledger written row by row, in the schema's shape (billing_events
 * with their `changes`, payments with the period they pay), for tests of what
 * reads it: the report, explain, loadTimelines.
 */

export async function addRds(db: Knex, name: string, at: Date): Promise<number> {
  await db('rds_instances').insert({name, engine: 'sqlite', rai_database: `/tmp/rai-${name}.sqlite`, created_at: at, updated_at: at})
  return Number((await db('rds_instances').where({name}).first('id'))!.id)
}

export async function addTenant(db: Knex, tenant: {name: string; rdsId: number; remote: number}, at: Date): Promise<number> {
  await db('tenant_master').insert({
    rds_instance_id: tenant.rdsId,
    remote_tenant_id: tenant.remote,
    name: tenant.name,
    status: 'active',
    search_text: tenant.name.toLowerCase(),
    created_at: at,
    updated_at: at,
  })
  return Number((await db('tenant_master').where({rds_instance_id: tenant.rdsId, remote_tenant_id: tenant.remote}).first('id'))!.id)
}

/** A plan created through the plans service at `at`; its row id (what an event's `planId` names). */
export async function addPlan(db: Knex, input: CreatePlanInput, at: Date): Promise<number> {
  await createPlan(changeContext(db, {now: at}), input)
  return Number((await db('subscription_plans').where({code: input.code}).orderBy('version', 'desc').first('id'))!.id)
}

export interface EventSpec {
  tenantId: number
  type: BillingEventType
  effectiveAt: string
  changes: BillingChanges
  currency?: string
}

export async function addEvent(db: Knex, event: EventSpec): Promise<number> {
  const at = new Date(event.effectiveAt)
  const [row] = await db('billing_events')
    .insert({
      tenant_master_id: event.tenantId,
      type: event.type,
      plan_id: event.changes.planId ?? null,
      mrr_cents: 0,
      mrr_delta_cents: 0,
      effective_at: at,
      currency: event.currency ?? null,
      changes: JSON.stringify(event.changes),
      actor: 'test@localhost',
      recorded_at: at,
      created_at: at,
    })
    .returning('id')
  return Number(typeof row === 'object' ? (row as {id: number}).id : row)
}

export interface PaymentSpec {
  tenantId: number
  amountMinor: number
  currency: string
  /** The day the paid period starts (and the payment is made). */
  periodStart: string
  periodEnd: string
  status?: PaymentStatus
}

export async function addPayment(db: Knex, payment: PaymentSpec): Promise<void> {
  const at = new Date(payment.periodStart)
  await db('payments').insert({
    tenant_master_id: payment.tenantId,
    amount_cents: payment.amountMinor,
    currency: payment.currency,
    paid_at: at,
    method: 'card',
    reference: null,
    status: payment.status ?? 'succeeded',
    period_start: at,
    period_end: new Date(payment.periodEnd),
    recorded_by: 'test@localhost',
    created_at: at,
    updated_at: at,
  })
}

/** Monthly payments of `amountMinor` for the periods starting on the 1st of each month from `first` (YYYY-MM) for `months` months. */
export async function payMonthly(
  db: Knex,
  tenantId: number,
  amountMinor: number | ((month: string) => number),
  currency: string,
  first: string,
  months: number,
): Promise<void> {
  const [year, month] = first.split('-').map(Number)
  for (let k = 0; k < months; k++) {
    const start = new Date(Date.UTC(year, month - 1 + k, 1)).toISOString()
    const end = new Date(Date.UTC(year, month + k, 1)).toISOString()
    const amount = typeof amountMinor === 'number' ? amountMinor : amountMinor(start.slice(0, 7))
    await addPayment(db, {tenantId, amountMinor: amount, currency, periodStart: start, periodEnd: end})
  }
}
