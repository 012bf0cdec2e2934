import type {RdsEngine} from './connection-spec.js'

/** The rows of a `knex.raw` result, whatever the dialect's shape. */
export function rowsOf(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) {
    // mysql2: [rows, fields]; better-sqlite3: rows
    return (Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>
  }
  const rows = (result as {rows?: unknown} | null)?.rows
  return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : []
}

/** The server's version, as one column `version`, on every engine. */
export const VERSION_SQL: Record<RdsEngine, string> = {
  mysql: 'SELECT VERSION() AS version',
  postgres: "SELECT current_setting('server_version') AS version",
  sqlite: 'select sqlite_version() as version',
}
