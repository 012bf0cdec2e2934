import type {InvalidRows} from '../invalid.js'
import type {SyncCounts} from '../runs.js'

export type RoutingMode = 'incremental' | 'full' | 'truncate'

export interface RoutingSyncOptions {
  mode: RoutingMode
  /** Source rows per page (one keyset query each) and per write. Default 5000. */
  batchSize?: number
  /** Each source query's limit, ms. */
  queryTimeoutMs: number
  signal?: AbortSignal
  onProgress?: (progress: {read: number; written: number}) => void
}

/** The options a mode runs with: the batch size resolved. */
export type ModeOptions = RoutingSyncOptions & {batchSize: number}

export interface RoutingCounts extends SyncCounts {
  /** Source rows read. */
  read: number
  /** Rows whose (RDS, tenant) is not in tenant_master: kept, with no tenant link. */
  unlinked: number
  /** Source rows that break the contract (see invalidRows): left out (no email, a bad id) or kept with a fallback (no updated_at). */
  invalid: number
}

export interface RoutingSyncReport {
  kind: 'routing'
  mode: RoutingMode
  status: 'ok' | 'failed'
  master: {id: number; name: string}
  startedAt: string
  finishedAt: string
  durationMs: number
  counts: RoutingCounts
  /** Up to 10 (RDS, tenant) pairs of unlinked rows, to look into. */
  unlinkedTenants: Array<{rdsInstanceId: number; remoteTenantId: number; rows: number}>
  /** The source rows that break the contract, by reason, with a few ids. */
  invalidRows: InvalidRows[]
  watermark: {updatedAt: string; id: number} | null
  error: string | null
}

/** A source row of user_email_routing, checked (the password hash is never read). */
export interface SourceRow {
  id: number
  email: string
  tenantId: number
  rdsInstanceId: number
  userId: number
  status: string | null
  /** ms since the epoch, UTC; null when the source has none. */
  updatedAt: number | null
}

/** A row of the cache as written. */
export interface CacheRow {
  source_id: number
  email: string
  tenant_master_id: number | null
  remote_tenant_id: number
  remote_user_id: number
  rds_instance_id: number
  status: string | null
  source_updated_at: Date | null
  synced_at: Date
}

/** A row of the cache as read back: numbers and times as the driver returns them. */
export interface CachedRow {
  id: unknown
  source_id: unknown
  email: string
  tenant_master_id: unknown
  remote_tenant_id: unknown
  remote_user_id: unknown
  rds_instance_id: unknown
  status: string | null
  source_updated_at: unknown
}

/** A cache row to write: new, or (with `id`) the new content of the cached row with that id. */
export type CacheWrite = CacheRow & {id?: number}

export const CACHE_COLUMNS = [
  'source_id',
  'email',
  'tenant_master_id',
  'remote_tenant_id',
  'remote_user_id',
  'rds_instance_id',
  'status',
  'source_updated_at',
] as const
/** The columns a row sent with LOAD DATA fills. */
export const LOAD_COLUMNS = [...CACHE_COLUMNS, 'synced_at'] as const
export const MERGE_COLUMNS = ['email', 'tenant_master_id', 'remote_tenant_id', 'remote_user_id', 'rds_instance_id', 'status', 'source_updated_at', 'synced_at']

/** Where a rebuild writes before it is swapped in, and where the previous cache goes meanwhile. */
export const STAGING_TABLE = 'user_email_routing_cache_next'
export const RETIRED_TABLE = 'user_email_routing_cache_prev'

export function toCacheRow(row: SourceRow, tenantMasterId: number | null, now: Date): CacheRow {
  return {
    source_id: row.id,
    email: row.email,
    tenant_master_id: tenantMasterId,
    remote_tenant_id: row.tenantId,
    remote_user_id: row.userId,
    rds_instance_id: row.rdsInstanceId,
    status: row.status,
    source_updated_at: row.updatedAt === null ? null : new Date(row.updatedAt),
    synced_at: now,
  }
}
