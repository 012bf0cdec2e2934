import type {Knex} from 'knex'

import type {OpsContext} from '../../context.js'
import type {Db} from '../../db/control-db.js'
import {loadData, loadsLocalInfile} from '../../db/load-data.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {LOAD_COLUMNS, RETIRED_TABLE, STAGING_TABLE, toCacheRow, type CachedRow, type CacheRow, type ModeOptions} from './model.js'
import {sourcePages} from './source.js'
import {isSqlite, rebuildThroughStaging} from './sqlite-staging.js'
import {loadTenantLinks, type Tally} from './tally.js'
import {later, writeWatermark, type Watermark} from './watermark.js'
import {insertAll} from './writes.js'

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
export async function syncTruncate(ctx: OpsContext, source: Knex, options: ModeOptions, tally: Tally): Promise<Watermark | null> {
  // The rows the cache holds now (to count those gone), counted while the new rows are read.
  const counting = ctx
    .db<CachedRow>(ROUTING_CACHE_TABLE)
    .count({n: '*'})
    .then((rows) => Number(rows[0].n))
  counting.catch(() => undefined)
  const links = await loadTenantLinks(ctx.db)
  let before = 0
  let mark: Watermark | null = null
  // Pages smaller than the other modes': the rows stream straight to the server, and fewer alive at once keep the heap small.
  const pages = sourcePages(source, {
    batchSize: Math.min(options.batchSize, TRUNCATE_PAGE),
    timeoutMs: options.queryTimeoutMs,
    signal: options.signal,
  })
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
      options.signal?.throwIfAborted()
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
          options.signal?.throwIfAborted()
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
        options.signal?.throwIfAborted()
        await insertAll(tx, ROUTING_CACHE_TABLE, rows)
      }
      if (mark) await writeWatermark(tx, mark, ctx.now())
      options.signal?.throwIfAborted()
    })
  }
  tally.counts.missing = Math.max(0, before - tally.counts.inserted)
  return mark
}

/** Rows into the staging table with batched INSERTs; returns how many. */
async function insertStaging(db: Db, batches: AsyncIterable<CacheRow[]>, signal: AbortSignal | undefined): Promise<number> {
  let inserted = 0
  for await (const rows of batches) {
    signal?.throwIfAborted()
    await insertAll(db, STAGING_TABLE, rows)
    inserted += rows.length
  }
  return inserted
}

/**
 * The staging table of --truncate filled: with LOAD DATA where the server allows
 * it, else batched INSERTs (also when it refuses the statement after all:
 * local_infile turned off since it was read).
 */
async function fillStaging(db: Db, batches: AsyncGenerator<CacheRow[]>, signal: AbortSignal | undefined, expected: () => number): Promise<void> {
  if (!(await loadsLocalInfile(db))) {
    await insertStaging(db, batches, signal)
    return
  }
  const stored = await loadData(db, {
    table: STAGING_TABLE,
    columns: LOAD_COLUMNS,
    batches,
    signal,
    refused: (rest) => insertStaging(db, rest, signal),
  })
  if (stored !== expected()) throw new Error(`LOAD DATA stored ${stored} of ${expected()} rows`)
}
