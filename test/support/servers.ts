import mysql from 'mysql2/promise'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import pg from 'pg'

/**
 * The real database servers the tests run against. Defaults are the loopback
 * servers of the development machine and CI; override with
 * RAIOPS_TEST_MYSQL_URL / RAIOPS_TEST_PG_URL (admin credentials, no database).
 */
export interface ServerAddress {
  host: string
  port: number
  user: string
  password: string
}

function addressFrom(url: string): ServerAddress {
  const parsed = new URL(url)
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  }
}

export const mysqlServer: ServerAddress = addressFrom(process.env.RAIOPS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306')
export const pgServer: ServerAddress = addressFrom(process.env.RAIOPS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432')

export type ServerEngine = 'mysql' | 'postgres'

export interface TestDatabase {
  engine: ServerEngine
  name: string
  host: string
  port: number
  user: string
  password: string
  /** A URL for RAIOPS_DATABASE_URL. */
  url: string
  drop(): Promise<void>
}

export function uniqueName(prefix = 'raiops_t'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

export async function withMysqlAdmin<T>(fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({...mysqlServer, connectTimeout: 5000, multipleStatements: false})
  try {
    return await fn(conn)
  } finally {
    await conn.end()
  }
}

export async function withPgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({...pgServer, database: 'postgres', connectionTimeoutMillis: 5000})
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function urlOf(engine: ServerEngine, server: ServerAddress, name: string): string {
  const auth = server.password ? `${encodeURIComponent(server.user)}:${encodeURIComponent(server.password)}` : encodeURIComponent(server.user)
  return `${engine}://${auth}@${server.host}:${server.port}/${name}`
}

/** Creates an empty, uniquely named database on the real server; `drop()` removes it. */
export async function createTestDatabase(engine: ServerEngine, prefix?: string): Promise<TestDatabase> {
  const name = uniqueName(prefix)
  if (engine === 'mysql') {
    await withMysqlAdmin((conn) => conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`))
    return {
      engine,
      name,
      ...mysqlServer,
      url: urlOf('mysql', mysqlServer, name),
      drop: () => withMysqlAdmin(async (conn) => void (await conn.query(`DROP DATABASE IF EXISTS \`${name}\``))),
    }
  }
  await withPgAdmin((client) => client.query(`CREATE DATABASE "${name}"`))
  return {
    engine,
    name,
    ...pgServer,
    url: urlOf('postgres', pgServer, name),
    drop: () => withPgAdmin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))),
  }
}

export interface TestDir {
  path: string
  drop(): void
}

/** A fresh temporary directory (a RAIOPS_HOME, a SQLite file's folder). */
export function createTestDir(prefix = 'raiops-test-'): TestDir {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {path, drop: () => rmSync(path, {recursive: true, force: true})}
}

export interface TestMysqlUser {
  user: string
  password: string
  drop(): Promise<void>
}

/** A MariaDB user with a password and every right on `database` (for wrong-password tests). */
export async function createMysqlUser(database: string, password = `pw-${randomBytes(6).toString('hex')}`): Promise<TestMysqlUser> {
  const user = uniqueName('rt').slice(0, 32)
  await withMysqlAdmin(async (conn) => {
    await conn.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password])
    await conn.query(`CREATE USER ?@'localhost' IDENTIFIED BY ?`, [user, password])
    await conn.query(`GRANT ALL ON \`${database}\`.* TO ?@'%'`, [user])
    await conn.query(`GRANT ALL ON \`${database}\`.* TO ?@'localhost'`, [user])
  })
  return {
    user,
    password,
    drop: () =>
      withMysqlAdmin(async (conn) => {
        await conn.query(`DROP USER IF EXISTS ?@'%'`, [user])
        await conn.query(`DROP USER IF EXISTS ?@'localhost'`, [user])
      }),
  }
}
