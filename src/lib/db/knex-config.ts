import {existsSync} from 'node:fs'

import type {Knex} from 'knex'

import {quietLog} from './knex-log.js'
import type {RdsConnectionSpec} from './connection-spec.js'

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

/** How long a pool waits for a connection: strictly more than the connect timeout, so the real connect error wins. */
export function acquireTimeoutFor(options: FleetOptions): number {
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

/**
 * The knex configuration of one RDS. Plain data plus a few callbacks: building it
 * loads no driver. Pools start empty (min 0) and stay small; every timeout is
 * finite; knex's own warnings never reach the console.
 */
export function knexConfigFor(spec: RdsConnectionSpec, options: FleetOptions): Knex.Config {
  const acquireConnectionTimeout = acquireTimeoutFor(options)
  const pool: Knex.PoolConfig = {
    min: 0,
    max: options.poolMax ?? 2,
    propagateCreateError: true,
    // tarn's destroy() waits for pending creates: never longer than this.
    createTimeoutMillis: acquireConnectionTimeout,
    destroyTimeoutMillis: Math.min(5000, acquireConnectionTimeout),
  }
  // compileSqlOnError false: a failed query's message shows `?` placeholders, never the bound values (secrets).
  const common = {acquireConnectionTimeout, compileSqlOnError: false, log: quietLog(options.onWarning)}

  switch (spec.engine) {
    case 'mysql':
      return {
        ...common,
        client: 'mysql2',
        connection: {
          host: spec.host ?? '127.0.0.1',
          port: spec.port ?? 3306,
          user: spec.username ?? undefined,
          password: spec.password ?? undefined,
          database: spec.database,
          charset: 'utf8mb4',
          timezone: 'Z',
          connectTimeout: options.connectTimeoutMs,
        } satisfies Knex.MySql2ConnectionConfig,
        pool: options.queryTimeoutMs > 0 ? {...pool, afterCreate: mysqlAfterCreate(options.queryTimeoutMs)} : pool,
      }
    case 'postgres':
      return {
        ...common,
        client: 'pg',
        connection: {
          host: spec.host ?? '127.0.0.1',
          port: spec.port ?? 5432,
          user: spec.username ?? undefined,
          password: spec.password ?? undefined,
          database: spec.database,
          application_name: 'raiops',
          connectionTimeoutMillis: options.connectTimeoutMs,
          ...(options.queryTimeoutMs > 0
            ? {statement_timeout: options.queryTimeoutMs, query_timeout: options.queryTimeoutMs + PG_QUERY_TIMEOUT_MARGIN_MS}
            : {}),
        } satisfies Knex.PgConnectionConfig,
        pool,
      }
    case 'sqlite': {
      const filename = spec.database
      // knex's better-sqlite3 client does not pass `fileMustExist` to the driver, so
      // check here: a missing file must be an error, not a new empty database.
      const connection = (): Knex.BetterSqlite3ConnectionConfig => {
        if (filename !== ':memory:' && !existsSync(filename)) throw missingSqliteFile(filename)
        return {filename, options: {fileMustExist: true} as Knex.BetterSqlite3ConnectionConfig['options']}
      }
      return {
        ...common,
        client: 'better-sqlite3',
        connection,
        useNullAsDefault: true,
        pool: {...pool, max: 1},
      }
    }
    default: {
      const engine: never = spec.engine
      throw new Error(`unsupported engine: ${String(engine)}`)
    }
  }
}
