import type {Knex} from 'knex'
import {existsSync} from 'node:fs'

import type {RdsEngine} from './connection-spec.js'
import {quietLog} from './knex-log.js'
import {int8FromText} from './values.js'

/** Timeouts and pool size for the knex instance of one RDS (DESIGN.md §4, security-facts §7). */
export interface FleetOptions {
  /** TCP connect + handshake limit (mysql2 `connectTimeout`, pg `connectionTimeoutMillis`). */
  connectTimeoutMs: number
  /**
   * Server-side statement cap set on every new connection (MariaDB `max_statement_time`,
   * MySQL `max_execution_time`, PostgreSQL `statement_timeout`) plus pg's client-side
   * `query_timeout`. 0 disables the caps. Callers still put `.timeout(ms)` on queries.
   */
  queryTimeoutMs: number
  /** Connections per RDS; 2 unless told (always 1 for SQLite). */
  poolMax?: number
  /** Receives knex's warnings (one line, may name a host) instead of the console. Default: dropped. */
  onWarning?: (message: string) => void
}

/**
 * The control database: raiops' own store. A few connections shared by a
 * command's services, no statement cap, and on SQLite a file that `init` creates.
 */
export interface ControlDbOptions {
  controlDb: true
  /** TCP connect + handshake limit. */
  connectTimeoutMs: number
}

/** Where a knex instance connects: an RDS of the fleet or the control database. */
export interface KnexTarget {
  engine: RdsEngine
  host?: string | null
  port?: number | null
  username?: string | null
  password?: string | null
  /** The database name; for SQLite, the file. */
  database: string
}

const isControl = (options: FleetOptions | ControlDbOptions): options is ControlDbOptions => 'controlDb' in options

/** The control database's pool on a server: its commands are short, a few connections suffice. */
const CONTROL_POOL_MAX = 4
const CONTROL_ACQUIRE_MARGIN_MS = 3000

/** How long a pool waits for a connection: strictly more than the connect timeout, so the real connect error wins. */
export function acquireTimeoutFor(options: FleetOptions | ControlDbOptions): number {
  if (isControl(options)) return options.connectTimeoutMs + CONTROL_ACQUIRE_MARGIN_MS
  return options.connectTimeoutMs + Math.max(1000, Math.round(options.connectTimeoutMs / 2))
}

/** pg's client-side query limit: a little after the server's statement_timeout, for a server that answers nothing. */
const PG_QUERY_TIMEOUT_MARGIN_MS = 1000

/** ER_UNKNOWN_SYSTEM_VARIABLE: a server too old for a statement cap. */
const ER_UNKNOWN_SYSTEM_VARIABLE = 1193

/** The part of a mysql2 (callback API) connection afterCreate needs. */
interface Mysql2RawConnection {
  _isMariaDB?: boolean
  _handshakePacket?: {serverVersion?: string} | null
  stream?: {destroy(): void}
  query(options: {sql: string; timeout?: number}, callback: (error: (Error & {errno?: number}) | null) => void): unknown
}

/** True when the handshake says MariaDB (its version reads `5.5.5-10.x-MariaDB…` or `11.x-MariaDB…`). */
export function isMariaDbVersion(serverVersion: string): boolean {
  return /mariadb/i.test(serverVersion)
}

/** The statement that caps every statement of the session at `ms` on the server. */
export function statementCapSql(mariaDb: boolean, ms: number): string {
  if (mariaDb) return `SET SESSION max_statement_time=${(ms / 1000).toFixed(3)}`
  return `SET SESSION max_execution_time=${Math.round(ms)}`
}

function mysqlAfterCreate(queryTimeoutMs: number) {
  return (connection: Mysql2RawConnection, done: (error: Error | null, connection: Mysql2RawConnection) => void): void => {
    const version = connection._handshakePacket?.serverVersion ?? ''
    const sql = statementCapSql(connection._isMariaDB ?? isMariaDbVersion(version), queryTimeoutMs)
    connection.query({sql, timeout: queryTimeoutMs}, (error) => {
      if (!error || error.errno === ER_UNKNOWN_SYSTEM_VARIABLE) return done(null, connection)
      // A connection whose setup failed is never handed out; cut its socket now
      // (mysql2's destroy() only half-closes, which a silent server never answers).
      connection.stream?.destroy()
      done(error, connection)
    })
  }
}

/** An error shaped like the driver's, for a SQLite file that is not there. */
function missingSqliteFile(path: string): Error & {code: string} {
  const error = new Error(`no such file: ${path}`) as Error & {code: string}
  error.code = 'SQLITE_CANTOPEN'
  return error
}

/** The part of a better-sqlite3 connection the control database's afterCreate needs. */
interface SqliteRawConnection {
  pragma(sql: string): unknown
  prepare(sql: string): unknown
}

function controlSqliteAfterCreate(conn: SqliteRawConnection, done: (error: Error | null, conn: unknown) => void): void {
  conn.pragma('journal_mode = WAL')
  conn.pragma('busy_timeout = 10000')
  conn.pragma('foreign_keys = ON')
  // knex begins a transaction with a plain BEGIN, which takes the write lock
  // only at the first write: a transaction that reads first then fails at once
  // with "database is locked" (SQLITE_BUSY_SNAPSHOT) when another process
  // committed in between, instead of waiting its turn. BEGIN IMMEDIATE takes
  // the lock at the start, waiting up to the busy timeout for it.
  const prepare = conn.prepare.bind(conn)
  conn.prepare = (sql: string) => prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql)
  done(null, conn)
}

/** PostgreSQL's BIGINT (int8) type. */
const PG_INT8_OID = 20

/** The part of a pg client the control database's afterCreate needs. */
interface PgRawConnection {
  setTypeParser(oid: number, format: 'text', parse: (text: string) => unknown): void
}

/** A control database connection on PostgreSQL reads a BIGINT (the money columns, counts) as a number where one holds it exactly, else as pg's string. */
function controlPgAfterCreate(conn: PgRawConnection, done: (error: Error | null, conn: unknown) => void): void {
  conn.setTypeParser(PG_INT8_OID, 'text', int8FromText)
  done(null, conn)
}

/**
 * The pool. The control database's SQLite file has one connection, kept open
 * (its pragmas hold per connection), and knex's default wait for it; a fleet
 * pool starts empty, stays small, and fails a connect at once rather than retrying.
 */
function poolFor(engine: RdsEngine, options: FleetOptions | ControlDbOptions, acquireConnectionTimeout: number): Knex.PoolConfig {
  if (isControl(options))
    return engine === 'sqlite'
      ? {min: 1, max: 1, afterCreate: controlSqliteAfterCreate}
      : {min: 0, max: CONTROL_POOL_MAX, ...(engine === 'postgres' ? {afterCreate: controlPgAfterCreate} : {})}
  const pool: Knex.PoolConfig = {
    min: 0,
    max: engine === 'sqlite' ? 1 : (options.poolMax ?? 2),
    propagateCreateError: true,
    // tarn's destroy() waits for pending creates: never longer than this.
    createTimeoutMillis: acquireConnectionTimeout,
    destroyTimeoutMillis: Math.min(5000, acquireConnectionTimeout),
  }
  return engine === 'mysql' && options.queryTimeoutMs > 0 ? {...pool, afterCreate: mysqlAfterCreate(options.queryTimeoutMs)} : pool
}

/**
 * The knex configuration of one RDS of the fleet, or of the control database:
 * plain data plus a few callbacks, so building it loads no driver. Every timeout
 * is finite; knex's own warnings never reach the console.
 */
export function knexConfigFor(target: KnexTarget, options: FleetOptions | ControlDbOptions): Knex.Config {
  const control = isControl(options)
  // The control database on SQLite waits for its one connection as long as knex lets it: a command queues behind another.
  const acquireConnectionTimeout = control && target.engine === 'sqlite' ? undefined : acquireTimeoutFor(options)
  const pool = poolFor(target.engine, options, acquireConnectionTimeout ?? 0)
  // compileSqlOnError false: a failed query's message shows `?` placeholders, never the bound values (secrets).
  const common = {acquireConnectionTimeout, compileSqlOnError: false, log: quietLog(control ? undefined : options.onWarning)}
  const queryTimeoutMs = control ? 0 : options.queryTimeoutMs

  switch (target.engine) {
    case 'mysql':
      return {
        ...common,
        client: 'mysql2',
        connection: {
          host: target.host ?? '127.0.0.1',
          port: target.port ?? 3306,
          user: target.username ?? undefined,
          password: target.password ?? undefined,
          database: target.database,
          charset: 'utf8mb4',
          timezone: 'Z',
          connectTimeout: options.connectTimeoutMs,
        } satisfies Knex.MySql2ConnectionConfig,
        pool,
      }
    case 'postgres':
      return {
        ...common,
        client: 'pg',
        connection: {
          host: target.host ?? '127.0.0.1',
          port: target.port ?? 5432,
          user: target.username ?? undefined,
          password: target.password ?? undefined,
          database: target.database,
          // The fleet's sessions are named, so an RDS's own operators can tell raiops' from the application's.
          ...(control ? {} : {application_name: 'raiops'}),
          connectionTimeoutMillis: options.connectTimeoutMs,
          ...(queryTimeoutMs > 0 ? {statement_timeout: queryTimeoutMs, query_timeout: queryTimeoutMs + PG_QUERY_TIMEOUT_MARGIN_MS} : {}),
        } satisfies Knex.PgConnectionConfig,
        pool,
      }
    case 'sqlite': {
      const filename = target.database
      // The control database's file is created by init; an RDS's must be there. knex's
      // better-sqlite3 client does not pass `fileMustExist` to the driver, so check here:
      // a missing file must be an error, not a new empty database.
      const mustExist = (): Knex.BetterSqlite3ConnectionConfig => {
        if (filename !== ':memory:' && !existsSync(filename)) throw missingSqliteFile(filename)
        return {filename, options: {fileMustExist: true} as Knex.BetterSqlite3ConnectionConfig['options']}
      }
      return {
        ...common,
        client: 'better-sqlite3',
        connection: control ? {filename} : mustExist,
        useNullAsDefault: true,
        pool,
      }
    }
    default: {
      const engine: never = target.engine
      throw new Error(`unsupported engine: ${String(engine)}`)
    }
  }
}
