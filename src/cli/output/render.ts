import Table from 'cli-table3'
import {stringify} from 'csv-stringify/sync'

import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'

export const LIST_FORMATS = ['table', 'json', 'csv', 'ndjson'] as const
export type ListFormat = (typeof LIST_FORMATS)[number]

export interface Column<Row> {
  header: string
  /** The value shown in a table cell (may be coloured). */
  cell: (row: Row) => string
  /** The plain value for CSV (defaults to the cell). */
  plain?: (row: Row) => string | number | boolean | null
}

/**
 * A row's table cells. The row's strings are escaped before the cells format and
 * colour them, so no value can put a newline or a terminal sequence on screen.
 */
export function renderCells<Row>(row: Row, columns: readonly Column<Row>[]): string[] {
  const safe = escapeControlDeep(row)
  return columns.map((c) => c.cell(safe))
}

export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const table = new Table({
    head: columns.map((c) => c.header),
    style: {head: [], border: []},
    chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''},
  })
  for (const row of rows) table.push(renderCells(row, columns))
  return table.toString()
}

export function renderCsv<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  return stringify([columns.map((c) => c.header), ...rows.map((row) => columns.map((c) => (c.plain ?? c.cell)(row)))], {
    cast: {boolean: (value) => (value ? 'true' : 'false')},
  })
}

export function renderNdjson(rows: readonly unknown[]): string {
  return rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length > 0 ? '\n' : '')
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`
}

/** Renders a list in one of the list formats (table/json/csv/ndjson). */
export function renderList<Row>(rows: readonly Row[], columns: readonly Column<Row>[], format: ListFormat): string {
  switch (format) {
    case 'json':
      return renderJson(rows)
    case 'ndjson':
      return renderNdjson(rows)
    case 'csv':
      return renderCsv(rows, columns)
    default:
      return `${renderTable(rows, columns)}\n`
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
