import type {Db} from '../../db/control-db.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {InvalidTally, type InvalidRows} from '../invalid.js'
import {ZERO_COUNTS} from '../runs.js'
import {sameRow} from './cache.js'
import type {CachedRow, CacheRow, CacheWrite, RoutingCounts, SourceRow} from './model.js'
import type {Page} from './source.js'

/** Tenant ids of tenant_master by `rdsInstanceId:remoteTenantId`. */
export type TenantLinks = Map<string, number>

/** What is read of tenant_master to link routing rows to their tenant. */
interface TenantLinkRow {
  id: unknown
  rds_instance_id: unknown
  remote_tenant_id: unknown
}

export async function loadTenantLinks(db: Db): Promise<TenantLinks> {
  const rows = await db<TenantLinkRow>('tenant_master').select('id', 'rds_instance_id', 'remote_tenant_id')
  return new Map(rows.map((r) => [`${Number(r.rds_instance_id)}:${Number(r.remote_tenant_id)}`, Number(r.id)]))
}

/** The cache's columns an unlinked row is grouped by. */
interface UnlinkedGroupRow {
  rds_instance_id: unknown
  remote_tenant_id: unknown
  tenant_master_id: unknown
}

/** A run's counts, its unlinked tenants and its invalid rows, as they are met. */
export class Tally {
  readonly counts: RoutingCounts = {...ZERO_COUNTS, read: 0, unlinked: 0, invalid: 0}
  private readonly unlinked = new Map<string, {rdsInstanceId: number; remoteTenantId: number; rows: number}>()
  private readonly invalid = new InvalidTally()

  /** Counts a page read from the source: its rows, and those left out. */
  page(page: Page): void {
    this.counts.read += page.raw
    for (const row of page.rejected) this.invalidRows(row.reason, false, row.id)
  }

  invalidRows(reason: string, kept: boolean, id: number | null, rows = 1, ids?: readonly number[]): void {
    this.invalid.add(reason, kept, id, rows, ids)
    this.counts.invalid = this.invalid.total
  }

  get invalidGroups(): InvalidRows[] {
    return this.invalid.list
  }

  link(links: TenantLinks, row: SourceRow): number | null {
    const key = `${row.rdsInstanceId}:${row.tenantId}`
    const id = links.get(key)
    if (id !== undefined) return id
    this.counts.unlinked++
    const entry = this.unlinked.get(key)
    if (entry) entry.rows++
    else if (this.unlinked.size < 10) this.unlinked.set(key, {rdsInstanceId: row.rdsInstanceId, remoteTenantId: row.tenantId, rows: 1})
    return null
  }

  /**
   * Counts a source row against its cached row: new, changed or unchanged. Returns
   * the write it needs (an update names the cached row's id), or null.
   */
  write(old: CachedRow | null | undefined, next: CacheRow): CacheWrite | null {
    if (!old) {
      this.counts.inserted++
      return next
    }
    if (sameRow(old, next)) {
      this.counts.unchanged++
      return null
    }
    this.counts.updated++
    return {...next, id: Number(old.id)}
  }

  /** Unlinked rows counted elsewhere (by a server's checksum query). */
  addUnlinked(rows: number): void {
    this.counts.unlinked += rows
  }

  /** Fills the examples of unlinked rows from the cache itself. */
  async sampleUnlinked(db: Db): Promise<void> {
    const groups = await db<UnlinkedGroupRow>(ROUTING_CACHE_TABLE)
      .select('rds_instance_id', 'remote_tenant_id')
      .count({n: '*'})
      .whereNull('tenant_master_id')
      .groupBy('rds_instance_id', 'remote_tenant_id')
      .limit(10)
    for (const g of groups) {
      const key = `${Number(g.rds_instance_id)}:${Number(g.remote_tenant_id)}`
      if (!this.unlinked.has(key) && this.unlinked.size < 10)
        this.unlinked.set(key, {rdsInstanceId: Number(g.rds_instance_id), remoteTenantId: Number(g.remote_tenant_id), rows: Number(g.n)})
    }
  }

  get unlinkedTenants() {
    return [...this.unlinked.values()]
  }
}
