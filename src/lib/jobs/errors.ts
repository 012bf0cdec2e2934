import {describeDriverError} from '../db/driver-errors.js'
import {ConnectionError, ExitCode, RaiopsError} from '../errors/index.js'

/** Socket errors: the server could not be reached, or the connection broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED'])

/** Driver codes for a lost connection, a timeout, a server starting or shutting down, a deadlock, a lock wait or a busy database. */
const DRIVER_CODES = new Set([
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'ER_QUERY_TIMEOUT',
  'ER_CLIENT_INTERACTION_TIMEOUT',
  // the mariadb connector's names of MariaDB's own errors
  'ER_STATEMENT_TIMEOUT',
  'ER_CONNECTION_KILLED',
  // PostgreSQL SQLSTATEs: serialization failure, deadlock, too many connections, query canceled (statement_timeout), lock not available, shutdown
  '40001',
  '40P01',
  '53300',
  '57014',
  '55P03',
  '57P01',
  '57P02',
  '57P03',
])

/** better-sqlite3's codes, extended ones included (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE): matched by prefix. */
const SQLITE_PREFIXES = ['SQLITE_BUSY', 'SQLITE_LOCKED']

/**
 * MySQL and MariaDB error numbers of the same (some drivers give only the
 * number: mysql2 has no name for MariaDB's own, such as 1969
 * max_statement_time and 1927 connection killed); 3024 is MySQL's
 * max_execution_time, 4031 a connection closed for inactivity.
 */
const MYSQL_ERRNOS = new Set([1040, 1053, 1205, 1213, 1317, 1927, 1969, 2002, 2003, 2006, 2013, 3024, 4031])

/** Messages of errors that carry no code: pg's timeouts and broken connections, knex's and tarn's timeouts. */
const TRANSIENT_MESSAGES = [
  /^timeout expired$/,
  /^Connection terminated/,
  /^Query read timeout$/,
  /Defined query timeout of \d+\s*ms/,
  /^Knex: Timeout acquiring a connection/,
  /^operation timed out/,
]

interface ErrorLike {
  name?: string
  code?: unknown
  errno?: unknown
  message?: unknown
  cause?: unknown
  errors?: unknown
}

/**
 * Whether a step's error may go away by itself (a server unreachable or
 * restarting, a timeout, a deadlock): those are retried with backoff. A
 * RaiopsError that is not a ConnectionError (bad input, a name taken, a missing
 * thing) is permanent, and so is anything unknown: retrying a bug repeats it.
 */
export function isTransientError(error: unknown): boolean {
  let current = error as ErrorLike | null | undefined
  for (let depth = 0; current && typeof current === 'object' && depth < 6; depth++) {
    if (current instanceof ConnectionError) return true
    if (current instanceof RaiopsError) return false
    const code = current.code
    if (
      typeof code === 'string' &&
      (NETWORK_CODES.has(code) || DRIVER_CODES.has(code) || code.startsWith('08') || SQLITE_PREFIXES.some((prefix) => code.startsWith(prefix)))
    )
      return true
    if (typeof current.errno === 'number' && MYSQL_ERRNOS.has(current.errno) && typeof current.code !== 'string') return true
    if (current.name === 'KnexTimeoutError' || current.name === 'TimeoutError' || current.name === 'DeadlineError') return true
    if (typeof current.message === 'string' && TRANSIENT_MESSAGES.some((re) => re.test(current?.message as string))) return true
    if (current.name === 'AggregateError' && Array.isArray(current.errors) && current.errors.length > 0) {
      current = current.errors[0] as ErrorLike
      continue
    }
    current = current.cause as ErrorLike | null | undefined
  }
  return false
}

/** One line for a job's or step's error column: a RaiopsError's message, a driver error as describeDriverError says it. */
export function describeJobError(error: unknown): string {
  if (error instanceof RaiopsError) return error.message
  return describeDriverError(error)
}

/**
 * The exit code of a command whose job ended failed (`tenant:create`,
 * `job:retry`): 2 for a permanent failure (something to fix: a name taken, a
 * server locked), 1 for a transient one that exhausted its retries (a server
 * unreachable: retry it once it is back); null when the job did not fail.
 */
export function failedJobExitCode(job: {state: string; errorKind: 'transient' | 'permanent' | null}): ExitCode | null {
  if (job.state !== 'failed') return null
  return job.errorKind === 'transient' ? ExitCode.unexpected : ExitCode.badInput
}
