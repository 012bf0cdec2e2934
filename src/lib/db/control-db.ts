import type {Knex} from 'knex'
import type {Tables} from 'knex/types/tables.js'
import {existsSync} from 'node:fs'

import {migrations} from '../../../migrations/index.js'
import {ConfigError, ConnectionError} from '../errors/index.js'
import {rememberSecret} from '../redact/index.js'
import {describeDriverError} from './driver-errors.js'
import {knexConfigFor} from './knex-config.js'
import type {ControlDbTarget} from './url.js'

export {parseDatabaseUrl} from './url.js'
export type {ControlDbTarget, ControlEngine} from './url.js'

export type Db = Knex | Knex.Transaction

/** The tables whose rows have an `id` of their own. */
type TableWithId = {[T in keyof Tables]: Tables[T] extends {id: number} ? T : never}[keyof Tables]

export interface OpenControlDbOptions {
  connectTimeoutMs?: number
}

/** Builds the knex instance for the control database. knex and its driver are loaded here, lazily. */
export async function openControlDb(target: ControlDbTarget, options: OpenControlDbOptions = {}): Promise<Knex> {
  const {default: knex} = await import('knex')
  const controlDb = {controlDb: true as const, connectTimeoutMs: options.connectTimeoutMs ?? 5000}
  if (target.engine === 'sqlite') return knex(knexConfigFor({engine: 'sqlite', database: target.sqliteFile as string}, controlDb))
  const {user: username, ...connection} = target.connection!
  rememberSecret(connection.password)
  return knex(knexConfigFor({engine: target.engine, username, ...connection}, controlDb))
}

/** Whether a SQLite control database file exists yet (other engines always "exist"). */
export function controlDbExists(target: ControlDbTarget): boolean {
  return target.engine !== 'sqlite' || existsSync(target.sqliteFile as string)
}

const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  async getMigrations() {
    return migrations
  },
  getMigrationName(migration) {
    return migration.name
  },
  async getMigration(migration) {
    return migration
  },
}

const MIGRATIONS_TABLE = 'knex_migrations'
const migrationConfig: Knex.MigratorConfig = {migrationSource, tableName: MIGRATIONS_TABLE}

export interface MigrationStatus {
  applied: string[]
  pending: string[]
}

export async function migrationStatus(db: Knex): Promise<MigrationStatus> {
  const [applied, pending] = (await db.migrate.list(migrationConfig)) as [Array<{name: string}>, Array<{name: string}>]
  return {
    applied: applied.map((m) => m.name),
    pending: pending.map((m) => (typeof m === 'string' ? m : (m as {name: string}).name)),
  }
}

/** Applies every pending migration; returns the names applied now. */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, names] = (await db.migrate.latest(migrationConfig)) as [number, string[]]
  return names
}

/** Rolls back every migration (tests and `db:migrate --down`). */
export async function migrateDownAll(db: Knex): Promise<string[]> {
  const [, names] = (await db.migrate.rollback(migrationConfig, true)) as [number, string[]]
  return names
}

function unreachable(target: ControlDbTarget, error: unknown): ConnectionError {
  const hint =
    target.engine === 'sqlite'
      ? 'check the file and its directory'
      : (isMissingDatabase(error) && createDatabaseHint(target)) || 'check RAIOPS_DATABASE_URL and that the server is running'
  return new ConnectionError(`cannot use the control database ${target.display}: ${describeDriverError(error)}`, {hint, cause: error})
}

/** Whether a driver error says the database named in the URL does not exist (MySQL/MariaDB 1049, PostgreSQL 3D000). */
function isMissingDatabase(error: unknown): boolean {
  const e = error as {code?: string; errno?: number} | null
  return e?.code === 'ER_BAD_DB_ERROR' || e?.errno === 1049 || e?.code === '3D000'
}

/** The one command that creates the control database of `target` on its server (never with its password), then init. */
function createDatabaseHint(target: ControlDbTarget): string | null {
  const c = target.connection
  if (!c || !/^[A-Za-z_][\w$]*$/.test(c.database) || !/^[\w.:-]+$/.test(c.host) || !/^[\w.@-]+$/.test(c.user)) return null
  const command =
    target.engine === 'mysql'
      ? `mysql -h ${c.host} -P ${c.port} -u ${c.user}${c.password ? ' -p' : ''} -e 'CREATE DATABASE ${c.database} CHARACTER SET utf8mb4'`
      : `createdb -h ${c.host} -p ${c.port} -U ${c.user} ${c.database}`
  return `create it with \`${command}\`, then run \`raiops init\``
}

/** Checks that the control database answers, naming it (never its password) when it does not. */
export async function assertReachable(db: Knex, target: ControlDbTarget): Promise<void> {
  try {
    await db.raw('select 1')
  } catch (error) {
    throw unreachable(target, error)
  }
}

/**
 * Checks that the control database answers and is fully migrated, turning the
 * driver's failure into a one-line error that names the database (never its password).
 */
export async function assertReady(db: Knex, target: ControlDbTarget): Promise<void> {
  let applied: Set<string> | null
  try {
    applied = await appliedMigrations(db)
  } catch (error) {
    throw unreachable(target, error)
  }
  const pending = migrations.filter((m) => !applied?.has(m.name))
  if (pending.length > 0) {
    throw new ConfigError(
      `the control database ${target.display} is not ${applied === null || applied.size === 0 ? 'initialised' : 'up to date'} (${pending.length} migration(s) pending)`,
      {hint: applied === null || applied.size === 0 ? 'run `raiops init`' : 'run `raiops db:migrate`'},
    )
  }
}

/**
 * The applied migrations' names, or null when there is no migrations table: one
 * indexed read on every command, where knex's status walks the catalogue first.
 */
async function appliedMigrations(db: Knex): Promise<Set<string> | null> {
  try {
    const rows = await db(MIGRATIONS_TABLE).select('name')
    return new Set(rows.map((row) => row.name))
  } catch (error) {
    if (isMissingTable(error)) return null
    throw error
  }
}

/** Whether a driver error says the table does not exist, on any engine. */
function isMissingTable(error: unknown): boolean {
  const e = error as {code?: string; errno?: number; message?: string} | null
  return e?.code === 'ER_NO_SUCH_TABLE' || e?.code === '42P01' || (e?.code === 'SQLITE_ERROR' && /no such table/i.test(e.message ?? ''))
}

/** Inserts one row of a control table and returns its id, on every engine (MySQL has no RETURNING). */
export async function insertReturningId<T extends TableWithId>(db: Db, table: T, row: Partial<Tables[T]>): Promise<number> {
  return insertRowReturningId(db, table, row)
}

/** Inserts one row of any table with an `id` (a fleet table, which Tables does not type) and returns its id, on every engine. */
export async function insertRowReturningId(db: Db, table: string, row: object): Promise<number> {
  const insert = db.insert(row).into(table)
  if (db.client.config.client === 'mysql2') {
    const [id] = await insert
    return Number(id)
  }
  const [inserted] = await insert.returning<Array<{id: number} | number>>('id')
  return Number(typeof inserted === 'object' ? inserted.id : inserted)
}

/** Whether a driver error is a unique-constraint violation, on any engine. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as {code?: string; errno?: number} | null
  return e?.code === 'ER_DUP_ENTRY' || e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

/** Runs `fn` in a transaction: the one `db` is, or a new one (a step recorded in its own transaction, see jobs' `control` steps). */
export async function inTransaction<T>(db: Db, fn: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
  if ((db as Knex.Transaction).isTransaction === true) return fn(db as Knex.Transaction)
  return db.transaction(fn)
}
