import type {Knex} from 'knex'

import type {Db} from '../db/control-db.js'
import type {BillingEventRow, PaymentRow, SubscriptionPlanRow} from '../db/tables.js'
import {toIsoRequired, toMinor} from '../db/values.js'
import {DEFAULT_BILLING_GRACE_DAYS, foldLedger, type BillingChanges, type LedgerEvent, type LedgerPayment, type LedgerPlan} from './ledger.js'
import type {SubscriptionState, TenantTimeline} from './mrr/types.js'
import {PLANS_TABLE} from './plan-model.js'

/**
 * The billing ledger as the MRR engine reads it: every tenant's events folded
 * into subscription states, with the payments laid over them (past due after
 * an unpaid period's end and the grace days, active again once paid). Reads
 * the events with one query and the payments with one, streamed, so memory
 * holds the states and not the rows.
 */

export {DEFAULT_BILLING_GRACE_DAYS}

/** A timestamp as epoch ms, from any engine (a Date, SQLite's number, or text). */
export const toMs = (value: unknown): number => (value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(toIsoRequired(value)))

export interface LoadTimelinesOptions {
  /** Only these tenants (tenant_master ids); default every tenant with a billing event. */
  tenantIds?: readonly number[]
  /** What is known at this instant: later events, payments and overdue periods are left out (default now). */
  until?: Date
  /** Days after an unpaid period's end before the subscription is past due (RAIOPS_BILLING_GRACE_DAYS, default 7). */
  graceDays?: number
}

/** A plan row as the ledger prices it. */
export function ledgerPlan(row: SubscriptionPlanRow): LedgerPlan {
  return {
    id: Number(row.id),
    code: row.code,
    version: Number(row.version),
    currency: row.currency,
    priceMinor: toMinor(row.price_cents),
    unit: row.unit,
    unitPriceMinor: row.unit_price_minor === null ? null : toMinor(row.unit_price_minor),
    includedUnits: Number(row.included_units),
    intervalMonths: Number(row.interval_months),
  }
}

export async function loadLedgerPlans(db: Db): Promise<Map<number, LedgerPlan>> {
  const rows: SubscriptionPlanRow[] = await db(PLANS_TABLE).select('*')
  return new Map(rows.map((row) => [Number(row.id), ledgerPlan(row)]))
}

export function ledgerEvent(row: Pick<BillingEventRow, 'id' | 'type' | 'effective_at' | 'changes'>): LedgerEvent {
  return {id: Number(row.id), type: row.type, effectiveAt: toMs(row.effective_at), changes: row.changes ? (JSON.parse(row.changes) as BillingChanges) : {}}
}

export function ledgerPayment(row: Pick<PaymentRow, 'id' | 'amount_cents' | 'currency' | 'paid_at' | 'status' | 'period_start' | 'refund_of'>): LedgerPayment {
  return {
    id: Number(row.id),
    amountMinor: toMinor(row.amount_cents),
    currency: row.currency,
    paidAt: toMs(row.paid_at),
    status: row.status,
    periodStart: row.period_start === null ? null : toMs(row.period_start),
    refundOf: row.refund_of === null ? null : Number(row.refund_of),
  }
}

/** Rows per batch of the ledger's reads. */
const BATCH = 20_000

/**
 * Reads a table's rows in id order, in batches of BATCH (keyset: `id > last`),
 * into `each`: one query, paged, on every engine (PostgreSQL's streaming would
 * need pg-query-stream), memory holding one batch at a time.
 */
async function readBatched<Row extends {id: number | string}>(query: () => Knex.QueryBuilder, each: (row: Row) => void): Promise<void> {
  let after = 0
  for (;;) {
    const rows = (await query().where('id', '>', after).orderBy('id').limit(BATCH)) as Row[]
    for (const row of rows) each(row)
    if (rows.length < BATCH) return
    after = Number(rows[rows.length - 1].id)
  }
}

/**
 * Splits one tenant's states by the currency of their plan: a tenant moved to
 * a plan in another currency ends one timeline (canceled at the move) and
 * starts another, as the engine takes one currency per timeline.
 */
function byCurrency(states: readonly SubscriptionState[], currencyOf: (state: SubscriptionState) => string): Map<string, SubscriptionState[]> {
  const result = new Map<string, SubscriptionState[]>()
  let previous: SubscriptionState | null = null
  for (const state of states) {
    const currency = currencyOf(state)
    if (previous && currencyOf(previous) !== currency && previous.status !== 'canceled')
      result.get(currencyOf(previous))?.push({...previous, at: state.at, status: 'canceled', eventId: state.eventId})
    result.set(currency, [...(result.get(currency) ?? []), state])
    previous = state
  }
  return result
}

/** The ledger as read: plans, each tenant's events and payments (tenants with events only), their names and RDS. */
export interface LedgerData {
  plans: Map<number, LedgerPlan>
  events: Map<number, LedgerEvent[]>
  payments: Map<number, LedgerPayment[]>
  /** Tenants with events, by id. */
  ids: number[]
  tenants: Map<number, {name: string; rdsId: number}>
  /** The currency of a state's plan version. */
  currencyOf: (state: SubscriptionState) => string
}

/** Reads the ledger up to `until`: one query per table, paged (see readBatched). */
export async function loadLedgerData(db: Db, options: {until: number; tenantIds?: readonly number[]}): Promise<LedgerData> {
  const {until} = options
  const restrict = (query: Knex.QueryBuilder): Knex.QueryBuilder =>
    options.tenantIds === undefined ? query : query.whereIn('tenant_master_id', [...options.tenantIds])
  const plans = await loadLedgerPlans(db)
  const events = new Map<number, LedgerEvent[]>()
  await readBatched(
    () => restrict(db('billing_events').select('id', 'tenant_master_id', 'type', 'effective_at', 'changes').where('effective_at', '<=', new Date(until))),
    (row: Pick<BillingEventRow, 'id' | 'tenant_master_id' | 'type' | 'effective_at' | 'changes'>) => {
      const tenant = Number(row.tenant_master_id)
      let list = events.get(tenant)
      if (!list) events.set(tenant, (list = []))
      list.push(ledgerEvent(row))
    },
  )
  const payments = new Map<number, LedgerPayment[]>()
  await readBatched(
    () =>
      restrict(
        db('payments')
          .select('id', 'tenant_master_id', 'amount_cents', 'currency', 'paid_at', 'status', 'period_start', 'refund_of')
          .where('paid_at', '<=', new Date(until)),
      ),
    (row: Pick<PaymentRow, 'id' | 'tenant_master_id' | 'amount_cents' | 'currency' | 'paid_at' | 'status' | 'period_start' | 'refund_of'>) => {
      const tenant = Number(row.tenant_master_id)
      if (!events.has(tenant)) return
      let list = payments.get(tenant)
      if (!list) payments.set(tenant, (list = []))
      list.push(ledgerPayment(row))
    },
  )
  const ids = [...events.keys()].sort((a, b) => a - b)
  const tenants = new Map<number, {name: string; rdsId: number}>()
  for (let i = 0; i < ids.length; i += 1000)
    for (const row of await db('tenant_master')
      .whereIn('id', ids.slice(i, i + 1000))
      .select('id', 'name', 'rds_instance_id'))
      tenants.set(Number(row.id), {name: row.name, rdsId: Number(row.rds_instance_id)})
  const currencyByPlan = new Map([...plans.values()].map((p) => [`${p.code}@${p.version}`, p.currency]))
  return {plans, events, payments, ids, tenants, currencyOf: (state) => currencyByPlan.get(`${state.planCode}@${state.planVersion}`) ?? ''}
}

/** One tenant's folded states as the engine's timelines: one per currency of its plans. */
export function tenantTimelines(data: LedgerData, id: number, states: readonly SubscriptionState[]): TenantTimeline[] {
  const tenant = data.tenants.get(id)
  return [...byCurrency(states, data.currencyOf)].map(([currency, list]) => ({
    tenantId: id,
    tenantName: tenant?.name ?? `#${id}`,
    rdsId: tenant?.rdsId ?? null,
    currency,
    states: list,
  }))
}

/** The MRR engine's input: one timeline per tenant (per currency, for a tenant that changed currency), tenants by id. */
export async function loadTimelines(db: Db, options: LoadTimelinesOptions = {}): Promise<TenantTimeline[]> {
  const until = (options.until ?? new Date()).getTime()
  const graceDays = options.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  if (options.tenantIds?.length === 0) return []
  const data = await loadLedgerData(db, {until, tenantIds: options.tenantIds})
  const timelines: TenantTimeline[] = []
  for (const id of data.ids) {
    const ledger = foldLedger(data.events.get(id) ?? [], data.payments.get(id) ?? [], data.plans, {until, graceDays, withMrr: false})
    if (ledger.states.length > 0) timelines.push(...tenantTimelines(data, id, ledger.states))
  }
  return timelines
}
