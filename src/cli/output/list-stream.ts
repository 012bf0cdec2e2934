import {openOutputStream} from './output-file.js'
import {renderNdjson, selectColumns, type CellFormat, type Column} from './render.js'

export type StreamFormat = 'csv' | 'ndjson'

export interface ListStreamOptions<Row> {
  format: StreamFormat
  /** --output: a file (written atomically, mode 0600), `-` or undefined for standard output. */
  output?: string
  /** --columns: the CSV's columns, by header. */
  columns?: readonly string[]
  /** Each batch as the caller may see it (emails masked without pii.view). */
  view?: (rows: Row[]) => Row[]
  /** Aborted (Ctrl-C): the list stops at the next batch, and a file is not left behind. */
  signal?: AbortSignal
}

/** Times as CSV holds them: exact. */
const EXACT: CellFormat = {time: (iso) => iso}
const NEEDS_QUOTES = /[",\r\n]/

/** One CSV field, as renderCsv (csv-stringify) writes it: quoted only when it holds a comma, a quote or a line break. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  const text = String(value)
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** CSV lines of `rows` (no header): the same text as renderCsv's, without its per-field overhead on a long stream. */
export function csvLines<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  let text = ''
  for (const row of rows) {
    let line = ''
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]
      line += (i === 0 ? '' : ',') + csvField(c.plain ? c.plain(row) : c.cell(row, EXACT))
    }
    text += `${line}\n`
  }
  return text
}

/** What a streamed list wrote. */
export interface StreamedList {
  rows: number
  /**
   * How it ended: every row written; the reader of a pipe gone before the end
   * (`| head`), the rest not read; or stopped by the signal, a file not written.
   */
  end: 'complete' | 'reader-closed' | 'interrupted'
}

/**
 * Writes a list that arrives in batches as CSV (one header, then the rows) or
 * NDJSON, each batch written before the next is read, so memory stays flat
 * however long the list. A file appears only once complete (temporary file,
 * then rename); on an error or when `signal` aborts, it never appears. A pipe
 * whose reader has gone (`| head`) ends the list quietly, as it ends any Unix tool.
 */
export async function streamList<Row>(batches: AsyncIterable<Row[]>, columns: readonly Column<Row>[], options: ListStreamOptions<Row>): Promise<StreamedList> {
  const selected = selectColumns(columns, options.columns)
  const out = await openOutputStream(options.output ?? '-')
  let rows = 0
  try {
    if (options.format === 'csv') await out.write(`${selected.map((c) => csvField(c.header)).join(',')}\n`)
    for await (const batch of batches) {
      if (options.signal?.aborted) {
        await out.abort()
        return {rows, end: 'interrupted'}
      }
      const shown = options.view ? options.view(batch) : batch
      await out.write(options.format === 'csv' ? csvLines(shown, selected) : renderNdjson(shown))
      rows += shown.length
    }
    await out.commit()
  } catch (error) {
    await out.abort()
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') return {rows, end: 'reader-closed'}
    throw error
  }
  return {rows, end: 'complete'}
}
