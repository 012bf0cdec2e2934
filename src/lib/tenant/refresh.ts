import type {HealthStatus, TenantMasterRow} from '../db/tables.js'
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

/** The tenant_master columns a refresh writes: the reading, its search text, and its health score at `now`. */
export function tenantRefresh(
  reading: TenantReading,
  rdsHealth: HealthStatus | null,
  now: Date,
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
