import {listAudit, type AuditView} from '../audit/read.js'
import type {OpsContext} from '../context.js'
import {IMPERSONATIONS_TABLE, RDS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import type {HealthStatus, RdsState} from '../db/tables.js'
import {toBool, toIso, toIsoRequired, toMinor, toNumberOrNull} from '../db/values.js'
import type {HealthSignal} from './health-score.js'

/** Recent audit entries and impersonations shown per tenant. */
export const RECENT_SHOWN = 10

/** The tenant's row in tenant_master, with its RDS, as raiops has it cached. */
export interface TenantRegistryView {
  id: number
  remoteTenantId: number
  name: string
  primaryContactName: string | null
  primaryContactEmail: string | null
  status: string | null
  /** Non-ghost users at the last refresh. */
  users: number
  activeUsers: number | null
  ghostUsers: number | null
  locations: number
  lastUserActivityAt: string | null
  refreshedAt: string | null
  /** When a sync (or tenant:show) found it gone upstream; null while it is there. */
  missingAt: string | null
  createdAt: string | null
  rds: {id: number; name: string; engine: string; state: RdsState; active: boolean; master: boolean; health: HealthStatus; healthCheckedAt: string | null}
}

/** The health score as stored with the tenant (null: never scored). */
export interface StoredHealth {
  score: number | null
  signals: HealthSignal[]
}

export interface TenantBillingView {
  status: string
  plan: {id: number; code: string; name: string} | null
  mrrCents: number
  currency: string
  billingEmail: string | null
  startedAt: string | null
  cancelledAt: string | null
  nextBillingAt: string | null
}

/** An impersonation link issued for the tenant (its token is never stored nor shown). */
export interface ImpersonationView {
  id: number
  operator: string
  issuedAt: string
  expiresAt: string
  usedAt: string | null
  reason: string | null
  ticket: string | null
}

/** The tenant_master row and its RDS; the stored health score beside it. */
export async function readRegistry(ctx: Pick<OpsContext, 'db'>, id: number): Promise<{registry: TenantRegistryView; stored: StoredHealth}> {
  const row = (await ctx
    .db(`${TENANT_MASTER_TABLE} as t`)
    .join(`${RDS_TABLE} as r`, 'r.id', 't.rds_instance_id')
    .where('t.id', id)
    .first(
      't.*',
      'r.name as rds_name',
      'r.engine as rds_engine',
      'r.state as rds_state',
      'r.is_active as rds_active',
      'r.is_master as rds_master',
      'r.health_status as rds_health',
      'r.health_checked_at as rds_health_checked_at',
    )) as Record<string, unknown>
  const registry: TenantRegistryView = {
    id: Number(row.id),
    remoteTenantId: Number(row.remote_tenant_id),
    name: String(row.name ?? ''),
    primaryContactName: (row.primary_contact_name as string | null) ?? null,
    primaryContactEmail: (row.primary_contact_email as string | null) ?? null,
    status: (row.status as string | null) ?? null,
    users: Number(row.cached_user_count ?? 0),
    activeUsers: toNumberOrNull(row.active_user_count),
    ghostUsers: toNumberOrNull(row.ghost_user_count),
    locations: Number(row.cached_location_count ?? 0),
    lastUserActivityAt: toIso(row.last_user_activity_at),
    refreshedAt: toIso(row.cache_refreshed_at),
    missingAt: toIso(row.remote_missing_at),
    createdAt: toIso(row.created_at),
    rds: {
      id: Number(row.rds_instance_id),
      name: String(row.rds_name),
      engine: String(row.rds_engine),
      state: row.rds_state as RdsState,
      active: toBool(row.rds_active),
      master: toBool(row.rds_master),
      health: (row.rds_health as HealthStatus | null) ?? 'unknown',
      healthCheckedAt: toIso(row.rds_health_checked_at),
    },
  }
  return {registry, stored: {score: toNumberOrNull(row.health_score), signals: parseSignals(row.health_signals)}}
}

/** Stored signals as a list; what is not a list of signals (hand-edited, truncated) is shown as none. */
export function parseSignals(text: unknown): HealthSignal[] {
  if (typeof text !== 'string') return []
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) ? (value.filter((s) => s && typeof s === 'object' && typeof (s as HealthSignal).name === 'string') as HealthSignal[]) : []
  } catch {
    return []
  }
}

/** The tenant's billing row and plan, or null when it has none. */
export async function readBilling(ctx: Pick<OpsContext, 'db'>, id: number): Promise<TenantBillingView | null> {
  const row = (await ctx
    .db('tenant_billing as b')
    .leftJoin('subscription_plans as p', 'p.id', 'b.plan_id')
    .where('b.tenant_master_id', id)
    .first('b.*', 'p.code as plan_code', 'p.name as plan_name')) as Record<string, unknown> | undefined
  if (!row) return null
  return {
    status: String(row.status),
    plan: row.plan_id === null || row.plan_code === null ? null : {id: Number(row.plan_id), code: String(row.plan_code), name: String(row.plan_name)},
    mrrCents: toMinor(row.mrr_cents),
    currency: String(row.currency),
    billingEmail: (row.billing_email as string | null) ?? null,
    startedAt: toIso(row.started_at),
    cancelledAt: toIso(row.cancelled_at),
    nextBillingAt: toIso(row.next_billing_at),
  }
}

/** The tenant's newest audit entries, as audit:list reads them. */
export function readRecentAudit(ctx: Pick<OpsContext, 'db'>, id: number): Promise<AuditView[]> {
  return listAudit(ctx, {tenantMasterId: id, limit: RECENT_SHOWN})
}

/** The tenant's newest impersonation links, without their ids (jti). */
export async function readImpersonations(ctx: Pick<OpsContext, 'db'>, id: number): Promise<ImpersonationView[]> {
  const rows = await ctx
    .db(IMPERSONATIONS_TABLE)
    .select('id', 'operator', 'issued_at', 'expires_at', 'used_at', 'reason', 'ticket')
    .where('tenant_master_id', id)
    .orderBy('id', 'desc')
    .limit(RECENT_SHOWN)
  return rows.map((r) => ({
    id: Number(r.id),
    operator: r.operator,
    issuedAt: toIsoRequired(r.issued_at),
    expiresAt: toIsoRequired(r.expires_at),
    usedAt: toIso(r.used_at),
    reason: r.reason ?? null,
    ticket: r.ticket ?? null,
  }))
}
