import mysql from 'mysql2/promise'
import pg from 'pg'

import {mysqlServer, pgServer, type ServerAddress} from './servers.js'

/**
 * vitest globalSetup: the integration tests need both real servers. Check that
 * each answers `SELECT 1` within 5 s and fail the whole run with one clear
 * message when not, so no test silently skips or hangs on a dead server.
 */
const TIMEOUT_MS = 5000

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function pingMysql(server: ServerAddress): Promise<void> {
  let conn: mysql.Connection | undefined
  try {
    conn = await withTimeout(mysql.createConnection({...server, connectTimeout: TIMEOUT_MS}), 'connect')
    await withTimeout(conn.query('SELECT 1'), 'SELECT 1')
  } finally {
    conn?.destroy()
  }
}

async function pingPg(server: ServerAddress): Promise<void> {
  const client = new pg.Client({...server, database: 'postgres', connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS})
  client.on('error', () => {})
  try {
    await withTimeout(client.connect(), 'connect')
    await withTimeout(client.query('SELECT 1'), 'SELECT 1')
  } finally {
    await client.end().catch(() => {})
  }
}

function reason(error: unknown): string {
  const e = error as {code?: string; sqlMessage?: string; message?: string; errors?: unknown[]}
  if (Array.isArray(e?.errors) && e.errors.length > 0) return reason(e.errors[0])
  const text = (e?.sqlMessage ?? e?.message ?? String(error)).split('\n')[0]
  return e?.code && !text.includes(e.code) ? `${text} (${e.code})` : text
}

function isAuthError(error: unknown): boolean {
  const code = (error as {code?: string})?.code
  return code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || code === '28P01' || code === '28000'
}

async function check(label: string, envVar: string, server: ServerAddress, ping: (server: ServerAddress) => Promise<void>): Promise<string | null> {
  try {
    await ping(server)
    return null
  } catch (error) {
    const where = `${label} at ${server.host}:${server.port}`
    if (isAuthError(error)) return `${where} rejected user "${server.user}": ${reason(error)} — set ${envVar} to an admin URL`
    return `${where} is not reachable: ${reason(error)} — run node scripts/test-servers.mjs`
  }
}

export default async function setup(): Promise<void> {
  const problems = (
    await Promise.all([
      check('MariaDB', 'RAIOPS_TEST_MYSQL_URL', mysqlServer, pingMysql),
      check('PostgreSQL', 'RAIOPS_TEST_PG_URL', pgServer, pingPg),
    ])
  ).filter((problem): problem is string => problem !== null)
  if (problems.length > 0) throw new Error(problems.join('\n'))
}
