import type {Knex} from 'knex'
import {once} from 'node:events'
import {PassThrough} from 'node:stream'

import {rowsOf} from './raw-rows.js'
import {toBool} from './values.js'

/**
 * MySQL/MariaDB's LOAD DATA LOCAL INFILE as a transport: rows streamed to the
 * server as tab-separated text while they are produced, the fastest way in and
 * flat in memory. It knows nothing of the tables it fills.
 */

/** A value LOAD DATA can take: a Date is written as DATETIME(3) in UTC. */
export type TsvValue = string | number | Date | null

const DAY_MS = 86_400_000
const TWO_DIGITS = Array.from({length: 100}, (_, i) => String(i).padStart(2, '0'))
const THREE_DIGITS = Array.from({length: 1000}, (_, i) => String(i).padStart(3, '0'))
/** 'YYYY-MM-DD ' by days since the epoch: the times of a page fall on few days. */
const dayPrefixes = new Map<number, string>()

/**
 * A time as DATETIME(3) text in UTC, 'YYYY-MM-DD HH:MM:SS.mmm': what
 * toISOString() gives, at a tenth of its cost (two per row of a million).
 */
export function sqlTime(ms: number): string {
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
export function tsvField(value: TsvValue): string {
  if (value === null) return '\\N'
  if (typeof value === 'number') return String(value)
  if (value instanceof Date) return sqlTime(value.getTime())
  if (!TSV_SPECIAL.test(value)) return value
  return value.replace(/[\\\t\n\r\0]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0'))
}

/** Whether the server takes LOAD DATA LOCAL INFILE now: MySQL/MariaDB with local_infile on. */
export async function loadsLocalInfile(db: Knex): Promise<boolean> {
  if (db.client.config.client !== 'mysql2') return false
  const [setting] = rowsOf(await db.raw('SELECT @@GLOBAL.local_infile AS allowed'))
  return toBool(setting?.allowed)
}

/**
 * The server refusing LOCAL INFILE: MySQL's ER_NOT_ALLOWED_COMMAND (1148),
 * ER_CLIENT_LOCAL_FILES_DISABLED (3948), CR_LOAD_DATA_LOCAL_INFILE_REJECTED
 * (2068), MariaDB's ER_LOAD_INFILE_CAPABILITY_DISABLED (4166).
 */
const REFUSED = new Set([1148, 3948, 2068, 4166])

/** mysql2's connection (callback API) as far as LOAD DATA needs it: its query() and its socket. */
interface Mysql2Connection {
  stream?: NodeJS.EventEmitter & {writableLength?: number; destroyed?: boolean}
  query(
    options: {sql: string; values?: unknown[]; infileStreamFactory?: () => NodeJS.ReadableStream},
    callback: (error: (Error & {errno?: number}) | null, rows?: unknown) => void,
  ): void
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

export interface LoadDataOptions<C extends string, Row extends {readonly [K in C]?: TsvValue}> {
  table: string
  /** The table's columns, in the order each row's values are sent. */
  columns: readonly C[]
  /** The rows, batch by batch: each batch is sent as it comes. */
  batches: AsyncIterator<Row[]>
  signal?: AbortSignal
  /**
   * Where the rows go when the server refuses LOCAL INFILE (local_infile may be
   * turned off at any time, so a server that allowed it a moment ago can refuse
   * the statement): every batch, the first included. Returns the rows it stored.
   */
  refused: (batches: AsyncIterable<Row[]>) => Promise<number>
}

/** The batches again from `first`, then the rest of `rest`. */
async function* replay<Row>(first: Row[], rest: AsyncIterator<Row[]>): AsyncGenerator<Row[]> {
  yield first
  for (;;) {
    const next = await rest.next()
    if (next.done) return
    yield next.value
  }
}

/**
 * Streams rows into a MySQL/MariaDB table with one LOAD DATA LOCAL INFILE fed as
 * the batches arrive. Returns the rows stored: LOCAL implies IGNORE, so a row the
 * server could not take is only a warning, and the caller compares the count
 * with what it sent. A refused statement hands the rows to `refused`.
 */
export async function loadData<C extends string, Row extends {readonly [K in C]?: TsvValue}>(db: Knex, options: LoadDataOptions<C, Row>): Promise<number> {
  const outcome = await loadOnce(db, options)
  return typeof outcome === 'number' ? outcome : options.refused(replay(outcome.first, options.batches))
}

async function loadOnce<C extends string, Row extends {readonly [K in C]?: TsvValue}>(
  db: Knex,
  options: LoadDataOptions<C, Row>,
): Promise<number | {first: Row[]}> {
  const {table, columns, batches, signal} = options
  const connection = (await db.client.acquireConnection()) as Mysql2Connection
  try {
    const first = await batches.next()
    if (first.done) return 0
    const stream = new PassThrough()
    const sql = `LOAD DATA LOCAL INFILE 'raiops-load.tsv' INTO TABLE \`${table}\` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${columns.map((c) => `\`${c}\``).join(', ')})`
    const encode = (rows: Row[]): string => rows.map((r) => columns.map((c) => tsvField(r[c] ?? null)).join('\t')).join('\n') + '\n'
    let pumpError: unknown
    /** Sends the file, from when the server asks for it: a refused statement has taken no batch but the first. */
    const pumping: {done: Promise<void> | null} = {done: null}
    const send = async (firstText: string): Promise<void> => {
      const write = (text: string) => {
        const written = stream.write(text) ? Promise.resolve() : new Promise<void>((resolve) => stream.once('drain', resolve))
        return written.then(() => socketCaughtUp(connection))
      }
      try {
        if (firstText !== '') await write(firstText)
        for (;;) {
          signal?.throwIfAborted()
          const next = await batches.next()
          if (next.done) break
          // An empty batch (the source ended on a page boundary) adds nothing: even a bare newline would be a row.
          if (next.value.length > 0) await write(encode(next.value))
        }
        stream.end()
      } catch (error) {
        pumpError = error
        // Ended, not destroyed: a destroyed stream would neither end mysql2's
        // upload nor have an error listener. What was sent lands in a table the
        // caller drops.
        stream.end()
      }
    }
    let firstText = ''
    const loaded = new Promise<number>((resolve, reject) => {
      const infileStreamFactory = () => {
        pumping.done = send(firstText)
        return stream
      }
      connection.query({sql, infileStreamFactory}, (error, result) =>
        error ? reject(error) : resolve(Number((result as {affectedRows?: number} | undefined)?.affectedRows ?? 0)),
      )
    })
    // Encoded while the server reads the statement.
    firstText = first.value.length > 0 ? encode(first.value) : ''
    let stored: number
    try {
      stored = await loaded
    } catch (error) {
      if (pumping.done === null) {
        const errno = (error as {errno?: number}).errno
        if (errno !== undefined && REFUSED.has(errno)) return {first: first.value}
        throw error
      }
      await pumping.done
      if (pumpError) throw pumpError
      throw error
    }
    await pumping.done
    if (pumpError) throw pumpError
    return stored
  } finally {
    db.client.releaseConnection(connection)
  }
}
