import type {Knex} from 'knex'

import type {OpsContext} from '../../context.js'
import type {Db} from '../../db/control-db.js'
import {loadsLocalInfile} from '../../db/load-data.js'
import {ROUTING_CACHE_TABLE} from '../../db/tables.js'
import {CacheCursor} from './cache.js'
import {dirtyRanges} from './checksum.js'
import {STAGING_TABLE, toCacheRow, type CacheWrite, type ModeOptions} from './model.js'
import {sourcePages} from './source.js'
import {isSqlite, rebuildThroughStaging} from './sqlite-staging.js'
import {loadTenantLinks, type Tally} from './tally.js'
import {later, writeWatermark, type Watermark} from './watermark.js'
import {deleteSourceIds, upsert} from './writes.js'

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
export async function syncFull(ctx: OpsContext, source: Knex, options: ModeOptions, tally: Tally): Promise<Watermark | null> {
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
      const pages = sourcePages(source, {
        ids: range,
        batchSize: options.batchSize,
        timeoutMs: options.queryTimeoutMs,
        signal: options.signal,
      })
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
        options.signal?.throwIfAborted()
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
      options.signal?.throwIfAborted()
    })
  }
  return mark
}
