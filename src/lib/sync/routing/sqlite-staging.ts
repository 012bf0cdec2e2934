import type {Knex} from 'knex'

import type {Db} from '../../db/control-db.js'

/**
 * A table rebuilt on a SQLite control database without holding its write lock
 * for more than a moment. SQLite has one writer for the whole file: a rebuild
 * in one transaction would make every other command that writes (a token's
 * last use, an audit entry, a health check, the webhook receiver) wait for it
 * and fail with "database is locked" after the busy timeout.
 *
 * So the new rows go into a staging table with the same columns and indexes,
 * each batch in a short transaction of its own, and one short transaction at
 * the end drops the old table and renames the staging table in its place.
 * Readers see the old table until that commit; a run that fails drops the
 * staging table, and one that was killed leaves it behind for the next run to
 * drop. Nothing else writes the table meanwhile: the caller holds its lease.
 */

/** Whether the control database is SQLite (one writer at a time for the whole file). */
export const isSqlite = (db: Db): boolean => db.client.config.client === 'better-sqlite3'

/** Rows per short transaction when the current rows are copied into the staging table. */
const COPY_BATCH = 5000

/**
 * Index names are global in a SQLite file and an index keeps its name when its
 * table is renamed: the staging table's indexes take the other name of a pair,
 * so the live table's indexes alternate between `name` and `name_alt`.
 */
const ALTERNATE = '_alt'
const otherName = (name: string): string => (name.endsWith(ALTERNATE) ? name.slice(0, -ALTERNATE.length) : `${name}${ALTERNATE}`)

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`

/** A row of sqlite_master: a table, an index, a view or a trigger, and the SQL that created it. */
interface SchemaRow {
  type: string
  name: string
  tbl_name: string
  sql: string
}

/** Creates `staging` with the columns, constraints and indexes of `table`, as the file defines them now. */
async function createLike(tx: Db, table: string, staging: string): Promise<void> {
  const schema = await tx<SchemaRow>('sqlite_master').select('type', 'name', 'sql').where({tbl_name: table}).whereNotNull('sql')
  const definition = schema.find((row) => row.type === 'table')
  const named = definition ? /^(CREATE\s+TABLE\s+)(?:"[^"]+"|`[^`]+`|\S+?)(\s*\()/i.exec(definition.sql) : null
  if (!definition || !named) throw new Error(`cannot read the definition of the table ${table}`)
  await tx.raw(`${named[1]}${quote(staging)}${named[2]}${definition.sql.slice(named[0].length)}`)
  for (const index of schema.filter((row) => row.type === 'index')) {
    const parts = /^CREATE\s+(UNIQUE\s+)?INDEX\s+(?:"[^"]+"|`[^`]+`|\S+)\s+ON\s+(?:"[^"]+"|`[^`]+`|\S+?)\s*(\(.*)$/is.exec(index.sql)
    if (!parts) throw new Error(`cannot copy the index ${index.name} of ${table}: ${index.sql}`)
    await tx.raw(`CREATE ${parts[1] ?? ''}INDEX ${quote(otherName(index.name))} ON ${quote(staging)} ${parts[2]}`)
  }
}

async function dropTable(db: Db, name: string): Promise<void> {
  await db.raw(`DROP TABLE IF EXISTS ${quote(name)}`)
}

/** Copies every row of `table` into `staging`, in id order, one short transaction per batch. */
async function copyRows(db: Knex, table: string, staging: string, signal: AbortSignal | undefined): Promise<void> {
  let after = 0
  for (;;) {
    signal?.throwIfAborted()
    const last = await db.transaction(async (tx) => {
      await tx.raw(`INSERT INTO ${quote(staging)} SELECT * FROM ${quote(table)} WHERE id > ? ORDER BY id LIMIT ?`, [after, COPY_BATCH])
      const [row] = await tx<{id: unknown}>(staging).max({id: 'id'})
      return row?.id === null || row?.id === undefined ? after : Number(row.id)
    })
    if (last === after) return
    after = last
  }
}

export interface StagedRebuild {
  /** The staging table's name, for the writes of `fill`. */
  staging: string
  /** Runs `work` in a short transaction of its own. */
  write(work: (tx: Db) => Promise<void>): Promise<void>
}

/**
 * Rebuilds `table` through a staging table (see above). With `copy`, the staging
 * table starts as a copy of the current rows (ids kept), for a run that only
 * writes what differs; without, it starts empty. `fill` writes the new content
 * through `write`; `atSwap` runs inside the swap's transaction (a watermark that
 * must commit with the new rows). Any failure drops the staging table and
 * leaves `table` as it was.
 */
export async function rebuildThroughStaging(
  db: Knex,
  options: {
    table: string
    staging: string
    copy: boolean
    signal?: AbortSignal
    fill: (rebuild: StagedRebuild) => Promise<void>
    atSwap: (tx: Db) => Promise<void>
  },
): Promise<void> {
  const {table, staging} = options
  // A staging table left by a run that was killed is stale: start again.
  await db.transaction(async (tx) => {
    await dropTable(tx, staging)
    await createLike(tx, table, staging)
  })
  try {
    if (options.copy) await copyRows(db, table, staging, options.signal)
    await options.fill({staging, write: (work) => db.transaction((tx) => work(tx))})
    options.signal?.throwIfAborted()
    // Dropping the old table frees its pages at once (tens of ms for a million rows) and its index names.
    await db.transaction(async (tx) => {
      await dropTable(tx, table)
      await tx.raw(`ALTER TABLE ${quote(staging)} RENAME TO ${quote(table)}`)
      await options.atSwap(tx)
    })
  } catch (error) {
    await dropTable(db, staging).catch(() => undefined)
    throw error
  }
}
