import {scrubText} from '../redact/index.js'

interface DriverErrorLike {
  name?: string
  message?: string
  code?: string
  errno?: number
  sqlMessage?: string
  address?: string
  port?: number
  cause?: unknown
  errors?: unknown[]
}

export interface FailureContext {
  /**
   * How long the server had sent nothing on any of its connections when the
   * work failed, ms (ConnectionRegistry.quietMs); null or absent: unknown.
   */
  quietMs?: number | null
  /**
   * The fleet RDS the work ran on, by name: a table or column the RAI schema
   * should have and the server lacks is then said as such (the server does not
   * follow the fleet contract), not as the driver words it.
   */
  rds?: string
}

/**
 * One line naming the real cause of a driver failure. knex's acquire timeout says
 * "pool is probably full" whatever happened; the cause it wraps (knex ≥ 3.3) is
 * what the operator needs: refused, timed out, access denied, unknown database.
 * A timeout says which limit passed and, given `context.quietMs`, whether the
 * server had stopped sending (a server stalled in the middle of a result) or
 * was still sending (a slow query). The text is scrubbed of every secret this
 * process has handled.
 */
export function describeDriverError(error: unknown, context: FailureContext = {}): string {
  return scrubText(describe(error, 0, context))
}

/** A duration for a message: "3 s", "1.5 s", "250 ms". */
function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`
}

/** What the server did while a limit ran out: silent since when, or still sending. */
function serverSide(context: FailureContext): string {
  const quiet = context.quietMs
  if (quiet === null || quiet === undefined) return ''
  return quiet >= 1000 ? ` with no data from the server for ${duration(quiet)}` : ' while the server was still sending'
}

/** tarn's TimeoutError names itself "Error": it is known by its class name. */
const isPoolTimeout = (e: DriverErrorLike): boolean => e.name === 'TimeoutError' || (e as {constructor?: {name?: string}}).constructor?.name === 'TimeoutError'

function describe(error: unknown, depth: number, context: FailureContext): string {
  if (error === null || error === undefined) return 'unknown error'
  if (typeof error !== 'object') return String(error)
  const e = error as DriverErrorLike
  const queryTimeout = e.name === 'KnexTimeoutError' ? /Defined query timeout of (\d+)\s*ms/.exec(e.message ?? '') : null
  if (queryTimeout) return `the query timed out: its timeout of ${duration(Number(queryTimeout[1]))} passed${serverSide(context)}`
  if (e.name === 'KnexTimeoutError' && e.cause && depth < 3) return describe(e.cause, depth + 1, context)
  // The fan-out's per-RDS deadline.
  if (e.name === 'DeadlineError') return `${e.message ?? 'timed out'}${serverSide(context)}`
  // tarn's acquire timeout (the cause knex ≥ 3.3 wraps): the message of the last create error, if any.
  if (isPoolTimeout(e) && e.message === 'operation timed out for an unknown reason') {
    if (context.quietMs !== null && context.quietMs !== undefined)
      return `no connection to the server came free in time (each waits on a query)${serverSide(context)}`
    return 'timed out waiting for a connection: the server did not finish the connection in time, or every pooled connection is busy'
  }
  if (isPoolTimeout(e) && e.message && depth > 0) return `timed out waiting for a connection: ${firstLine(e.message)}`
  if (e.name === 'AggregateError' && Array.isArray(e.errors) && e.errors.length > 0 && depth < 3) {
    return describe(e.errors[0], depth + 1, context)
  }
  const where = e.address ? ` (${e.address}${e.port ? `:${e.port}` : ''})` : ''
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused${where}: nothing is listening there`
    case 'ETIMEDOUT':
      return `connection timed out${where}: the server accepted no connection or sent no greeting in time`
    case 'ECONNRESET':
      return `connection reset by the server${where}`
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable${where}`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found${e.message ? ` (${(e.message.split(' ').pop() ?? '').trim()})` : ''}`
    case 'PROTOCOL_CONNECTION_LOST':
      return 'the server closed the connection'
    case 'PROTOCOL_SEQUENCE_TIMEOUT':
      return `the query timed out${serverSide(context)}`
    case 'ER_ACCESS_DENIED_ERROR':
    case '28P01':
      return `access denied: ${firstLine(e.sqlMessage ?? withoutSql(e.message))} (check the username and password)`
    case 'ER_BAD_DB_ERROR':
    case '3D000':
      return `unknown database: ${firstLine(e.sqlMessage ?? withoutSql(e.message))}`
    case 'SQLITE_CANTOPEN':
      return `cannot open the SQLite file: ${firstLine(e.message)}`
    default:
      break
  }
  if (e.name === 'KnexTimeoutError') return 'timed out waiting for a connection'
  if (!e.code) {
    switch (e.message) {
      // pg: connectionTimeoutMillis passed before the server's greeting
      case 'timeout expired':
      case 'Connection terminated due to connection timeout':
        return 'connection timed out: the server accepted no connection or sent no greeting in time'
      // pg: query_timeout passed with no answer
      case 'Query read timeout':
        return context.quietMs === null || context.quietMs === undefined
          ? 'the query timed out: the server sent no answer in time'
          : `the query timed out${serverSide(context)}`
      // tarn: a wait for a connection cut short because the pool was destroyed
      case 'aborted':
        return 'cancelled: the connection pool was closed while waiting for a connection'
      default:
        break
    }
  }
  if (context.rds !== undefined) {
    const schema = schemaMismatch(e, context.rds)
    if (schema) return schema
  }
  const message = firstLine(e.sqlMessage ?? withoutSql(e.message) ?? String(error))
  return e.code && !message.includes(e.code) ? `${message} (${e.code})` : message
}

const NOT_THE_CONTRACT = 'it does not follow the RAI schema raiops reads (see README, fleet contract)'

/** A name as a driver quotes it (`db`.`t`, "t", 'db.t', t.c): its last part, unquoted. */
const bare = (name: string): string => (name.replace(/[`"']/g, '').split('.').pop() ?? name).trim()

/**
 * A table or column the RAI schema has and the RDS lacks (MySQL/MariaDB,
 * PostgreSQL, SQLite), said against the fleet contract. The table of a missing
 * column is read from the failed statement when it reads one table only.
 */
function schemaMismatch(e: DriverErrorLike, rds: string): string | null {
  const text = e.sqlMessage ?? withoutSql(e.message) ?? ''
  const table =
    (e.code === 'ER_NO_SUCH_TABLE' && /^Table (\S+) doesn't exist/.exec(text)) ||
    (e.code === '42P01' && /^relation (\S+) does not exist/.exec(text)) ||
    (e.code === 'SQLITE_ERROR' && /no such table: (\S+)/.exec(text))
  if (table) return `the RAI database on ${rds} has no table ${bare(table[1])}: ${NOT_THE_CONTRACT}`
  const column =
    (e.code === 'ER_BAD_FIELD_ERROR' && /^Unknown column (\S+) in /.exec(text)) ||
    (e.code === '42703' && /^column (\S+) does not exist/.exec(text)) ||
    (e.code === 'SQLITE_ERROR' && /no such column: (\S+)/.exec(text))
  if (!column) return null
  const from = statementTable(e.message)
  return `${from ? `the ${from} table` : 'the RAI database'} on ${rds} has no column ${bare(column[1])}: ${NOT_THE_CONTRACT}`
}

/** The one table a failed statement (in knex's `<sql> - <error>`) reads; null when it joins or names none. */
function statementTable(message: string | undefined): string | null {
  if (!message || !SQL_PREFIX.test(message) || message.lastIndexOf(' - ') <= 0) return null
  const sql = message.slice(0, message.lastIndexOf(' - '))
  if (/\bjoin\b/i.test(sql)) return null
  const from = /\bfrom\s+((?:[`"]?\w+[`"]?\.)*[`"]?\w+[`"]?)/i.exec(sql)
  return from ? bare(from[1]) : null
}

/** knex prefixes a failed query's error with `<sql> - `: the operator needs the cause, not the statement. */
const SQL_PREFIX =
  /^\s*(select|insert|update|delete|with|show|set|create|alter|drop|pragma|begin|commit|rollback|savepoint|release|truncate|replace|call|explain|lock|unlock|grant|revoke|use|analyze|vacuum)\b/i

function withoutSql(message: string | undefined): string | undefined {
  if (message === undefined) return undefined
  const cut = message.lastIndexOf(' - ')
  if (cut <= 0 || !SQL_PREFIX.test(message)) return message
  return message.slice(cut + 3)
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0].trim() || 'unknown error'
}
