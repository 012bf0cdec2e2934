import type {Knex} from 'knex'

import {toIso} from '../../db/values.js'
import {isId} from '../invalid.js'
import {type SourceRow} from './model.js'
import {isSqlite} from './sqlite-staging.js'

/** The master's user_email_routing as this sync reads it: as the driver returns it, unchecked. */
export interface UpstreamRow {
  id: unknown
  email: unknown
  tenant_id: unknown
  rds_instance_id: unknown
  user_id: unknown
  status: unknown
  updated_at: unknown
}

const SOURCE_TABLE = 'user_email_routing'
const SOURCE_COLUMNS = ['id', 'email', 'tenant_id', 'rds_instance_id', 'user_id', 'status', 'updated_at'] as const

/** Laravel writes naive UTC timestamps: a Date (knex with timezone Z) or 'YYYY-MM-DD HH:MM:SS'. */
export function sourceTime(value: unknown): number | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime()
  const iso = toIso(value)
  const ms = iso === null ? Number.NaN : Date.parse(iso)
  return Number.isNaN(ms) ? null : ms
}

/** A source row left out, and why. */
export interface RejectedRow {
  reason: string
  /** Null when the id itself is the problem. */
  id: number | null
}

export const REJECTED = {
  id: 'id is not a positive integer: left out',
  email: 'email is NULL or empty: left out',
  link: 'tenant_id, rds_instance_id or user_id is not a positive integer: left out',
} as const

/** Rows without updated_at: incremental runs read by it, so they see none of them. */
export const NULL_UPDATED_AT = {
  incremental: 'updated_at is NULL: incremental runs never read it (--full and --truncate copy it)',
  copied: 'updated_at is NULL: copied without a source time; incremental runs never see its changes (--full does)',
} as const

/**
 * Checks one fleet row by hand: this is the hot path (a million rows), where a
 * schema library per row would cost more than the copy. A row without a usable
 * id, email or link is invalid (left out and counted), never half-written.
 */
export function parseSourceRow(row: UpstreamRow): SourceRow | RejectedRow {
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

export interface Page {
  rows: SourceRow[]
  /** The rows left out, and why. */
  rejected: RejectedRow[]
  raw: number
  /** The keyset position after this page. */
  last: {updatedAt: number | null; id: number} | null
}

/** Source ids after `after`, up to `upTo` inclusive (null: no end). */
export interface IdRange {
  after: number
  upTo: number | null
}

/**
 * The source read page by page with keyset queries (each short, each with a
 * timeout; the next page is fetched while the current one is written), so
 * memory stays flat and no statement runs long enough to hit a server cap.
 * `byUpdated`: ordered by (updated_at, id) from a watermark (incremental);
 * otherwise by id (full, truncate).
 */
export async function* sourcePages(
  source: Knex,
  options: {byUpdated?: {from: number}; ids?: IdRange; batchSize: number; firstBatchSize?: number; timeoutMs: number; signal?: AbortSignal},
): AsyncGenerator<Page> {
  // A SQLite source holds updated_at as Laravel writes it, 'YYYY-MM-DD HH:MM:SS' text in UTC: a Date
  // (bound as a number) would compare below every text value, so each page would start over.
  const sqliteSource = isSqlite(source)
  const time = (ms: number): Date | string => (sqliteSource ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : new Date(ms))
  const fetchPage = async (after: Page['last'], limit: number): Promise<Page & {limit: number}> => {
    const query = source<UpstreamRow>(SOURCE_TABLE)
      .select(...SOURCE_COLUMNS)
      .limit(limit)
      .timeout(options.timeoutMs)
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
    const raw = await query
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
    options.signal?.throwIfAborted()
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

/**
 * The source rows without updated_at: how many, and the first ids. Incremental
 * runs, which read by updated_at, never see them: each run reports them.
 */
export async function rowsWithoutTime(source: Knex, timeoutMs: number): Promise<{rows: number; ids: number[]}> {
  const [counted] = await source<UpstreamRow>(SOURCE_TABLE).count({n: '*'}).whereNull('updated_at').timeout(timeoutMs)
  const rows = Number(counted?.n ?? 0)
  if (rows === 0) return {rows, ids: []}
  const ids = await source<UpstreamRow>(SOURCE_TABLE).whereNull('updated_at').orderBy('id').limit(5).pluck('id').timeout(timeoutMs)
  return {rows, ids: ids.map(Number)}
}

/** The source's newest (updated_at, id), where a run that read every row leaves its watermark. */
export async function newestSourceRow(source: Knex, timeoutMs: number): Promise<Pick<UpstreamRow, 'id' | 'updated_at'> | undefined> {
  return source<UpstreamRow>(SOURCE_TABLE)
    .select('id', 'updated_at')
    .whereNotNull('updated_at')
    .orderBy([
      {column: 'updated_at', order: 'desc'},
      {column: 'id', order: 'desc'},
    ])
    .first()
    .timeout(timeoutMs)
}
