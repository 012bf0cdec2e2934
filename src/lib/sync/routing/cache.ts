import type {Db} from '../../db/control-db.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {CACHE_COLUMNS, type CachedRow, type CacheRow} from './model.js'
import type {IdRange} from './source.js'
import {sourceTime} from './source.js'

/** What is read of a cached row: its id and what a source row is compared with. */
const CACHED_COLUMNS = ['id', ...CACHE_COLUMNS] as const

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

/** Whether a cached row already holds what the source row would write (synced_at aside). */
export function sameRow(cached: CachedRow, next: CacheRow): boolean {
  const cachedTime = cached.source_updated_at === null || cached.source_updated_at === undefined ? null : sourceTime(cached.source_updated_at)
  return (
    cached.email === next.email &&
    numOrNull(cached.tenant_master_id) === next.tenant_master_id &&
    Number(cached.remote_tenant_id) === next.remote_tenant_id &&
    Number(cached.remote_user_id) === next.remote_user_id &&
    Number(cached.rds_instance_id) === next.rds_instance_id &&
    (cached.status ?? null) === next.status &&
    cachedTime === (next.source_updated_at?.getTime() ?? null)
  )
}

/** The cache rows of these source ids, by source id. */
export async function cachedByIds(db: Db, ids: readonly number[]): Promise<Map<number, CachedRow>> {
  const chunks: Array<Promise<CachedRow[]>> = []
  // Two IN lists side by side: the other connections of the pool stay free for the page writes.
  const size = Math.max(500, Math.ceil(ids.length / 2))
  for (let i = 0; i < ids.length; i += size)
    chunks.push(
      db<CachedRow>(ROUTING_CACHE_TABLE)
        .select(...CACHED_COLUMNS)
        .whereIn('source_id', ids.slice(i, i + size))
        .then((rows) => rows),
    )
  const cached = new Map<number, CachedRow>()
  for (const rows of await Promise.all(chunks)) for (const row of rows) cached.set(Number(row.source_id), row)
  return cached
}

/** The cache in source_id order, read in keyset pages, the next page fetched while one is used. */
export class CacheCursor {
  private rows: CachedRow[] = []
  private index = 0
  private next: Promise<CachedRow[]> | null
  private done = false

  constructor(
    private readonly db: Db,
    private readonly batchSize: number,
    private readonly range: IdRange = {after: 0, upTo: null},
  ) {
    this.next = this.fetch(range.after)
  }

  private fetch(after: number): Promise<CachedRow[]> {
    const query = this.db<CachedRow>(ROUTING_CACHE_TABLE)
      .select(...CACHED_COLUMNS)
      .where('source_id', '>', after)
      .orderBy('source_id')
      .limit(this.batchSize)
    if (this.range.upTo !== null) query.where('source_id', '<=', this.range.upTo)
    const page = query.then((rows) => rows)
    page.catch(() => undefined)
    return page
  }

  /** The current row, or null at the end; call `fill()` first when `needsFill`. */
  get current(): CachedRow | null {
    return this.index < this.rows.length ? this.rows[this.index] : null
  }

  get needsFill(): boolean {
    return this.index >= this.rows.length && !this.done
  }

  async fill(): Promise<void> {
    if (!this.needsFill || !this.next) return
    this.rows = await this.next
    this.index = 0
    if (this.rows.length < this.batchSize) {
      this.done = true
      this.next = null
    } else {
      this.next = this.fetch(Number(this.rows[this.rows.length - 1].source_id))
    }
  }

  advance(): void {
    this.index++
  }
}
