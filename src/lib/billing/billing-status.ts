import type {Db} from '../db/control-db.js'
import {toIso} from '../db/values.js'
import {addMonths, DEFAULT_BILLING_GRACE_DAYS, scheduledStatus, type StatusSchedule} from './ledger.js'

/**
 * Tenants' subscription status for the health score, read cheaply: one query
 * on tenant_billing (with its plan's interval) for a whole RDS or a list of
 * tenants, no ledger fold. tenant_billing holds the state as of the tenant's
 * last billing change, and with it its `status_schedule` (ledger.ts's
 * `StatusSchedule`): the status each recorded event gives from its effective
 * date (a future-dated cancel or pause included), the end of the first period
 * never paid and the periods paid late. The status at `now` follows from it by
 * date arithmetic with the grace days given (RAIOPS_BILLING_GRACE_DAYS), as
 * `billing:show` would give it. A row written before the schedule existed is
 * brought to `now` from its dates: a trial whose end has passed is active, and
 * an active subscription whose first unpaid period (the one ending at
 * next_billing_at when it is not paid through it, else the next term after
 * paid_through) ended more than the grace days ago is past due.
 */

const DAY_MS = 86_400_000

export interface BillingStatusRow {
  tenantId: number
  remoteTenantId: number
  /** trialing, active, past_due, paused, canceled; null: no subscription. */
  status: string | null
}

export interface StoredBilling {
  status: string
  next_billing_at: unknown
  paid_through: unknown
  trial_until: unknown
  /** The plan's term in months (null: no plan). */
  interval_months: unknown
  /** JSON StatusSchedule; null or absent on a row written before it existed. */
  status_schedule?: string | null
}

const msOf = (value: unknown): number | null => {
  const iso = toIso(value)
  return iso === null ? null : Date.parse(iso)
}

/** The status at `now` from tenant_billing's columns (null: no subscription). */
export function effectiveBillingStatus(row: StoredBilling, now: Date, graceDays = DEFAULT_BILLING_GRACE_DAYS): string | null {
  if (row.status === 'none') return null
  const at = now.getTime()
  if (row.status_schedule) return scheduledStatus(JSON.parse(row.status_schedule) as StatusSchedule, at, graceDays) ?? row.status
  const months = Number(row.interval_months ?? 0)
  let status = row.status
  // The end of the period current at the last change (for a trial: of the first term after it).
  let end = msOf(row.next_billing_at)
  if (status === 'trialing') {
    const trialUntil = msOf(row.trial_until)
    if (trialUntil === null || trialUntil > at) return 'trialing'
    status = 'active'
    end = months > 0 ? addMonths(trialUntil, months) : null
  }
  if (status !== 'active' || end === null || months <= 0) return status
  const paidThrough = msOf(row.paid_through)
  const unpaidEnd = paidThrough === null || paidThrough < end ? end : addMonths(paidThrough, months)
  return unpaidEnd + graceDays * DAY_MS <= at ? 'past_due' : 'active'
}

/** The subscription status of every tenant of an RDS that has one, or of the tenants named (tenant_master ids). */
export async function billingStatuses(
  db: Db,
  where: {rdsId: number} | {tenantIds: readonly number[]},
  now: Date,
  graceDays = DEFAULT_BILLING_GRACE_DAYS,
): Promise<BillingStatusRow[]> {
  if ('tenantIds' in where && where.tenantIds.length === 0) return []
  const query = db('tenant_billing as b')
    .join('tenant_master as t', 't.id', 'b.tenant_master_id')
    .leftJoin('subscription_plans as p', 'p.id', 'b.plan_id')
    .select(
      't.id as tenant_id',
      't.remote_tenant_id',
      'b.status',
      'b.next_billing_at',
      'b.paid_through',
      'b.trial_until',
      'b.status_schedule',
      'p.interval_months',
    )
  if ('rdsId' in where) query.where('t.rds_instance_id', where.rdsId)
  else query.whereIn('t.id', [...where.tenantIds])
  const rows: Array<StoredBilling & {tenant_id: number; remote_tenant_id: number}> = await query
  return rows.map((row) => ({
    tenantId: Number(row.tenant_id),
    remoteTenantId: Number(row.remote_tenant_id),
    status: effectiveBillingStatus(row, now, graceDays),
  }))
}
