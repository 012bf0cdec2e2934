import type {Knex} from 'knex'

import {billingStatuses} from '../billing/billing-status.js'
import {TENANT_MASTER_TABLE, type HealthStatus, type TenantMasterRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {searchText} from '../text/search.js'
import {healthScore} from './health-score.js'

/** A tenant as read from its RDS just now: what a refresh (sync:tenants, tenant:show) knows of it. */
export interface TenantReading {
  name: string
  primaryContactName: string | null
  primaryContactEmail: string | null
  status: string | null
  /** Non-ghost users. */
  users: number
  activeUsers: number
  ghostUsers: number
  locations: number
  lastActivityAt: string | null
}

/**
 * The tenant_master columns a refresh writes: the reading, its search text, and
 * its health score at `now` (with its subscription's status, `billingStatuses`;
 * null: none).
 */
export function tenantRefresh(
  reading: TenantReading,
  rdsHealth: HealthStatus | null,
  now: Date,
  billingStatus: string | null,
): Pick<
  TenantMasterRow,
  | 'name'
  | 'primary_contact_name'
  | 'primary_contact_email'
  | 'status'
  | 'cached_user_count'
  | 'cached_location_count'
  | 'cache_refreshed_at'
  | 'remote_missing_at'
  | 'active_user_count'
  | 'ghost_user_count'
  | 'last_user_activity_at'
  | 'health_score'
  | 'health_signals'
  | 'search_text'
> {
  const health = healthScore(
    {
      status: reading.status,
      users: reading.users,
      activeUsers: reading.activeUsers,
      locations: reading.locations,
      lastActivityAt: reading.lastActivityAt,
      rdsHealth,
      refreshedAt: now.toISOString(),
      billingStatus,
    },
    now,
  )
  return {
    name: reading.name,
    primary_contact_name: reading.primaryContactName,
    primary_contact_email: reading.primaryContactEmail,
    status: reading.status,
    cached_user_count: reading.users,
    cached_location_count: reading.locations,
    cache_refreshed_at: now,
    remote_missing_at: null,
    active_user_count: reading.activeUsers,
    ghost_user_count: reading.ghostUsers,
    last_user_activity_at: reading.lastActivityAt === null ? null : new Date(reading.lastActivityAt),
    health_score: health.score,
    health_signals: JSON.stringify(health.signals),
    search_text: searchText(reading.name, reading.primaryContactName, reading.primaryContactEmail),
  }
}

const RESCORE_COLUMNS = [
  'id',
  'status',
  'cached_user_count',
  'active_user_count',
  'cached_location_count',
  'last_user_activity_at',
  'cache_refreshed_at',
  'health_score',
  'health_signals',
] as const

/**
 * Scores again, from what raiops holds, the tenants of an RDS that could not be
 * read: the cache grows stale and the RDS may be down, and the stored scores
 * say so. Only rows whose score or signals changed are written (none, once a
 * failed run has rescored them and no bucket has changed since).
 */
export async function rescoreUnread(db: Knex, rdsId: number, rdsHealth: HealthStatus | null, now: Date, graceDays?: number): Promise<number> {
  const rows = await db(TENANT_MASTER_TABLE)
    .where({rds_instance_id: rdsId})
    .whereNull('remote_missing_at')
    .select(...RESCORE_COLUMNS)
  const billing = new Map((await billingStatuses(db, {rdsId}, now, graceDays)).map((b) => [b.tenantId, b.status]))
  let changed = 0
  for (const row of rows) {
    const health = healthScore(
      {
        status: row.status ?? null,
        users: row.active_user_count === null ? null : Number(row.cached_user_count),
        activeUsers: row.active_user_count === null ? null : Number(row.active_user_count),
        locations: Number(row.cached_location_count),
        lastActivityAt: toIso(row.last_user_activity_at),
        rdsHealth,
        refreshedAt: toIso(row.cache_refreshed_at),
        billingStatus: billing.get(Number(row.id)) ?? null,
      },
      now,
    )
    const signals = JSON.stringify(health.signals)
    if (row.health_score !== null && Number(row.health_score) === health.score && row.health_signals === signals) continue
    await db(TENANT_MASTER_TABLE).where({id: row.id}).update({health_score: health.score, health_signals: signals})
    changed++
  }
  return changed
}
