import type {Db} from '../db/control-db.js'
import {toIso} from '../db/values.js'
import {DEFAULT_BILLING_GRACE_DAYS} from './timelines.js'

/**
 * Tenants' subscription status for the health score, read cheaply: one query
 * on tenant_billing for a whole RDS (or a list of tenants), no ledger fold.
 * tenant_billing is written by every billing change, so its status is the one
 * of the last change; an `active` subscription whose current period (ending at
 * next_billing_at) is unpaid (paid_through before it) and whose grace days have
 * passed since is `past_due` now, as the ledger would say.
 */

const DAY_MS = 86_400_000

export interface BillingStatusRow {
  tenantId: number
  remoteTenantId: number
  /** trialing, active, past_due, paused, canceled; null: no subscription. */
  status: string | null
}

/** The status at `now` from tenant_billing's columns. */
export function effectiveBillingStatus(
  row: {status: string; next_billing_at: unknown; paid_through: unknown},
  now: Date,
  graceDays = DEFAULT_BILLING_GRACE_DAYS,
): string | null {
  if (row.status === 'none') return null
  if (row.status !== 'active') return row.status
  const next = toIso(row.next_billing_at)
  if (next === null) return 'active'
  const paid = toIso(row.paid_through)
  const unpaid = paid === null || Date.parse(paid) < Date.parse(next)
  return unpaid && Date.parse(next) + graceDays * DAY_MS <= now.getTime() ? 'past_due' : 'active'
}

/** The subscription status of every tenant of an RDS that has one (by tenant_master id), or of the tenants named. */
export async function billingStatuses(
  db: Db,
  where: {rdsId: number} | {tenantIds: readonly number[]},
  now: Date,
  graceDays = DEFAULT_BILLING_GRACE_DAYS,
): Promise<BillingStatusRow[]> {
  if ('tenantIds' in where && where.tenantIds.length === 0) return []
  const query = db('tenant_billing as b')
    .join('tenant_master as t', 't.id', 'b.tenant_master_id')
    .select('t.id as tenant_id', 't.remote_tenant_id', 'b.status', 'b.next_billing_at', 'b.paid_through')
  if ('rdsId' in where) query.where('t.rds_instance_id', where.rdsId)
  else query.whereIn('t.id', [...where.tenantIds])
  const rows: Array<{tenant_id: number; remote_tenant_id: number; status: string; next_billing_at: unknown; paid_through: unknown}> = await query
  return rows.map((row) => ({
    tenantId: Number(row.tenant_id),
    remoteTenantId: Number(row.remote_tenant_id),
    status: effectiveBillingStatus(row, now, graceDays),
  }))
}
