import {ROUTING_CACHE_TABLE} from '../db/tables.js'
import {once} from 'node:events'
import {PassThrough} from 'node:stream'
import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {toBool, toIso} from '../db/values.js'
import {describeDriverError} from '../db/driver-errors.js'
import {UserError} from '../errors/index.js'
import {findMaster} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import {finishRun, startRun, ZERO_COUNTS, type SyncCounts} from './runs.js'
import {InvalidTally, isId, type InvalidRows} from './invalid.js'
import {retryOnDeadlock} from '../db/retry.js'
import {isSqlite, rebuildThroughStaging} from './sqlite-staging.js'

const STAGING_TABLE = 'user_email_routing_cache_next'
const RETIRED_TABLE = 'user_email_routing_cache_prev'
const WATERMARK = 'routing.watermark'
/** Rows changed this long before the watermark are read again, so a row whose transaction committed late is not missed. */
export const WATERMARK_OVERLAP_MS = 5 * 60_000

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
interface SourceRow {
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
interface CacheRow {
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

const SOURCE_COLUMNS = ['id', 'email', 'tenant_id', 'rds_instance_id', 'user_id', 'status', 'updated_at'] as const

/** Laravel writes naive UTC timestamps: a Date (knex with timezone Z) or 'YYYY-MM-DD HH:MM:SS'. */
function sourceTime(value: unknown): number | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime()
  const iso = toIso(value)
  const ms = iso === null ? Number.NaN : Date.parse(iso)
  return Number.isNaN(ms) ? null : ms
}

/** A source row left out, and why. */
interface RejectedRow {
  reason: string
  /** Null when the id itself is the problem. */
  id: number | null
}

const REJECTED = {
  id: 'id is not a positive integer: left out',
  email: 'email is NULL or empty: left out',
  link: 'tenant_id, rds_instance_id or user_id is not a positive integer: left out',
} as const

/** Rows without updated_at: incremental runs read by it, so they see none of them. */
const NULL_UPDATED_AT = {
  incremental: 'updated_at is NULL: incremental runs never read it (--full and --truncate copy it)',
  copied: 'updated_at is NULL: copied without a source time; incremental runs never see its changes (--full does)',
} as const

/**
 * Checks one fleet row by hand: this is the hot path (a million rows), where a
 * schema library per row would cost more than the copy. A row without a usable
 * id, email or link is invalid (left out and counted), never half-written.
 */
function parseSourceRow(row: Record<string, unknown>): SourceRow | RejectedRow {
  const {id, email, tenant_id: tenantId, rds_instance_id: rdsId, user_id: userId, status, updated_at: updatedAt} = row
  if (!isId(id)) return {reason: REJECTED.id, id: null}
  if (typeof email !== 'string' || email === '') return {reason: REJECTED.email, id: Number(id)}
  if (!isId(tenantId) || !isId(rdsId) || !isId(userId)) return {reason: REJECTED.link, id: Number(id)}
  return {
    id: Number(id),
    // Lower-cased only: quotes, spaces and the rest round-trip as they are.
    email: email.toLowerCase(),
    tenantId: Number(tenantId),
    rdsInstanceId: Number(rdsId),
    userId: Number(userId),
    status: status === null || status === undefined ? null : String(status),
    updatedAt: sourceTime(updatedAt),
  }
}

type TenantLinks = Map<string, number>

async function loadTenantLinks(db: Db): Promise<TenantLinks> {
  const rows = (await db('tenant_master').select('id', 'rds_instance_id', 'remote_tenant_id')) as Array<{id: unknown; rds_instance_id: unknown; remote_tenant_id: unknown}>
  return new Map(rows.map((r) => [`${Number(r.rds_instance_id)}:${Number(r.remote_tenant_id)}`, Number(r.id)]))
}

class Tally {
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
    const groups = (await db(ROUTING_CACHE_TABLE)
      .select('rds_instance_id', 'remote_tenant_id')
      .count({n: '*'})
      .whereNull('tenant_master_id')
      .groupBy('rds_instance_id', 'remote_tenant_id')
      .limit(10)) as Array<{rds_instance_id: unknown; remote_tenant_id: unknown; n: unknown}>
    for (const g of groups) {
      const key = `${Number(g.rds_instance_id)}:${Number(g.remote_tenant_id)}`
      if (!this.unlinked.has(key) && this.unlinked.size < 10) this.unlinked.set(key, {rdsInstanceId: Number(g.rds_instance_id), remoteTenantId: Number(g.remote_tenant_id), rows: Number(g.n)})
    }
  }

  get unlinkedTenants() {
    return [...this.unlinked.values()]
  }
}

function toCacheRow(row: SourceRow, tenantMasterId: number | null, now: Date): CacheRow {
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

interface CachedRow {
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

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

function sameRow(cached: CachedRow, next: CacheRow): boolean {
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

/** A cache row to write: new, or (with `id`) the new content of the cached row with that id. */
type CacheWrite = CacheRow & {id?: number}

const CACHE_COLUMNS = ['source_id', 'email', 'tenant_master_id', 'remote_tenant_id', 'remote_user_id', 'rds_instance_id', 'status', 'source_updated_at'] as const
const MERGE_COLUMNS = ['email', 'tenant_master_id', 'remote_tenant_id', 'remote_user_id', 'rds_instance_id', 'status', 'source_updated_at', 'synced_at']

/** Rows per INSERT: SQLite caps a compound SELECT at 500 terms, PostgreSQL a statement at 65,535 parameters. */
function insertChunk(db: Db): number {
  const client = db.client.config.client
  return client === 'better-sqlite3' ? 500 : client === 'pg' ? 5000 : 5000
}

const PAGE_TABLE = 'raiops_routing_page'

/** Compared byte for byte: BINARY keeps case and trailing spaces significant, <=> matches NULL with NULL. */
const SAME_ROW = [
  'BINARY c.`email` <=> BINARY p.`email`',
  'c.`tenant_master_id` <=> p.`tenant_master_id`',
  'c.`remote_tenant_id` <=> p.`remote_tenant_id`',
  'c.`remote_user_id` <=> p.`remote_user_id`',
  'c.`rds_instance_id` <=> p.`rds_instance_id`',
  'BINARY c.`status` <=> BINARY p.`status`',
  'c.`source_updated_at` <=> p.`source_updated_at`',
].join(' AND ')

/**
 * A page of source rows applied on MySQL/MariaDB with local infile: loaded into a
 * temporary table of the transaction's connection, then the server compares it
 * with the cache itself: one UPDATE … JOIN writes the rows that differ, one
 * INSERT … SELECT the new ones. Nothing of the cache is read back.
 */
async function applyByLoad(tx: Db, rows: CacheRow[], signal: AbortSignal | undefined): Promise<{inserted: number; updated: number}> {
  if (rows.length === 0) return {inserted: 0, updated: 0}
  const columns = LOAD_COLUMNS.map((c) => `\`${c}\``)
  await tx.raw(`CREATE TEMPORARY TABLE ?? ENGINE=MEMORY SELECT ${columns.join(', ')} FROM ?? WHERE 1 = 0`, [PAGE_TABLE, ROUTING_CACHE_TABLE])
  try {
    const stored = await loadData(tx, PAGE_TABLE, LOAD_COLUMNS, only(rows), signal)
    if (stored !== rows.length) throw new Error(`LOAD DATA stored ${stored} of ${rows.length} rows`)
    const set = MERGE_COLUMNS.map((c) => `c.\`${c}\` = p.\`${c}\``).join(', ')
    const [updated] = (await tx.raw(`UPDATE ?? c JOIN ?? p ON p.source_id = c.source_id SET ${set} WHERE NOT (${SAME_ROW})`, [ROUTING_CACHE_TABLE, PAGE_TABLE])) as unknown as [{affectedRows: number}]
    const [inserted] = (await tx.raw(
      `INSERT INTO ?? (${columns.join(', ')}) SELECT ${columns.map((c) => `p.${c}`).join(', ')} FROM ?? p WHERE NOT EXISTS (SELECT 1 FROM ?? c WHERE c.source_id = p.source_id)`,
      [ROUTING_CACHE_TABLE, PAGE_TABLE, ROUTING_CACHE_TABLE],
    )) as unknown as [{affectedRows: number}]
    return {inserted: Number(inserted.affectedRows), updated: Number(updated.affectedRows)}
  } finally {
    await tx.raw('DROP TEMPORARY TABLE IF EXISTS ??', [PAGE_TABLE])
  }
}

/**
 * Writes new and changed rows. With `load` (MySQL/MariaDB taking local infile)
 * they go through the same LOAD DATA path as an incremental page. Elsewhere a
 * changed row is upserted on the cache's primary key, which the engine finds at
 * once (keyed on source_id, MySQL would first insert, meet the unique index and
 * undo the insert before updating), and a new one on source_id. `table`: the
 * cache, or the staging table of a rebuild on SQLite.
 */
async function upsert(db: Db, rows: CacheWrite[], options: {load: boolean; signal?: AbortSignal; table?: string}): Promise<void> {
  if (options.load) {
    await applyByLoad(db, rows, options.signal)
    return
  }
  const table = options.table ?? ROUTING_CACHE_TABLE
  const chunk = insertChunk(db)
  const updates = rows.filter((row) => row.id !== undefined)
  const inserts = rows.filter((row) => row.id === undefined)
  for (let i = 0; i < updates.length; i += chunk) {
    await db(table).insert(updates.slice(i, i + chunk)).onConflict('id').merge(MERGE_COLUMNS)
  }
  for (let i = 0; i < inserts.length; i += chunk) {
    await db(table).insert(inserts.slice(i, i + chunk)).onConflict('source_id').merge(MERGE_COLUMNS)
  }
}

async function insertAll(db: Db, table: string, rows: CacheRow[]): Promise<void> {
  const chunk = insertChunk(db)
  for (let i = 0; i < rows.length; i += chunk) await db(table).insert(rows.slice(i, i + chunk))
}

async function deleteSourceIds(db: Db, table: string, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) await db(table).whereIn('source_id', ids.slice(i, i + 500)).delete()
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('stopped')
}

interface Page {
  rows: SourceRow[]
  /** The rows left out, and why. */
  rejected: RejectedRow[]
  raw: number
  /** The keyset position after this page. */
  last: {updatedAt: number | null; id: number} | null
}

/**
 * The source read page by page with keyset queries (each short, each with a
 * timeout; the next page is fetched while the current one is written), so
 * memory stays flat and no statement runs long enough to hit a server cap.
 * `byUpdated`: ordered by (updated_at, id) from a watermark (incremental);
 * otherwise by id (full, truncate).
 */
async function* sourcePages(
  source: Knex,
  options: {byUpdated?: {from: number}; ids?: IdRange; batchSize: number; firstBatchSize?: number; timeoutMs: number; signal?: AbortSignal},
): AsyncGenerator<Page> {
  // A SQLite source holds updated_at as Laravel writes it, 'YYYY-MM-DD HH:MM:SS' text in UTC: a Date
  // (bound as a number) would compare below every text value, so each page would start over.
  const sqliteSource = isSqlite(source)
  const time = (ms: number): Date | string => (sqliteSource ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : new Date(ms))
  const fetchPage = async (after: Page['last'], limit: number): Promise<Page & {limit: number}> => {
    const query = source('user_email_routing').select(...SOURCE_COLUMNS).limit(limit).timeout(options.timeoutMs)
    if (options.byUpdated) {
      const from = time(options.byUpdated.from)
      if (after === null) query.where('updated_at', '>=', from)
      else {
        const at = time(after.updatedAt ?? options.byUpdated.from)
        query.where((q) => q.where('updated_at', '>', at).orWhere((q2) => q2.where('updated_at', '=', at).andWhere('id', '>', after.id)))
      }
      query.orderBy([{column: 'updated_at'}, {column: 'id'}])
    } else {
      const from = Math.max(after?.id ?? 0, options.ids?.after ?? 0)
      if (from > 0 || after !== null) query.where('id', '>', from)
      if (options.ids?.upTo !== undefined && options.ids.upTo !== null) query.where('id', '<=', options.ids.upTo)
      query.orderBy('id')
    }
    const raw = (await query) as Array<Record<string, unknown>>
    const rows: SourceRow[] = []
    const rejected: RejectedRow[] = []
    for (const r of raw) {
      const parsed = parseSourceRow(r)
      if ('reason' in parsed) rejected.push(parsed)
      else rows.push(parsed)
    }
    const tail = raw.at(-1)
    return {rows, rejected, raw: raw.length, last: tail ? {id: Number(tail.id), updatedAt: sourceTime(tail.updated_at)} : after, limit}
  }
  let next = fetchPage(null, options.firstBatchSize ?? options.batchSize)
  for (;;) {
    // A turn of the event loop per page: with SQLite on both sides every query runs synchronously, and
    // without it Ctrl-C (a signal handler, run between turns) would wait for the whole sync.
    await new Promise((resolve) => setImmediate(resolve))
    throwIfAborted(options.signal)
    const page = await next
    const more = page.raw === page.limit
    if (more) {
      next = fetchPage(page.last, options.batchSize)
      // A page fetched ahead that is never awaited (the run stopped) must not surface as unhandled.
      next.catch(() => undefined)
    }
    yield page
    if (!more) return
  }
}

interface Watermark {
  updatedAt: number
  id: number
}

async function readWatermark(db: Db): Promise<Watermark | null> {
  const row = (await db('sync_state').where({name: WATERMARK}).first()) as {value: string | null} | undefined
  if (!row?.value) return null
  try {
    const value = JSON.parse(row.value) as {updatedAt?: string; id?: number}
    const ms = value.updatedAt ? Date.parse(value.updatedAt) : Number.NaN
    return Number.isNaN(ms) || typeof value.id !== 'number' ? null : {updatedAt: ms, id: value.id}
  } catch {
    return null
  }
}

async function writeWatermark(db: Db, mark: Watermark, now: Date): Promise<void> {
  const value = JSON.stringify({updatedAt: new Date(mark.updatedAt).toISOString(), id: mark.id})
  await db('sync_state').insert({name: WATERMARK, value, updated_at: now}).onConflict('name').merge(['value', 'updated_at'])
}

const later = (a: Watermark | null, b: Watermark): Watermark => (a === null || b.updatedAt > a.updatedAt || (b.updatedAt === a.updatedAt && b.id > a.id) ? b : a)

/** What is read of a cached row: its id and what a source row is compared with. */
const CACHED_COLUMNS = ['id', ...CACHE_COLUMNS] as const

/** The cache rows of these source ids, by source id. */
async function cachedByIds(db: Db, ids: readonly number[]): Promise<Map<number, CachedRow>> {
  const chunks: Array<Promise<CachedRow[]>> = []
  // Two IN lists side by side: the other connections of the pool stay free for the page writes.
  const size = Math.max(500, Math.ceil(ids.length / 2))
  for (let i = 0; i < ids.length; i += size) chunks.push(db(ROUTING_CACHE_TABLE).select(...CACHED_COLUMNS).whereIn('source_id', ids.slice(i, i + size)) as unknown as Promise<CachedRow[]>)
  const cached = new Map<number, CachedRow>()
  for (const rows of await Promise.all(chunks)) for (const row of rows) cached.set(Number(row.source_id), row)
  return cached
}

/** Whether reads may run beside an open write transaction: SQLite has one connection, held by it. */
const readsBesideTransactions = (db: Db): boolean => !isSqlite(db)

/** Pages of an incremental run written side by side, each in its own transaction (one connection each). */
const INCREMENTAL_WRITERS = 2

/**
 * Incremental: rows changed since the watermark (less an overlap), page by page.
 * Each page is written in a transaction of its own, two pages side by side, and
 * the watermark follows in page order: it advances past a page only once that
 * page and every page before it committed, so a stopped run resumes where it
 * stopped (at worst reading a committed page again, which it finds unchanged).
 * Deleted source rows are left to --full. While pages are written, the next
 * page's cache rows are read and the one after is fetched from the source.
 */
async function syncIncremental(ctx: OpsContext, source: Knex, options: RoutingSyncOptions & {batchSize: number}, tally: Tally): Promise<Watermark | null> {
  const linksLoaded = loadTenantLinks(ctx.db)
  const loadChecked = loadsLocalInfile(ctx.db)
  linksLoaded.catch(() => undefined)
  loadChecked.catch(() => undefined)
  const watermark = await readWatermark(ctx.db)
  let mark = watermark
  const from = mark === null ? 0 : mark.updatedAt - WATERMARK_OVERLAP_MS
  // A short first page: its writes begin while the next pages are read.
  const pages = sourcePages(source, {byUpdated: {from}, batchSize: options.batchSize, firstBatchSize: Math.min(options.batchSize, 1000), timeoutMs: options.queryTimeoutMs, signal: options.signal})[Symbol.asyncIterator]()
  const besides = readsBesideTransactions(ctx.db)
  const writers = besides ? INCREMENTAL_WRITERS : 1
  /** Page commits not yet awaited, oldest first. */
  const writing: Array<Promise<void>> = []
  /** Every page's watermark, written in page order once the page and those before it committed. */
  let advanced: Promise<void> = Promise.resolve()
  let written = 0
  try {
    const first = pages.next()
    const [links, load] = await Promise.all([linksLoaded, loadChecked])
    // MySQL/MariaDB taking local infile compares each page with the cache itself; elsewhere the page's cache rows are read and compared here.
    const lookup = (page: Page): Promise<Map<number, CachedRow>> | null => {
      if (load) return null
      const looked = cachedByIds(ctx.db, page.rows.map((r) => r.id))
      looked.catch(() => undefined)
      return looked
    }
    let current = await first
    let currentCached: Promise<Map<number, CachedRow> | null> | null = current.done ? null : lookup(current.value)
    while (!current.done) {
      const page = current.value
      tally.page(page)
      const now = ctx.now()
      let pageMark = mark
      for (const row of page.rows) if (row.updatedAt !== null) pageMark = later(pageMark, {updatedAt: row.updatedAt, id: row.id})
      const rows = page.rows.map((row) => toCacheRow(row, tally.link(links, row), now))
      let committed: Promise<number>
      if (load) {
        throwIfAborted(options.signal)
        while (writing.length >= writers) await writing.shift()
        committed = retryOnDeadlock(() => ctx.db.transaction((tx) => applyByLoad(tx, rows, options.signal))).then((applied) => {
          tally.counts.inserted += applied.inserted
          tally.counts.updated += applied.updated
          tally.counts.unchanged += rows.length - applied.inserted - applied.updated
          return applied.inserted + applied.updated
        })
      } else {
        const cached = (await currentCached) as Map<number, CachedRow>
        const writes: CacheWrite[] = []
        for (const [i, row] of rows.entries()) {
          const write = tally.write(cached.get(page.rows[i].id), row)
          if (write) writes.push(write)
        }
        throwIfAborted(options.signal)
        while (writing.length >= writers) await writing.shift()
        committed = writes.length === 0 ? Promise.resolve(0) : retryOnDeadlock(() => ctx.db.transaction((tx) => upsert(tx, writes, {load, signal: options.signal}))).then(() => writes.length)
      }
      committed.catch(() => undefined)
      writing.push(
        committed.then((count) => {
          written += count
          options.onProgress?.({read: tally.counts.read, written})
        }),
      )
      const through = pageMark
      advanced = Promise.all([advanced, committed]).then(() => (through && through !== watermark ? writeWatermark(ctx.db, through, now) : undefined))
      advanced.catch(() => undefined)
      mark = pageMark
      // The next page was fetched while this one was compared; its cache rows are read while this one is written.
      current = await pages.next()
      if (!current.done) {
        const next = current.value
        currentCached = besides ? lookup(next) : committed.then(() => lookup(next))
        currentCached?.catch(() => undefined)
      }
    }
    await Promise.all(writing)
    await advanced
  } finally {
    // Stopped or failed: the pages in flight commit or roll back before the run reports.
    await Promise.allSettled([...writing, advanced])
  }
  return mark
}

/** The cache in source_id order, read in keyset pages, the next page fetched while one is used. */
class CacheCursor {
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
    const query = this.db(ROUTING_CACHE_TABLE).select(...CACHED_COLUMNS).where('source_id', '>', after).orderBy('source_id').limit(this.batchSize)
    if (this.range.upTo !== null) query.where('source_id', '<=', this.range.upTo)
    const page = query as unknown as Promise<CachedRow[]>
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

/** Source ids after `after`, up to `upTo` inclusive (null: no end). */
interface IdRange {
  after: number
  upTo: number | null
}

/** Ids per checksum bucket of the --full fast path. */
const CHECKSUM_BUCKET = 10_000

/**
 * The row as both servers render it for a checksum: the cache's columns and the
 * source's, normalised alike (email lower-cased, times as DATETIME(3)).
 */
function checksumExpression(columns: {id: string; email: string; tenant: string; rds: string; user: string; status: string; updated: string; unlinked: string}): string {
  const row = `CONCAT_WS('|', ${columns.id}, ${columns.email}, ${columns.tenant}, ${columns.rds}, ${columns.user}, IFNULL(${columns.status}, '\\0'), IFNULL(CAST(${columns.updated} AS DATETIME(3)), '\\0'))`
  return `COUNT(*) AS n, SUM(CRC32(${row})) AS s1, SUM(${columns.unlinked}) AS u`
}

/** Per bucket: its checksum (row count and the sum of the rows' CRC32), and on the cache side its rows without a tenant link. */
type Buckets = Map<number, {sum: string; rows: number; unlinked: number}>

async function bucketsOf(db: Db | Knex, sql: string, timeoutMs?: number): Promise<Buckets> {
  const query = db.raw(sql)
  const result = (await (timeoutMs ? query.timeout(timeoutMs) : query)) as unknown as [Array<{b: unknown; n: unknown; s1: unknown; u: unknown}>]
  return new Map(result[0].map((r) => [Number(r.b), {sum: `${String(r.n)}:${String(r.s1)}`, rows: Number(r.n), unlinked: Number(r.u ?? 0)}]))
}

/**
 * The --full fast path when the master and the control database are both
 * MySQL/MariaDB: each server checksums its rows per bucket of ids (side by side),
 * and only the buckets that differ are compared row by row. Returns those buckets
 * as id ranges, the rows in the buckets that match (unchanged), and the source's
 * newest (updated_at, id); null when the engines do not allow it.
 */
async function dirtyRanges(ctx: OpsContext, source: Knex, timeoutMs: number): Promise<{ranges: IdRange[]; unchanged: number; unlinked: number; mark: Watermark | null} | null> {
  if (ctx.db.client.config.client !== 'mysql2' || source.client.config.client !== 'mysql2') return null
  const bucket = (column: string) => `FLOOR(${column} / ${CHECKSUM_BUCKET})`
  const sourceSql = `SELECT ${bucket('id')} AS b, ${checksumExpression({id: 'id', email: 'LOWER(email)', tenant: 'tenant_id', rds: 'rds_instance_id', user: 'user_id', status: 'status', updated: 'updated_at', unlinked: '0'})} FROM user_email_routing GROUP BY b`
  const cacheSql = `SELECT ${bucket('c.source_id')} AS b, ${checksumExpression({id: 'c.source_id', email: 'c.email', tenant: 'c.remote_tenant_id', rds: 'c.rds_instance_id', user: 'c.remote_user_id', status: 'c.status', updated: 'c.source_updated_at', unlinked: 'c.tenant_master_id IS NULL'})} FROM ${ROUTING_CACHE_TABLE} c GROUP BY b`
  // A link only changes from none to a tenant (tenant_master ids are stable and its
  // rows never deleted by a sync): the buckets of unlinked rows whose tenant is known now.
  const linkableSql = `SELECT DISTINCT ${bucket('c.source_id')} AS b FROM ${ROUTING_CACHE_TABLE} c JOIN tenant_master t ON t.rds_instance_id = c.rds_instance_id AND t.remote_tenant_id = c.remote_tenant_id WHERE c.tenant_master_id IS NULL`
  const [upstream, cached, linkable, newest] = await Promise.all([
    bucketsOf(source, sourceSql, timeoutMs),
    bucketsOf(ctx.db, cacheSql),
    ctx.db.raw(linkableSql).then((result: unknown) => new Set((result as [Array<{b: unknown}>])[0].map((r) => Number(r.b)))),
    source('user_email_routing').select('id', 'updated_at').whereNotNull('updated_at').orderBy([{column: 'updated_at', order: 'desc'}, {column: 'id', order: 'desc'}]).first().timeout(timeoutMs) as Promise<Record<string, unknown> | undefined>,
  ])
  const ranges: IdRange[] = []
  let unchanged = 0
  let unlinked = 0
  for (const b of new Set([...upstream.keys(), ...cached.keys()])) {
    const mine = upstream.get(b)
    const theirs = cached.get(b)
    if (mine !== undefined && theirs !== undefined && mine.sum === theirs.sum && !linkable.has(b)) {
      unchanged += mine.rows
      unlinked += theirs.unlinked
    } else ranges.push({after: b * CHECKSUM_BUCKET - 1, upTo: (b + 1) * CHECKSUM_BUCKET - 1})
  }
  ranges.sort((a, b) => a.after - b.after)
  const updatedAt = newest ? sourceTime(newest.updated_at) : null
  return {ranges, unchanged, unlinked, mark: newest && updatedAt !== null ? {updatedAt, id: Number(newest.id)} : null}
}

/**
 * Full: every source row compared with the cache in one merge of two ordered
 * streams (the source by id, the cache by source id, both read ahead in keyset
 * pages, side by side), and only what differs written: new and changed rows
 * upserted, rows gone upstream deleted. When both are MySQL/MariaDB, per-bucket
 * checksums computed by the servers first narrow the merge to the buckets that
 * differ. One transaction (on SQLite, short ones into a copy of the cache
 * swapped in at the end), so readers see the previous cache until it commits
 * and a failure leaves it intact.
 */
async function syncFull(ctx: OpsContext, source: Knex, options: RoutingSyncOptions & {batchSize: number}, tally: Tally): Promise<Watermark | null> {
  const [links, load, fast] = await Promise.all([loadTenantLinks(ctx.db), loadsLocalInfile(ctx.db), dirtyRanges(ctx, source, options.queryTimeoutMs)])
  let mark: Watermark | null = fast?.mark ?? null
  if (fast) {
    // The rows of matching buckets: read (by their server), unchanged, and their links as they are.
    tally.counts.unchanged += fast.unchanged
    tally.counts.read += fast.unchanged
    tally.addUnlinked(fast.unlinked)
    if (fast.unlinked > 0) await tally.sampleUnlinked(ctx.db)
  }
  const ranges = fast?.ranges ?? [{after: 0, upTo: null}]
  /** The merge, its writes made through `write` into `table`. */
  const merge = async (write: (work: (tx: Db) => Promise<void>) => Promise<void>, table: string): Promise<void> => {
    const gone: number[] = []
    const flushGone = async () => {
      if (gone.length === 0) return
      tally.counts.missing += gone.length
      const ids = gone.splice(0)
      await write((tx) => deleteSourceIds(tx, table, ids))
    }
    for (const range of ranges) {
      // The cache is read beside the writes (the lease keeps other writers out).
      const cache = new CacheCursor(ctx.db, options.batchSize, range)
      const pages = sourcePages(source, {ids: range, batchSize: options.batchSize, timeoutMs: options.queryTimeoutMs, signal: options.signal})
      for await (const page of pages) {
        tally.page(page)
        const now = ctx.now()
        const writes: CacheWrite[] = []
        for (const row of page.rows) {
          if (cache.needsFill) await cache.fill()
          // Cache rows before this source id are gone upstream (or invalid there now).
          while (cache.current && Number(cache.current.source_id) < row.id) {
            gone.push(Number(cache.current.source_id))
            cache.advance()
            if (cache.needsFill) await cache.fill()
          }
          const old = cache.current && Number(cache.current.source_id) === row.id ? cache.current : null
          if (old) cache.advance()
          if (row.updatedAt !== null && !fast) mark = later(mark, {updatedAt: row.updatedAt, id: row.id})
          const write = tally.write(old, toCacheRow(row, tally.link(links, row), now))
          if (write) writes.push(write)
        }
        throwIfAborted(options.signal)
        if (writes.length > 0) await write((tx) => upsert(tx, writes, {load, signal: options.signal, table}))
        if (gone.length >= 500) await flushGone()
        options.onProgress?.({read: tally.counts.read, written: tally.counts.inserted + tally.counts.updated + tally.counts.missing})
      }
      // What is left of the cache in the range is past the last source row.
      for (;;) {
        if (cache.needsFill) await cache.fill()
        if (!cache.current) break
        gone.push(Number(cache.current.source_id))
        cache.advance()
        if (gone.length >= 500) await flushGone()
      }
    }
    await flushGone()
  }
  if (isSqlite(ctx.db)) {
    // One writer for the whole file: the differences go into a copy of the cache, batch by batch, swapped in at the end.
    await rebuildThroughStaging(ctx.db, {
      table: ROUTING_CACHE_TABLE,
      staging: STAGING_TABLE,
      copy: true,
      signal: options.signal,
      fill: (rebuild) => merge(rebuild.write, rebuild.staging),
      atSwap: async (tx) => {
        if (mark) await writeWatermark(tx, mark, ctx.now())
      },
    })
  } else {
    await ctx.db.transaction(async (tx) => {
      await merge((work) => work(tx), ROUTING_CACHE_TABLE)
      if (mark) await writeWatermark(tx, mark, ctx.now())
      throwIfAborted(options.signal)
    })
  }
  return mark
}

/** Source rows per page of --truncate. */
const TRUNCATE_PAGE = 2000

/**
 * Truncate: the cache rebuilt from scratch. On MySQL/MariaDB into a staging table
 * (streamed with LOAD DATA LOCAL INFILE where the server allows it, else batched
 * INSERTs), then swapped in with one atomic RENAME TABLE; on SQLite into a
 * staging table too, a page per short transaction, so other commands can write
 * meanwhile (see sqlite-staging.ts); on PostgreSQL emptied and refilled in one
 * transaction. Readers see the previous cache until the swap or commit; a
 * failure leaves it intact.
 */
async function syncTruncate(ctx: OpsContext, source: Knex, options: RoutingSyncOptions & {batchSize: number}, tally: Tally): Promise<Watermark | null> {
  // The rows the cache holds now (to count those gone), counted while the new rows are read.
  const counting = (ctx.db(ROUTING_CACHE_TABLE).count({n: '*'}) as unknown as Promise<Array<{n: unknown}>>).then((rows) => Number(rows[0].n))
  counting.catch(() => undefined)
  const links = await loadTenantLinks(ctx.db)
  let before = 0
  let mark: Watermark | null = null
  // Pages smaller than the other modes': the rows stream straight to the server, and fewer alive at once keep the heap small.
  const pages = sourcePages(source, {batchSize: Math.min(options.batchSize, TRUNCATE_PAGE), timeoutMs: options.queryTimeoutMs, signal: options.signal})
  const rowsOf = async function* (): AsyncGenerator<CacheRow[]> {
    for await (const page of pages) {
      tally.page(page)
      const now = ctx.now()
      for (const row of page.rows) if (row.updatedAt !== null) mark = later(mark, {updatedAt: row.updatedAt, id: row.id})
      yield page.rows.map((row) => toCacheRow(row, tally.link(links, row), now))
      tally.counts.inserted += page.rows.length
      options.onProgress?.({read: tally.counts.read, written: tally.counts.inserted})
    }
  }

  if (ctx.db.client.config.client === 'mysql2') {
    await ctx.db.raw('DROP TABLE IF EXISTS ??', [STAGING_TABLE])
    await ctx.db.raw('CREATE TABLE ?? LIKE ??', [STAGING_TABLE, ROUTING_CACHE_TABLE])
    try {
      await fillStaging(ctx.db, rowsOf(), options.signal, () => tally.counts.inserted)
      throwIfAborted(options.signal)
      // Fresh index statistics before readers get it: without them the planner may
      // scan the whole table for every lookup until InnoDB refreshes them itself.
      await ctx.db.raw('ANALYZE TABLE ??', [STAGING_TABLE])
      before = await counting
      await ctx.db.raw('DROP TABLE IF EXISTS ??', [RETIRED_TABLE])
      await ctx.db.raw('RENAME TABLE ?? TO ??, ?? TO ??', [ROUTING_CACHE_TABLE, RETIRED_TABLE, STAGING_TABLE, ROUTING_CACHE_TABLE])
      await ctx.db.raw('DROP TABLE IF EXISTS ??', [RETIRED_TABLE])
      if (mark) await writeWatermark(ctx.db, mark, ctx.now())
    } catch (error) {
      await ctx.db.raw('DROP TABLE IF EXISTS ??', [STAGING_TABLE]).catch(() => undefined)
      throw error
    }
  } else if (isSqlite(ctx.db)) {
    // One writer for the whole file: a page per short transaction into a staging table, swapped in at the end.
    await rebuildThroughStaging(ctx.db, {
      table: ROUTING_CACHE_TABLE,
      staging: STAGING_TABLE,
      copy: false,
      signal: options.signal,
      fill: async (rebuild) => {
        for await (const rows of rowsOf()) {
          throwIfAborted(options.signal)
          if (rows.length > 0) await rebuild.write((tx) => insertAll(tx, rebuild.staging, rows))
        }
        before = await counting
      },
      atSwap: async (tx) => {
        if (mark) await writeWatermark(tx, mark, ctx.now())
      },
    })
  } else {
    before = await counting
    await ctx.db.transaction(async (tx) => {
      await tx(ROUTING_CACHE_TABLE).delete()
      for await (const rows of rowsOf()) {
        throwIfAborted(options.signal)
        await insertAll(tx, ROUTING_CACHE_TABLE, rows)
      }
      if (mark) await writeWatermark(tx, mark, ctx.now())
      throwIfAborted(options.signal)
    })
  }
  tally.counts.missing = Math.max(0, before - tally.counts.inserted)
  return mark
}

/** mysql2's connection (callback API) as far as LOAD DATA needs it: its query() and its socket. */
interface Mysql2Connection {
  stream?: NodeJS.EventEmitter & {writableLength?: number; destroyed?: boolean}
  query(options: {sql: string; values?: unknown[]; infileStreamFactory?: () => NodeJS.ReadableStream}, callback: (error: (Error & {errno?: number}) | null, rows?: unknown) => void): void
}

const ER_LOAD_INFILE_DISABLED = new Set([1148, 3948, 2068])

const DAY_MS = 86_400_000
const TWO_DIGITS = Array.from({length: 100}, (_, i) => String(i).padStart(2, '0'))
const THREE_DIGITS = Array.from({length: 1000}, (_, i) => String(i).padStart(3, '0'))
/** 'YYYY-MM-DD ' by days since the epoch: the times of a page fall on few days. */
const dayPrefixes = new Map<number, string>()

/**
 * A time as DATETIME(3) text in UTC, 'YYYY-MM-DD HH:MM:SS.mmm': what
 * toISOString() gives, at a tenth of its cost (two per row of a million).
 */
function sqlTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS)
  let prefix = dayPrefixes.get(day)
  if (prefix === undefined) {
    if (dayPrefixes.size >= 10_000) dayPrefixes.clear()
    prefix = `${new Date(day * DAY_MS).toISOString().slice(0, 10)} `
    dayPrefixes.set(day, prefix)
  }
  let rest = ms - day * DAY_MS
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = Math.floor(rest / 1000)
  return `${prefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest - seconds * 1000]}`
}

const TSV_SPECIAL = /[\\\t\n\r\0]/

/** A value as LOAD DATA reads it with FIELDS ESCAPED BY '\\': tab, newline and backslash escaped; NULL as \N. */
function tsvField(value: string | number | Date | null): string {
  if (value === null) return '\\N'
  if (typeof value === 'number') return String(value)
  if (value instanceof Date) return sqlTime(value.getTime())
  if (!TSV_SPECIAL.test(value)) return value
  return value.replace(/[\\\t\n\r\0]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0'))
}

const LOAD_COLUMNS = [...CACHE_COLUMNS, 'synced_at'] as const

/** Whether the control database takes LOAD DATA LOCAL INFILE: MySQL/MariaDB with local_infile on. */
async function loadsLocalInfile(db: Db): Promise<boolean> {
  if (db.client.config.client !== 'mysql2') return false
  const [[setting]] = (await db.raw('SELECT @@GLOBAL.local_infile AS allowed')) as unknown as Array<Array<{allowed: unknown}>>
  return toBool(setting?.allowed)
}

async function* only<T>(value: T): AsyncGenerator<T> {
  yield value
}

/** Bytes of the file waiting in the socket before more rows are produced. */
const SOCKET_BACKLOG = 4 * 2 ** 20

/**
 * Waits while the socket holds more than SOCKET_BACKLOG unsent bytes: mysql2
 * forwards the file to the socket without waiting for it, so without this
 * pause a server loading slower than the source is read would have the whole
 * table queued in memory.
 */
async function socketCaughtUp(connection: Mysql2Connection): Promise<void> {
  const socket = connection.stream
  while (socket && !socket.destroyed && (socket.writableLength ?? 0) > SOCKET_BACKLOG) {
    await Promise.race([once(socket, 'drain'), once(socket, 'close')])
  }
}

/**
 * Streams rows into a MySQL/MariaDB table with one LOAD DATA LOCAL INFILE fed as
 * the batches arrive (the fastest path, flat memory). Returns the rows stored:
 * LOCAL implies IGNORE, so a row the server could not take is only a warning,
 * and the caller compares the count with what it sent.
 */
async function loadData(db: Knex, table: string, columns: readonly string[], batches: AsyncGenerator<CacheWrite[]>, signal: AbortSignal | undefined): Promise<number> {
  const connection = (await db.client.acquireConnection()) as Mysql2Connection
  try {
    const first = await batches.next()
    if (first.done) return 0
    const stream = new PassThrough()
    const sql = `LOAD DATA LOCAL INFILE 'raiops-routing.tsv' INTO TABLE \`${table}\` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${columns.map((c) => `\`${c}\``).join(', ')})`
    let pumpError: unknown
    const loaded = new Promise<number>((resolve, reject) => {
      connection.query({sql, infileStreamFactory: () => stream}, (error, result) => (error ? reject(error) : resolve(Number((result as {affectedRows?: number} | undefined)?.affectedRows ?? 0))))
    })
    const pump = (async () => {
      const write = (rows: CacheWrite[]) => {
        // An empty page (the source ended on a page boundary) adds nothing: even a bare newline would be a row.
        if (rows.length === 0) return Promise.resolve()
        const text = rows.map((r) => columns.map((c) => tsvField(r[c as keyof CacheWrite] ?? null)).join('\t')).join('\n') + '\n'
        const written = stream.write(text) ? Promise.resolve() : new Promise<void>((resolve) => stream.once('drain', resolve))
        return written.then(() => socketCaughtUp(connection))
      }
      try {
        await write(first.value)
        for (;;) {
          throwIfAborted(signal)
          const next = await batches.next()
          if (next.done) break
          await write(next.value)
        }
        stream.end()
      } catch (error) {
        pumpError = error
        // Ended, not destroyed: mysql2 may not have taken the stream yet, and a
        // destroyed one would neither end its upload nor have an error listener.
        // What was sent lands in a table the caller drops.
        stream.end()
      }
    })()
    let stored: number
    try {
      stored = await loaded
    } catch (error) {
      await pump
      if (pumpError) throw pumpError
      const errno = (error as {errno?: number}).errno
      if (errno !== undefined && ER_LOAD_INFILE_DISABLED.has(errno)) {
        throw new UserError('the control database refused LOAD DATA LOCAL INFILE', {hint: 'allow it for this user (local_infile=ON), or run --full instead of --truncate'})
      }
      throw error
    }
    await pump
    if (pumpError) throw pumpError
    return stored
  } finally {
    db.client.releaseConnection(connection)
  }
}

/** The staging table of --truncate filled: with LOAD DATA where the server allows it, else batched INSERTs. */
async function fillStaging(db: Db, batches: AsyncGenerator<CacheRow[]>, signal: AbortSignal | undefined, expected: () => number): Promise<void> {
  if (!(await loadsLocalInfile(db))) {
    for await (const rows of batches) {
      throwIfAborted(signal)
      await insertAll(db, STAGING_TABLE, rows)
    }
    return
  }
  const stored = await loadData(db, STAGING_TABLE, LOAD_COLUMNS, batches, signal)
  if (stored !== expected()) throw new Error(`LOAD DATA stored ${stored} of ${expected()} rows`)
}

/**
 * The source rows without updated_at: how many, and the first ids. Incremental
 * runs, which read by updated_at, never see them: each run reports them.
 */
async function rowsWithoutTime(source: Knex, timeoutMs: number): Promise<{rows: number; ids: number[]}> {
  const [counted] = (await source('user_email_routing').count({n: '*'}).whereNull('updated_at').timeout(timeoutMs)) as Array<{n: unknown}>
  const rows = Number(counted?.n ?? 0)
  if (rows === 0) return {rows, ids: []}
  const ids = (await source('user_email_routing').whereNull('updated_at').orderBy('id').limit(5).pluck('id').timeout(timeoutMs)) as unknown[]
  return {rows, ids: ids.map(Number)}
}

/**
 * Copies the master RDS's user_email_routing into the cache (incremental by
 * default; `full` reconciles everything including deletions; `truncate`
 * rebuilds). Writes one sync_runs row. The caller holds the `routing` lease.
 * A failure is reported in the result (status failed), the cache left as the
 * last committed state.
 */
export async function syncRouting(ctx: OpsContext, options: RoutingSyncOptions): Promise<RoutingSyncReport> {
  const master = await findMaster(ctx.db)
  if (!master) throw new UserError('no master RDS: the routing directory is read from it', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  const started = ctx.now()
  const startedMs = performance.now()
  const runId = await startRun(ctx.db, 'routing', Number(master.id), started)
  const tally = new Tally()
  const batchSize = options.batchSize ?? 5000
  let watermark: Watermark | null = null
  let error: string | null = null
  try {
    const source = await ctx.fleet.get(await connectionSpecFor(ctx, master))
    const untimed = await rowsWithoutTime(source, options.queryTimeoutMs)
    const copied = options.mode !== 'incremental'
    tally.invalidRows(copied ? NULL_UPDATED_AT.copied : NULL_UPDATED_AT.incremental, copied, null, untimed.rows, untimed.ids)
    const run = options.mode === 'full' ? syncFull : options.mode === 'truncate' ? syncTruncate : syncIncremental
    watermark = await run(ctx, source, {...options, batchSize}, tally)
  } catch (caught) {
    error = options.signal?.aborted && options.signal.reason instanceof Error ? options.signal.reason.message : describeDriverError(caught, {quietMs: ctx.fleet.quietMs(Number(master.id))})
    if (caught instanceof UserError) error = caught.message
  }
  const finished = ctx.now()
  const durationMs = Math.round(performance.now() - startedMs)
  const status = error === null ? 'ok' : 'failed'
  const invalidRows = tally.invalidGroups
  const stats = {...tally.counts, mode: options.mode, durationMs, ...(invalidRows.length > 0 ? {invalidRows} : {})}
  await finishRun(ctx.db, runId, {status, stats, error, finishedAt: finished}).catch(() => undefined)
  return {
    kind: 'routing',
    mode: options.mode,
    status,
    master: {id: Number(master.id), name: master.name},
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs,
    counts: tally.counts,
    unlinkedTenants: tally.unlinkedTenants,
    invalidRows,
    watermark: watermark ? {updatedAt: new Date(watermark.updatedAt).toISOString(), id: watermark.id} : null,
    error,
  }
}
