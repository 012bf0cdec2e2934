import type {Knex} from 'knex'

import type {OpsContext} from '../../context.js'
import type {Db} from '../../db/control-db.js'
import {loadsLocalInfile} from '../../db/load-data.js'
import {retryOnDeadlock} from '../../db/retry.js'
import {cachedByIds} from './cache.js'
import {toCacheRow, type CachedRow, type CacheWrite, type ModeOptions} from './model.js'
import {sourcePages, type Page} from './source.js'
import {isSqlite} from './sqlite-staging.js'
import {loadTenantLinks, type Tally} from './tally.js'
import {later, readWatermark, WATERMARK_OVERLAP_MS, writeWatermark, type Watermark} from './watermark.js'
import {applyByLoad, upsert} from './writes.js'

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
export async function syncIncremental(ctx: OpsContext, source: Knex, options: ModeOptions, tally: Tally): Promise<Watermark | null> {
  const linksLoaded = loadTenantLinks(ctx.db)
  const loadChecked = loadsLocalInfile(ctx.db)
  linksLoaded.catch(() => undefined)
  loadChecked.catch(() => undefined)
  const watermark = await readWatermark(ctx.db)
  let mark = watermark
  const from = mark === null ? 0 : mark.updatedAt - WATERMARK_OVERLAP_MS
  // A short first page: its writes begin while the next pages are read.
  const pages = sourcePages(source, {
    byUpdated: {from},
    batchSize: options.batchSize,
    firstBatchSize: Math.min(options.batchSize, 1000),
    timeoutMs: options.queryTimeoutMs,
    signal: options.signal,
  })[Symbol.asyncIterator]()
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
      const looked = cachedByIds(
        ctx.db,
        page.rows.map((r) => r.id),
      )
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
        options.signal?.throwIfAborted()
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
        options.signal?.throwIfAborted()
        while (writing.length >= writers) await writing.shift()
        committed =
          writes.length === 0
            ? Promise.resolve(0)
            : retryOnDeadlock(() => ctx.db.transaction((tx) => upsert(tx, writes, {load, signal: options.signal}))).then(() => writes.length)
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
