import type {Knex} from 'knex'

import type {Db} from '../db/control-db.js'
import {mysqlEachRow} from '../db/stream-rows.js'
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

/** Rows per batch of the ledger's reads where they are not streamed. */
const BATCH = 20_000

/**
 * Reads a query's rows into `each`. On MySQL/MariaDB one query whose rows
 * are taken as the driver decodes them (see mysqlEachRow: memory holds one at
 * a time and none of them outlives its turn); elsewhere in id order, in
 * batches of BATCH (keyset: `id > last`), as PostgreSQL's streaming would
 * need pg-query-stream and SQLite's driver reads synchronously anyway.
 */
async function readRows<Row extends {id: number | string}>(db: Db, query: () => Knex.QueryBuilder, each: (row: Row) => void): Promise<void> {
  if (db.client.config.client === 'mysql2' && !db.isTransaction) return mysqlEachRow(db, query(), each)
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
    const list = result.get(currency)
    if (list === undefined) result.set(currency, [state])
    else list.push(state)
    previous = state
  }
  return result
}

/** The ledger as read: plans, each tenant's events and payments (tenants with events only), their names and RDS. */
export interface LedgerData {
  plans: Map<number, LedgerPlan>
  /** Tenants with events, by id. */
  ids: number[]
  tenants: Map<number, {name: string; rdsId: number}>
  /** One tenant's events, in the order read (made on each call: the ledger keeps them as columns). */
  eventsOf(tenantId: number): LedgerEvent[]
  /** One tenant's payments, in the order read (made on each call). */
  paymentsOf(tenantId: number): LedgerPayment[]
  /** The currency of a state's plan version. */
  currencyOf: (state: SubscriptionState) => string
}

/** A string column's distinct values (a payment's currency and status, an event's type): rows keep their index. */
class Interned {
  readonly values: string[] = []
  private readonly index = new Map<string, number>()
  private last: string | null = null
  private lastIndex = -1
  of(value: string): number {
    // Most rows repeat the row before's value (one currency, one status): no lookup then.
    if (value === this.last) return this.lastIndex
    this.last = value
    let i = this.index.get(value)
    if (i === undefined) this.index.set(value, (i = this.values.push(value) - 1))
    this.lastIndex = i
    return i
  }
}

/**
 * Rows kept as columns of numbers rather than as objects: a quarter of a
 * million payments held as objects until the fold would keep the garbage
 * collector busy for the whole report. A null number is NaN. Each row
 * belongs to a tenant; once read, `group` orders the rows by tenant (stable:
 * in the order they were read).
 */
class Columns {
  size = 0
  private capacity = 16_384
  readonly columns: Float64Array[]
  readonly texts: Array<string | null> = []
  /** Each row's tenant as a dense index (its place in `tenantIds`). */
  private tenantOf = new Int32Array(this.capacity)
  private readonly denseIndex = new Map<number, number>()
  readonly tenantIds: number[] = []
  /** Row numbers grouped by tenant, and each dense tenant's first row in it. */
  private order = new Int32Array(0)
  private first = new Int32Array(0)
  constructor(width: number) {
    this.columns = Array.from({length: width}, () => new Float64Array(this.capacity))
  }

  /** A new row of `tenantId`: its number, whose columns the caller fills. */
  add(tenantId: number, text: string | null = null): number {
    if (this.size === this.capacity) {
      this.capacity *= 2
      const grow = <T extends Float64Array | Int32Array>(old: T, made: T): T => {
        made.set(old)
        return made
      }
      for (let c = 0; c < this.columns.length; c++) this.columns[c] = grow(this.columns[c], new Float64Array(this.capacity))
      this.tenantOf = grow(this.tenantOf, new Int32Array(this.capacity))
    }
    let dense = this.denseIndex.get(tenantId)
    if (dense === undefined) this.denseIndex.set(tenantId, (dense = this.tenantIds.push(tenantId) - 1))
    this.tenantOf[this.size] = dense
    this.texts.push(text)
    return this.size++
  }

  /** Groups the rows by tenant: a counting sort, stable. */
  group(): void {
    const first = new Int32Array(this.tenantIds.length + 1)
    for (let r = 0; r < this.size; r++) first[this.tenantOf[r] + 1]++
    for (let t = 1; t < first.length; t++) first[t] += first[t - 1]
    const next = first.slice(0, -1)
    this.order = new Int32Array(this.size)
    for (let r = 0; r < this.size; r++) this.order[next[this.tenantOf[r]]++] = r
    this.first = first
  }

  /** The row numbers of one tenant, in the order read. */
  rowsOf(tenantId: number): Int32Array {
    const dense = this.denseIndex.get(tenantId)
    return dense === undefined ? new Int32Array(0) : this.order.subarray(this.first[dense], this.first[dense + 1])
  }
}

const orNaN = (value: unknown): number => (value === null || value === undefined ? Number.NaN : Number(value))
const orNull = (value: number): number | null => (Number.isNaN(value) ? null : value)

/** Reads the ledger up to `until`: one query per table (see readRows), kept as columns. */
export async function loadLedgerData(db: Db, options: {until: number; tenantIds?: readonly number[]}): Promise<LedgerData> {
  const {until} = options
  const restrict = (query: Knex.QueryBuilder): Knex.QueryBuilder =>
    options.tenantIds === undefined ? query : query.whereIn('tenant_master_id', [...options.tenantIds])
  const plans = await loadLedgerPlans(db)
  // On MySQL/MariaDB the server gives each instant as epoch ms (a DATETIME is UTC here, and TIMESTAMPDIFF
  // from the epoch ignores the session's time zone): the driver then makes no Date of it, a third of its work.
  const streamed = db.client.config.client === 'mysql2' && !db.isTransaction
  const instant = (column: string) => (streamed ? db.raw("TIMESTAMPDIFF(MICROSECOND, '1970-01-01', ??) DIV 1000 AS ??", [column, column]) : column)
  // Events: id, type, effective_at; the changes as their JSON text, parsed when folded.
  const eventTypes = new Interned()
  const events = new Columns(3)
  await readRows(
    db,
    () =>
      restrict(db('billing_events').select('id', 'tenant_master_id', 'type', instant('effective_at'), 'changes').where('effective_at', '<=', new Date(until))),
    (row: Pick<BillingEventRow, 'id' | 'tenant_master_id' | 'type' | 'effective_at' | 'changes'>) => {
      const r = events.add(Number(row.tenant_master_id), row.changes)
      const [id, type, effectiveAt] = events.columns
      id[r] = Number(row.id)
      type[r] = eventTypes.of(row.type)
      effectiveAt[r] = toMs(row.effective_at)
    },
  )
  events.group()
  const withEvents = new Set(events.tenantIds)
  // Payments: id, amount, paid_at, period_start, refund_of, currency, status.
  const currencies = new Interned()
  const statuses = new Interned()
  const payments = new Columns(7)
  await readRows(
    db,
    () =>
      restrict(
        db('payments')
          .select('id', 'tenant_master_id', 'amount_cents', 'currency', instant('paid_at'), 'status', instant('period_start'), 'refund_of')
          .where('paid_at', '<=', new Date(until)),
      ),
    (row: Pick<PaymentRow, 'id' | 'tenant_master_id' | 'amount_cents' | 'currency' | 'paid_at' | 'status' | 'period_start' | 'refund_of'>) => {
      const tenant = Number(row.tenant_master_id)
      if (!withEvents.has(tenant)) return
      const r = payments.add(tenant)
      const [paymentId, amount, paidAt, periodStart, refundOf, currency, status] = payments.columns
      paymentId[r] = Number(row.id)
      amount[r] = Number(row.amount_cents)
      paidAt[r] = toMs(row.paid_at)
      periodStart[r] = row.period_start === null ? Number.NaN : toMs(row.period_start)
      refundOf[r] = orNaN(row.refund_of)
      currency[r] = currencies.of(row.currency)
      status[r] = statuses.of(row.status)
    },
  )
  payments.group()
  const ids = [...withEvents].sort((a, b) => a - b)
  const tenants = new Map<number, {name: string; rdsId: number}>()
  for (let i = 0; i < ids.length; i += 1000)
    for (const row of await db('tenant_master')
      .whereIn('id', ids.slice(i, i + 1000))
      .select('id', 'name', 'rds_instance_id'))
      tenants.set(Number(row.id), {name: row.name, rdsId: Number(row.rds_instance_id)})
  const currencyByPlan = new Map([...plans.values()].map((p) => [`${p.code}@${p.version}`, p.currency]))
  const [eventId, eventType, effectiveAt] = events.columns
  // Many events carry the same changes ({"discount":null}, a plan id): each text is parsed once, the object shared (the fold only reads it).
  const parsedChanges = new Map<string, BillingChanges>()
  const changesOf = (text: string | null): BillingChanges => {
    if (!text) return {}
    let changes = parsedChanges.get(text)
    if (changes === undefined) parsedChanges.set(text, (changes = JSON.parse(text) as BillingChanges))
    return changes
  }
  const [paymentId, amount, paidAt, periodStart, refundOf, currency, status] = payments.columns
  return {
    plans,
    ids,
    tenants,
    eventsOf: (tenantId) => {
      const rows = events.rowsOf(tenantId)
      const list: LedgerEvent[] = Array.from({length: rows.length})
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k]
        list[k] = {
          id: eventId[r],
          type: eventTypes.values[eventType[r]] as LedgerEvent['type'],
          effectiveAt: effectiveAt[r],
          changes: changesOf(events.texts[r]),
        }
      }
      return list
    },
    paymentsOf: (tenantId) => {
      const rows = payments.rowsOf(tenantId)
      const list: LedgerPayment[] = Array.from({length: rows.length})
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k]
        list[k] = {
          id: paymentId[r],
          amountMinor: amount[r],
          currency: currencies.values[currency[r]],
          paidAt: paidAt[r],
          status: statuses.values[status[r]] as LedgerPayment['status'],
          periodStart: orNull(periodStart[r]),
          refundOf: orNull(refundOf[r]),
        }
      }
      return list
    },
    currencyOf: (state) => currencyByPlan.get(`${state.planCode}@${state.planVersion}`) ?? '',
  }
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

/**
 * The MRR engine's input, one timeline at a time (per currency, for a tenant
 * that changed currency), tenants by id: each tenant is folded when its turn
 * comes and its timelines handed to `each`, so nothing of the fold outlives
 * it unless `each` keeps it.
 */
export async function eachTimeline(db: Db, options: LoadTimelinesOptions, each: (timeline: TenantTimeline) => void): Promise<void> {
  const until = (options.until ?? new Date()).getTime()
  const graceDays = options.graceDays ?? DEFAULT_BILLING_GRACE_DAYS
  if (options.tenantIds?.length === 0) return
  const data = await loadLedgerData(db, {until, tenantIds: options.tenantIds})
  for (const id of data.ids) {
    const ledger = foldLedger(data.eventsOf(id), data.paymentsOf(id), data.plans, {until, graceDays, withMrr: false})
    if (ledger.states.length > 0) for (const timeline of tenantTimelines(data, id, ledger.states)) each(timeline)
  }
}

/** The MRR engine's input, every timeline at once (see eachTimeline). */
export async function loadTimelines(db: Db, options: LoadTimelinesOptions = {}): Promise<TenantTimeline[]> {
  const timelines: TenantTimeline[] = []
  await eachTimeline(db, options, (timeline) => timelines.push(timeline))
  return timelines
}
