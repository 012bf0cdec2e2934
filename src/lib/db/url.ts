import {existsSync, statSync} from 'node:fs'
import {dirname, isAbsolute, join} from 'node:path'

import {ConfigError} from '../errors/index.js'

export type ControlEngine = 'sqlite' | 'mysql' | 'postgres'

export interface ControlDbTarget {
  engine: ControlEngine
  /** knex `client` name. */
  client: 'better-sqlite3' | 'mysql2' | 'pg'
  /** What to show the user: the URL without its password. */
  display: string
  sqliteFile?: string
  connection?: {host: string; port: number; user: string; password: string; database: string}
}

const DEFAULT_PORTS = {mysql: 3306, postgres: 5432} as const

/**
 * One part of the URL, percent-decoded. A "%" not followed by two hex digits
 * (or bytes that are not UTF-8) is named by the part it is in, never shown:
 * it may be in the password.
 */
function decodePart(value: string, part: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    throw new ConfigError(`RAIOPS_DATABASE_URL: the ${part} holds a malformed percent-escape ("%" must be followed by two hex digits of UTF-8)`, {
      hint: `write a literal "%" in the ${part} as %25, and other special characters percent-encoded (encodeURIComponent)`,
    })
  }
}

/**
 * Turns RAIOPS_DATABASE_URL (or its absence) into a connection target.
 * Every problem is a one-line ConfigError naming the variable.
 */
export function parseDatabaseUrl(url: string | undefined, home: string): ControlDbTarget {
  if (url === undefined) {
    const file = join(home, 'raiops.sqlite')
    return {engine: 'sqlite', client: 'better-sqlite3', display: `sqlite://${file}`, sqliteFile: file}
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError('RAIOPS_DATABASE_URL is not a valid URL', {
      hint: 'use mysql://user:pass@host:3306/raiops, postgres://user@host:5432/raiops or sqlite:///absolute/path.db',
    })
  }
  const scheme = parsed.protocol.replace(/:$/, '')
  if (scheme === 'sqlite') {
    const file = decodePart(parsed.pathname, 'file path')
    if (parsed.host !== '' || !isAbsolute(file) || file === '/') {
      throw new ConfigError('RAIOPS_DATABASE_URL: a sqlite URL needs an absolute file path, as sqlite:///var/lib/raiops/raiops.db')
    }
    const dir = dirname(file)
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ConfigError(`RAIOPS_DATABASE_URL: directory ${dir} does not exist`, {
        hint: `create it (mkdir -p ${dir}) or point the URL elsewhere`,
      })
    }
    return {engine: 'sqlite', client: 'better-sqlite3', display: `sqlite://${file}`, sqliteFile: file}
  }
  const engine: ControlEngine | undefined =
    scheme === 'mysql' || scheme === 'mariadb' ? 'mysql' : scheme === 'postgres' || scheme === 'postgresql' ? 'postgres' : undefined
  if (!engine) {
    throw new ConfigError(`RAIOPS_DATABASE_URL: unsupported scheme "${scheme}"`, {hint: 'use mysql://, postgres:// or sqlite://'})
  }
  const database = decodePart(parsed.pathname.replace(/^\//, ''), 'database name')
  if (!parsed.hostname) throw new ConfigError(`RAIOPS_DATABASE_URL: the ${scheme} URL has no host`)
  if (!database || database.includes('/')) {
    throw new ConfigError(`RAIOPS_DATABASE_URL: the ${scheme} URL must name one database, as ${scheme}://user@host/raiops`)
  }
  const port = parsed.port === '' ? DEFAULT_PORTS[engine] : Number(parsed.port)
  const user = decodePart(parsed.username, 'user name') || (engine === 'mysql' ? 'root' : 'postgres')
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  return {
    engine,
    client: engine === 'mysql' ? 'mysql2' : 'pg',
    display: `${scheme}://${user}@${parsed.host.includes(':') ? parsed.host : `${parsed.hostname}:${port}`}/${database}`,
    connection: {host, port, user, password: decodePart(parsed.password, 'password'), database},
  }
}
