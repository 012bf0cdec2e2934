import type {Db} from '../../db/control-db.js'
import {loadData} from '../../db/load-data.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {LOAD_COLUMNS, MERGE_COLUMNS, type CacheRow, type CacheWrite} from './model.js'

/** Rows per INSERT: SQLite caps a compound SELECT at 500 terms, PostgreSQL a statement at 65,535 parameters. */
function insertChunk(db: Db): number {
  const client = db.client.config.client
  return client === 'better-sqlite3' ? 500 : client === 'pg' ? 5000 : 5000
}

export async function insertAll(db: Db, table: string, rows: CacheRow[]): Promise<void> {
  const chunk = insertChunk(db)
  for (let i = 0; i < rows.length; i += chunk) await db(table).insert(rows.slice(i, i + chunk))
}

export async function deleteSourceIds(db: Db, table: string, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500)
    await db(table)
      .whereIn('source_id', ids.slice(i, i + 500))
      .delete()
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

/** What mysql2 returns for a statement that writes rows. */
type WriteResult = [{affectedRows: number}]

/** A row of the page table: an update's cache id is not one of its columns. */
const pageRow = ({id: _id, ...row}: CacheWrite): CacheRow => row

async function* only<T>(value: T): AsyncGenerator<T> {
  yield value
}

/**
 * A page of source rows applied on MySQL/MariaDB with local infile: loaded into a
 * temporary table of the transaction's connection, then the server compares it
 * with the cache itself: one UPDATE … JOIN writes the rows that differ, one
 * INSERT … SELECT the new ones. Nothing of the cache is read back. Should the
 * server refuse the load (local_infile turned off meanwhile), the page goes into
 * the temporary table with INSERTs, and the rest is the same.
 */
export async function applyByLoad(tx: Db, rows: CacheWrite[], signal: AbortSignal | undefined): Promise<{inserted: number; updated: number}> {
  if (rows.length === 0) return {inserted: 0, updated: 0}
  const columns = LOAD_COLUMNS.map((c) => `\`${c}\``)
  await tx.raw(`CREATE TEMPORARY TABLE ?? ENGINE=MEMORY SELECT ${columns.join(', ')} FROM ?? WHERE 1 = 0`, [PAGE_TABLE, ROUTING_CACHE_TABLE])
  try {
    const stored = await loadData(tx, {
      table: PAGE_TABLE,
      columns: LOAD_COLUMNS,
      batches: only(rows),
      signal,
      refused: async (batches) => {
        let inserted = 0
        for await (const batch of batches) {
          await insertAll(tx, PAGE_TABLE, batch.map(pageRow))
          inserted += batch.length
        }
        return inserted
      },
    })
    if (stored !== rows.length) throw new Error(`LOAD DATA stored ${stored} of ${rows.length} rows`)
    const set = MERGE_COLUMNS.map((c) => `c.\`${c}\` = p.\`${c}\``).join(', ')
    const [updated] = (await tx.raw(`UPDATE ?? c JOIN ?? p ON p.source_id = c.source_id SET ${set} WHERE NOT (${SAME_ROW})`, [
      ROUTING_CACHE_TABLE,
      PAGE_TABLE,
    ])) as unknown as WriteResult
    const [inserted] = (await tx.raw(
      `INSERT INTO ?? (${columns.join(', ')}) SELECT ${columns.map((c) => `p.${c}`).join(', ')} FROM ?? p WHERE NOT EXISTS (SELECT 1 FROM ?? c WHERE c.source_id = p.source_id)`,
      [ROUTING_CACHE_TABLE, PAGE_TABLE, ROUTING_CACHE_TABLE],
    )) as unknown as WriteResult
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
export async function upsert(db: Db, rows: CacheWrite[], options: {load: boolean; signal?: AbortSignal; table?: string}): Promise<void> {
  if (options.load) {
    await applyByLoad(db, rows, options.signal)
    return
  }
  const table = options.table ?? ROUTING_CACHE_TABLE
  const chunk = insertChunk(db)
  const updates = rows.filter((row) => row.id !== undefined)
  const inserts = rows.filter((row) => row.id === undefined)
  for (let i = 0; i < updates.length; i += chunk) {
    await db(table)
      .insert(updates.slice(i, i + chunk))
      .onConflict('id')
      .merge(MERGE_COLUMNS)
  }
  for (let i = 0; i < inserts.length; i += chunk) {
    await db(table)
      .insert(inserts.slice(i, i + chunk))
      .onConflict('source_id')
      .merge(MERGE_COLUMNS)
  }
}
