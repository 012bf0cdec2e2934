import type {Knex} from 'knex'

import type {OpsContext} from '../../context.js'
import type {Db} from '../../db/control-db.js'
import {rowsOf} from '../../db/raw-rows.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {newestSourceRow, sourceTime, type IdRange} from './source.js'
import type {Watermark} from './watermark.js'

/** Ids per checksum bucket of the --full fast path. */
const CHECKSUM_BUCKET = 10_000

/**
 * The row as both servers render it for a checksum: the cache's columns and the
 * source's, normalised alike (email lower-cased, times as DATETIME(3)).
 */
function checksumExpression(columns: {
  id: string
  email: string
  tenant: string
  rds: string
  user: string
  status: string
  updated: string
  unlinked: string
}): string {
  const row = `CONCAT_WS('|', ${columns.id}, ${columns.email}, ${columns.tenant}, ${columns.rds}, ${columns.user}, IFNULL(${columns.status}, '\\0'), IFNULL(CAST(${columns.updated} AS DATETIME(3)), '\\0'))`
  return `COUNT(*) AS n, SUM(CRC32(${row})) AS s1, SUM(${columns.unlinked}) AS u`
}

/** Per bucket: its checksum (row count and the sum of the rows' CRC32), and on the cache side its rows without a tenant link. */
type Buckets = Map<number, {sum: string; rows: number; unlinked: number}>

async function bucketsOf(db: Db | Knex, sql: string, timeoutMs?: number): Promise<Buckets> {
  const query = db.raw(sql)
  const rows = rowsOf(await (timeoutMs ? query.timeout(timeoutMs) : query))
  return new Map(rows.map((r) => [Number(r.b), {sum: `${String(r.n)}:${String(r.s1)}`, rows: Number(r.n), unlinked: Number(r.u ?? 0)}]))
}

/** What the checksums found: the buckets to merge row by row, and what the matching ones hold. */
export interface DirtyRanges {
  ranges: IdRange[]
  /** Rows in matching buckets: unchanged. */
  unchanged: number
  /** Of those, rows without a tenant link. */
  unlinked: number
  /** The source's newest (updated_at, id). */
  mark: Watermark | null
}

/**
 * The --full fast path when the master and the control database are both
 * MySQL/MariaDB: each server checksums its rows per bucket of ids (side by side),
 * and only the buckets that differ are compared row by row. Returns those buckets
 * as id ranges, the rows in the buckets that match (unchanged), and the source's
 * newest (updated_at, id); null when the engines do not allow it.
 */
export async function dirtyRanges(ctx: OpsContext, source: Knex, timeoutMs: number): Promise<DirtyRanges | null> {
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
    ctx.db.raw(linkableSql).then((result: unknown) => new Set(rowsOf(result).map((r) => Number(r.b)))),
    newestSourceRow(source, timeoutMs),
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
