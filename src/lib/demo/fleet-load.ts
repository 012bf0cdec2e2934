import type {Knex} from 'knex'

import {
  assertPlan,
  locationRows,
  planCounts,
  routingRows,
  tenantRows,
  userRows,
  type FleetRow,
  type FleetTable,
  type RaiDataPlan,
  type RoutedDatabase,
} from './fleet-data.js'

/**
 * Writes generated fleet data into a RAI database: the tables of the fleet
 * contract (DESIGN.md §2) created with the knex schema builder as a Laravel
 * migration would, and the rows in multi-row batches inside bounded
 * transactions, on MariaDB/MySQL, PostgreSQL and SQLite alike.
 */

export type FleetEngine = 'mysql' | 'postgres' | 'sqlite'

export function fleetEngineOf(db: Knex): FleetEngine {
  const client = String(db.client.config.client)
  if (client === 'mysql' || client === 'mysql2') return 'mysql'
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') return 'postgres'
  if (client === 'sqlite3' || client === 'better-sqlite3') return 'sqlite'
  throw new Error(`fleet data: unsupported knex client ${client}`)
}

function timestamps(table: Knex.CreateTableBuilder): void {
  // Laravel's timestamps(): nullable, second precision, no time zone.
  table.timestamp('created_at', {useTz: false, precision: 0}).nullable()
  table.timestamp('updated_at', {useTz: false, precision: 0}).nullable()
}

type TableSet = {master?: boolean; omitTables?: readonly string[]}

const present = (options: TableSet) => {
  const omit = new Set(options.omitTables ?? [])
  return (table: FleetTable) => !omit.has(table) && (table !== 'user_email_routing' || options.master === true)
}

/** The secondary indexes of the fleet tables (names as knex gives them, as a Laravel migration would). */
const INDEXES: Record<FleetTable, (table: Knex.CreateTableBuilder | Knex.AlterTableBuilder) => void> = {
  tenants: () => {},
  users: (table) => {
    table.unique(['tenant_id', 'email'])
    table.index(['email'])
  },
  locations: (table) => {
    table.index(['tenant_id'])
  },
  user_email_routing: (table) => {
    table.index(['updated_at', 'id'])
    table.index(['email'])
  },
}

/**
 * Creates the fleet tables on `db`, as a Laravel RAI migration would: bigint
 * ids, utf8mb4_unicode_ci on MySQL, `user_email_routing` only when `master`.
 * Tables named in `omitTables` are left out (a broken RAI database).
 * `indexes: false` leaves the secondary indexes to `createFleetIndexes`, after a bulk load.
 */
export async function createFleetSchema(db: Knex, options: TableSet & {indexes?: boolean} = {}): Promise<void> {
  const has = present(options)
  const mysql = fleetEngineOf(db) === 'mysql'
  const create = (name: FleetTable, columns: (table: Knex.CreateTableBuilder) => void) =>
    db.schema.createTable(name, (table) => {
      if (mysql) {
        table.engine('InnoDB')
        table.charset('utf8mb4')
        table.collate('utf8mb4_unicode_ci')
      }
      columns(table)
      if (options.indexes !== false) INDEXES[name](table)
    })
  if (has('tenants')) {
    await create('tenants', (table) => {
      table.bigIncrements('id')
      table.string('name', 255).notNullable()
      table.string('primary_contact_name', 255).nullable()
      table.string('primary_contact_email', 255).nullable()
      table.string('status', 32).notNullable().defaultTo('active')
      timestamps(table)
    })
  }
  if (has('users')) {
    await create('users', (table) => {
      table.bigIncrements('id')
      table.bigInteger('tenant_id').unsigned().notNullable()
      table.string('name', 255).notNullable()
      table.string('email', 255).notNullable()
      table.string('password', 255).notNullable()
      table.string('status', 32).notNullable().defaultTo('active')
      table.boolean('is_ghost').notNullable().defaultTo(false)
      timestamps(table)
    })
  }
  if (has('locations')) {
    await create('locations', (table) => {
      table.bigIncrements('id')
      table.bigInteger('tenant_id').unsigned().notNullable()
      table.string('name', 255).notNullable()
      timestamps(table)
    })
  }
  if (has('user_email_routing')) {
    await create('user_email_routing', (table) => {
      table.bigIncrements('id')
      table.string('email', 255).notNullable()
      table.bigInteger('tenant_id').unsigned().notNullable()
      table.bigInteger('rds_instance_id').unsigned().notNullable()
      table.bigInteger('user_id').unsigned().notNullable()
      table.string('password_hash', 255).nullable()
      table.string('status', 32).notNullable().defaultTo('active')
      timestamps(table)
    })
  }
}

/** Adds the secondary indexes to tables created with `indexes: false` (built once from sorted data: faster than kept up row by row). */
export async function createFleetIndexes(db: Knex, options: TableSet = {}): Promise<void> {
  const has = present(options)
  for (const table of ['users', 'locations', 'user_email_routing'] as const) {
    if (has(table)) await db.schema.alterTable(table, (builder) => INDEXES[table](builder))
  }
}

/** Bind parameters one statement may carry (mysql2 inlines values client-side: no limit). */
const MAX_PARAMS: Record<FleetEngine, number> = {mysql: Number.POSITIVE_INFINITY, postgres: 65_535, sqlite: 32_766}
/** Statements per transaction: bounded so huge fixtures do not build one giant undo log. */
const STATEMENTS_PER_TRANSACTION = 100
/** Rows per transaction on SQLite, where rows go one prepared statement at a time. */
const SQLITE_ROWS_PER_TRANSACTION = 50_000

/** knex puts the whole statement in a driver error: keep the message readable (the SQL is 100s of kB). */
function insertFailed(table: FleetTable, rows: number, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error)
  const reason = message.length > 300 ? `${message.slice(0, 150)} … ${message.slice(-150)}` : message
  return new Error(`fleet data: inserting ${rows} rows into ${table} failed: ${reason}`, {cause: error})
}

interface SqliteStatement {
  run(...values: unknown[]): unknown
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement
  transaction<T>(fn: () => T): () => T
}

/**
 * SQLite runs in this process: one prepared INSERT per row inside large
 * transactions is its fastest path (no SQL to build or parse per batch).
 */
async function loadSqlite(db: Knex, table: FleetTable, rows: Iterable<FleetRow>): Promise<number> {
  const conn = (await db.client.acquireConnection()) as SqliteConnection
  try {
    const iterator = rows[Symbol.iterator]()
    let first = iterator.next()
    if (first.done) return 0
    const columns = Object.keys(first.value)
    const statement = conn.prepare(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
    let total = 0
    const chunk = conn.transaction(() => {
      for (let n = 0; n < SQLITE_ROWS_PER_TRANSACTION && !first.done; n++) {
        const row = first.value
        statement.run(...columns.map((c) => (typeof row[c] === 'boolean' ? (row[c] ? 1 : 0) : row[c])))
        total++
        first = iterator.next()
      }
    })
    try {
      while (!first.done) chunk()
    } catch (error) {
      throw insertFailed(table, 1, error)
    }
    return total
  } finally {
    await db.client.releaseConnection(conn)
  }
}

async function loadBatches(db: Knex, engine: FleetEngine, table: FleetTable, rows: Iterable<FleetRow>, batchSize: number): Promise<number> {
  const iterator = rows[Symbol.iterator]()
  let next = iterator.next()
  if (next.done) return 0
  const columns = Object.keys(next.value).length
  const perStatement = Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMS[engine] / columns)))
  let total = 0
  while (!next.done) {
    await db.transaction(async (trx) => {
      for (let s = 0; s < STATEMENTS_PER_TRANSACTION && !next.done; s++) {
        const batch: FleetRow[] = []
        while (batch.length < perStatement && !next.done) {
          batch.push(next.value)
          next = iterator.next()
        }
        try {
          await trx(table).insert(batch)
        } catch (error) {
          throw insertFailed(table, batch.length, error)
        }
        total += batch.length
      }
    })
  }
  if (engine === 'postgres') {
    // Explicit ids do not advance a serial: later inserts by tests would collide with id 1.
    await db.raw(`SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT MAX(id) FROM ??))`, [table, table])
  }
  return total
}

/** Inserts `rows` into `table`; returns how many. `batchSize`: rows per INSERT on a server (default 1000). */
export async function loadFleetRows(db: Knex, table: FleetTable, rows: Iterable<FleetRow>, options: {batchSize?: number} = {}): Promise<number> {
  const engine = fleetEngineOf(db)
  if (engine === 'sqlite') return loadSqlite(db, table, rows)
  return loadBatches(db, engine, table, rows, options.batchSize ?? 1000)
}

export interface RaiDatabaseSpec {
  plan: RaiDataPlan
  /** The databases whose users this one's `user_email_routing` lists (it is the master); absent: not the master. */
  routes?: readonly RoutedDatabase[]
  /** Tables to leave out, e.g. ['locations'] for a broken RAI database. */
  omitTables?: readonly string[]
  batchSize?: number
}

export interface RaiDatabaseCounts {
  tenants: number
  /** Regular users (is_ghost = false). */
  users: number
  ghostUsers: number
  locations: number
  /** user_email_routing rows (0 unless master). */
  routing: number
}

/**
 * Creates the fleet tables in an empty RAI database and fills them from the
 * plan. On a server, each table loads on a connection of its own (no foreign
 * keys between them), so the server writes one while the next batch is built.
 */
export async function writeRaiDatabase(db: Knex, spec: RaiDatabaseSpec): Promise<RaiDatabaseCounts> {
  assertPlan(spec.plan)
  for (const route of spec.routes ?? []) assertPlan(route.plan)
  const master = spec.routes !== undefined
  const has = present({master, omitTables: spec.omitTables})
  const sqlite = fleetEngineOf(db) === 'sqlite'
  // On SQLite the rows go in first and the indexes are built after, from sorted data.
  await createFleetSchema(db, {master, omitTables: spec.omitTables, indexes: !sqlite})
  const planned = planCounts(spec.plan)
  const counts: RaiDatabaseCounts = {tenants: 0, users: 0, ghostUsers: 0, locations: 0, routing: 0}
  const options = {batchSize: spec.batchSize}
  const loads: Array<() => Promise<void>> = []
  if (has('tenants')) loads.push(async () => void (counts.tenants = await loadFleetRows(db, 'tenants', tenantRows(spec.plan), options)))
  if (has('users')) {
    loads.push(async () => {
      await loadFleetRows(db, 'users', userRows(spec.plan), options)
      counts.users = planned.users
      counts.ghostUsers = planned.ghostUsers
    })
  }
  if (has('locations')) loads.push(async () => void (counts.locations = await loadFleetRows(db, 'locations', locationRows(spec.plan), options)))
  if (has('user_email_routing'))
    loads.push(async () => void (counts.routing = await loadFleetRows(db, 'user_email_routing', routingRows(spec.routes ?? []), options)))
  if (sqlite) {
    for (const run of loads) await run()
    await createFleetIndexes(db, {master, omitTables: spec.omitTables})
  } else {
    // allSettled: on a failure, let the other loads stop before the caller drops the database.
    const results = await Promise.allSettled(loads.map((run) => run()))
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
    if (failed) throw failed.reason
  }
  return counts
}
