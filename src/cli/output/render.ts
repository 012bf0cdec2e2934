import Table from 'cli-table3'
import {stringify} from 'csv-stringify/sync'

import {UserError} from '../../lib/errors/index.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {displayWidth, fitColumns, truncate, wrap, type ColumnFit} from './fit.js'
import {tableTime} from './time.js'

export const LIST_FORMATS = ['table', 'json', 'csv', 'ndjson'] as const
export type ListFormat = (typeof LIST_FORMATS)[number]

/** How a cell shows what it formats itself: times, relative or UTC in a table, exact in CSV. */
export interface CellFormat {
  /** An ISO time as this output shows it (see `tableTime`). */
  time: (iso: string) => string
}

/** CSV's cell format: the exact time. */
const EXACT: CellFormat = {time: (iso) => iso}

export interface Column<Row> {
  /** Lower case, as every table's headers are. */
  header: string
  /** The value shown in a table cell (may be coloured); times through `format.time`. */
  cell: (row: Row, format: CellFormat) => string
  /** The plain value for CSV (defaults to the cell, with exact times). */
  plain?: (row: Row) => string | number | boolean | null
  /**
   * How readily the column drops out of a table too wide for the terminal: 1
   * (the default) never, the highest number first. A column empty in every row
   * goes before any other.
   */
  priority?: number
  /**
   * How its cells narrow when the table is too wide: cut at the end with …
   * (`truncate`), cut at the start (`truncate-start`: a path, the newest end of
   * a series), or wrapped onto more lines (`wrap`: a message worth reading
   * whole). Without it the column keeps its width, unless nothing else fits.
   */
  overflow?: 'truncate' | 'truncate-start' | 'wrap'
  /** The narrowest it is made before columns drop out instead (default 10; never narrower than its header). */
  minWidth?: number
}

/** How a table is laid out: its width, its times. */
export interface TableLayout {
  /** The width to fit (the terminal's); undefined: no limit, every column in full, as for a pipe or a file. */
  width?: number
  /** Times as UTC ISO 8601 rather than relative. */
  utc?: boolean
  /** What relative times are measured from (default: when the table is rendered). */
  now?: Date
  /** The columns to show (--columns): header names, any case, in this order; undefined: every column. */
  columns?: readonly string[]
}

/**
 * The columns named in `names` (headers, any case), in the order given; every
 * column when `names` is undefined. A name no column has is refused, the valid names listed.
 */
export function selectColumns<Row>(columns: readonly Column<Row>[], names: readonly string[] | undefined): readonly Column<Row>[] {
  if (names === undefined) return columns
  return names.map((name) => {
    const column = columns.find((c) => c.header.toLowerCase() === name.trim().toLowerCase())
    if (!column) throw new UserError(`unknown column ${JSON.stringify(escapeControl(name.trim()))}; the columns are ${columns.map((c) => c.header).join(', ')}`)
    return column
  })
}

/** Lines a wrapped cell may take; past them it ends in … (--wide shows it whole). */
const MAX_CELL_LINES = 4

/**
 * A row's table cells. The row's strings are escaped before the cells format and
 * colour them, so no value can put a newline or a terminal sequence on screen.
 */
export function renderCells<Row>(row: Row, columns: readonly Column<Row>[], format: CellFormat): string[] {
  const safe = escapeControlDeep(row)
  return columns.map((c) => c.cell(safe, format))
}

/**
 * A table with a rule under its header, fitted to `layout.width`: the columns
 * that matter least drop out first, long cells are cut with … or wrapped inside
 * their cell (see `fitColumns` and each column's `priority` and `overflow`).
 */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[], layout: TableLayout = {}): string {
  const now = layout.now ?? new Date()
  const body = rows.map((row) => renderCells(row, columns, {time: (iso) => tableTime(iso, {utc: layout.utc, now})}))
  const fits = columns.map((column, i): ColumnFit => {
    const header = displayWidth(column.header)
    const natural = Math.max(header, ...body.map((cells) => displayWidth(cells[i])))
    const empty = rows.length > 0 && natural === header && body.every((cells) => cells[i] === '')
    // Narrowed, a column keeps its header whole (unless nothing else fits).
    const min = column.overflow ? Math.min(natural, Math.max(header, column.minWidth ?? 10)) : natural
    return {natural, min, priority: column.priority ?? 1, empty}
  })
  const {keep, widths} = fitColumns(fits, layout.width ?? Number.POSITIVE_INFINITY)
  const fitCell = (text: string, column: Column<Row>, width: number): string => {
    if (displayWidth(text) <= width) return text
    if (column.overflow === 'wrap') return wrap(text, width, MAX_CELL_LINES).join('\n')
    return truncate(text, width, {from: column.overflow === 'truncate-start' ? 'start' : 'end'})
  }
  const table = new Table({
    head: keep.map((i, k) => truncate(columns[i].header, widths[k])),
    style: {head: [], border: []},
    chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''},
  })
  for (const cells of body) table.push(keep.map((i, k) => fitCell(cells[i], columns[i], widths[k])))
  // The rule under the header: the top border with its corners turned into joints.
  const [top, head, ...rest] = table.toString().split('\n')
  const rule = top.replace('┌', '├').replaceAll('┬', '┼').replace('┐', '┤')
  return [top, head, rule, ...rest].join('\n')
}

export function renderCsv<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  return stringify([columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => (c.plain ? c.plain(row) : c.cell(row, EXACT))))], {
    cast: {boolean: (value) => (value ? 'true' : 'false')},
  })
}

export function renderNdjson(rows: readonly unknown[]): string {
  return rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length > 0 ? '\n' : '')
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** Renders a list in one of the list formats (table/json/csv/ndjson); a table laid out as `layout` says, a table or CSV with only `layout.columns`. */
export function renderList<Row>(rows: readonly Row[], columns: readonly Column<Row>[], format: ListFormat, layout: TableLayout = {}): string {
  switch (format) {
    case 'json':
      return renderJson(rows)
    case 'ndjson':
      return renderNdjson(rows)
    case 'csv':
      return renderCsv(rows, selectColumns(columns, layout.columns))
    default:
      return `${renderTable(rows, selectColumns(columns, layout.columns), layout)}\n`
  }
}

/**
 * `key: value` lines for one record, keys aligned. `fields` formats (and may
 * colour) the record, whose strings are escaped first, as in a table.
 */
export function renderRecord<Row>(row: Row, fields: (row: Row) => ReadonlyArray<readonly [string, string]>): string {
  const pairs = fields(escapeControlDeep(row)).map(([k, v]) => [escapeControl(k), v] as const)
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n') + '\n'
}
