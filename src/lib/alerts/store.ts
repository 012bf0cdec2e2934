import type {Knex} from 'knex'

import type {AlertInstanceRow} from '../db/tables.js'

/**
 * The engine's batched writes to alert_instances, so that a run's number of
 * statements does not grow with the number of instances: multi-row inserts,
 * `IN` lists of ids, and one `UPDATE … SET col = CASE id WHEN … END` per batch
 * for rows whose columns differ. Batches stay under every engine's limit of
 * bound parameters (SQLite's 32,766).
 */

export const MAX_PARAMS = 30_000

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Inserts rows in batches of at most MAX_PARAMS bound values. */
export async function insertBatched<T extends object>(tx: Knex, table: string, rows: readonly T[]): Promise<void> {
  if (rows.length === 0) return
  const perRow = Object.keys(rows[0]).length
  for (const batch of chunks(rows, Math.max(1, Math.floor(MAX_PARAMS / perRow)))) await tx(table).insert(batch)
}

/** `UPDATE table SET values WHERE id IN (ids)`, batched. */
export async function updateByIds(tx: Knex, table: string, ids: readonly number[], values: Record<string, unknown>): Promise<void> {
  for (const batch of chunks(ids, MAX_PARAMS - 10)) await tx(table).whereIn('id', batch).update(values)
}

type Column = 'timestamp' | 'double' | 'text'

/**
 * Sets per-row values of `columns` on the rows with these ids, one statement
 * per batch. PostgreSQL types the CASE's bound values only with a cast.
 */
export async function updateCase(
  tx: Knex,
  table: string,
  columns: Readonly<Record<string, Column>>,
  rows: ReadonlyArray<{id: number; values: Record<string, unknown>}>,
): Promise<void> {
  if (rows.length === 0) return
  const names = Object.keys(columns)
  const pg = tx.client.config.client === 'pg'
  const cast = (type: Column): string => {
    if (!pg) return '?'
    return type === 'timestamp' ? 'CAST(? AS timestamptz)' : type === 'double' ? 'CAST(? AS double precision)' : 'CAST(? AS text)'
  }
  const perRow = names.length * 2 + 1
  for (const batch of chunks(rows, Math.max(1, Math.floor(MAX_PARAMS / perRow)))) {
    const sets: string[] = []
    const bindings: Knex.RawBinding[] = []
    for (const name of names) {
      sets.push(`?? = CASE ?? ${batch.map(() => `WHEN ? THEN ${cast(columns[name])}`).join(' ')} END`)
      bindings.push(name, 'id')
      for (const row of batch) bindings.push(row.id, (row.values[name] ?? null) as Knex.Value)
    }
    await tx.raw(`UPDATE ?? SET ${sets.join(', ')} WHERE ?? IN (${batch.map(() => '?').join(', ')})`, [table, ...bindings, 'id', ...batch.map((r) => r.id)])
  }
}

/** What the engine reads of an instance (not its bookkeeping times: fewer dates to decode). */
const INSTANCE_COLUMNS = [
  'id',
  'rule_id',
  'fingerprint',
  'labels',
  'state',
  'summary',
  'value',
  'active_at',
  'fired_at',
  'last_true_at',
  'last_notified_at',
  'resolved_at',
  'acked_by',
  'acked_at',
]

/** The instances of these rules, all of them (inactive and resolved ones too: their rows are reused). One query per batch of rule ids. */
export async function loadInstances(tx: Knex, ruleIds: readonly number[]): Promise<AlertInstanceRow[]> {
  const rows: AlertInstanceRow[] = []
  for (const batch of chunks(ruleIds, 1000))
    rows.push(...((await tx('alert_instances').whereIn('rule_id', batch).select(INSTANCE_COLUMNS)) as AlertInstanceRow[]))
  return rows
}
