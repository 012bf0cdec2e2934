import knexFactory, {type Knex} from 'knex'
import {join} from 'node:path'

import {FLEET_USER_PASSWORD, laravelHash as fleetLaravelHash, type RaiDataPlan} from '../../src/lib/demo/fleet-data.js'
import {writeRaiDatabase, type RaiDatabaseCounts} from '../../src/lib/demo/fleet-load.js'
import {createTestDatabase, createTestDir} from './servers.js'

export {createFleetSchema} from '../../src/lib/demo/fleet-load.js'
export {FLEET_TABLES, type FleetTable} from '../../src/lib/demo/fleet-data.js'

/**
 * A RAI database ("the fleet schema", DESIGN.md §2) on a real MariaDB or
 * PostgreSQL server or in a SQLite file, created for a test or benchmark and
 * filled by the fleet data generator the demo uses (src/lib/demo).
 */

export type FixtureEngine = 'mysql' | 'postgres' | 'sqlite'

export interface RaiFixtureOptions {
  engine: FixtureEngine
  /** Default 3 (or tenantNames.length when larger). */
  tenants?: number
  /** Regular (non-ghost) users per tenant. Default 5. */
  usersPerTenant?: number
  /** Ghost users per tenant (is_ghost = true, never routed). Default 1. */
  ghostUsersPerTenant?: number
  /** Default 2. */
  locationsPerTenant?: number
  /** Also create user_email_routing with one row per (non-ghost) user. */
  master?: boolean
  /** e.g. ['locations'] to build a broken schema. */
  omitTables?: string[]
  /** Explicit names for the first tenants, e.g. with quotes/emoji. */
  tenantNames?: string[]
  /** Rows per INSERT statement. Default 1000 (capped by the engine's bind-parameter limit). */
  batchSize?: number
  /** Seed of the generated data. Default 1. */
  seed?: number
  /** The "now" timestamps are spread before (the past year). Default: the current second. */
  now?: Date
  /** user_email_routing.rds_instance_id of every routing row. Default 1. */
  routingRdsInstanceId?: number
}

export type RaiFixtureCounts = RaiDatabaseCounts

export interface RaiFixture {
  engine: FixtureEngine
  host: string | null
  port: number | null
  user: string | null
  password: string | null
  /** Database name, or the absolute SQLite file path. */
  database: string
  counts: RaiFixtureCounts
  /** Opens a knex on the fixture (the caller destroys it). */
  knex(): Promise<Knex>
  drop(): Promise<void>
}

/** The plaintext of every generated password hash. */
export const LARAVEL_TEST_PASSWORD = FLEET_USER_PASSWORD

/** A bcrypt hash as Laravel writes it (`$2y$`), at test cost. */
export function laravelHash(plain: string, salt?: string): string {
  return fleetLaravelHash(plain, salt)
}

function count(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback
  if (!Number.isSafeInteger(result) || result < 0) throw new RangeError(`rai-fixture: ${name} must be a non-negative integer, got ${value}`)
  return result
}

interface Store {
  host: string | null
  port: number | null
  user: string | null
  password: string | null
  database: string
  drop(): Promise<void>
}

async function createStore(engine: FixtureEngine): Promise<Store> {
  if (engine === 'sqlite') {
    const dir = createTestDir('raiops-rai-')
    return {host: null, port: null, user: null, password: null, database: join(dir.path, 'rai.sqlite'), drop: async () => dir.drop()}
  }
  const database = await createTestDatabase(engine, 'rai_fx')
  if (engine === 'mysql') {
    // Laravel's default for a RAI database; tables created later by tests inherit it.
    try {
      await withKnex(engine, database, (db) => db.raw(`ALTER DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`, [database.name]))
    } catch (error) {
      await database.drop().catch(() => {})
      throw error
    }
  }
  return {
    host: database.host,
    port: database.port,
    user: database.user,
    password: database.password,
    database: database.name,
    drop: database.drop,
  }
}

function openKnex(engine: FixtureEngine, store: Pick<Store, 'host' | 'port' | 'user' | 'password' | 'database'>): Knex {
  if (engine === 'sqlite') {
    return knexFactory({client: 'better-sqlite3', connection: {filename: store.database}, useNullAsDefault: true, pool: {min: 1, max: 1}})
  }
  const connection = {
    host: store.host ?? '127.0.0.1',
    port: store.port ?? undefined,
    user: store.user ?? undefined,
    password: store.password ?? '',
    database: store.database,
  }
  if (engine === 'mysql') {
    return knexFactory({
      client: 'mysql2',
      connection: {...connection, charset: 'utf8mb4', timezone: 'Z', connectTimeout: 5000},
      pool: {
        min: 0,
        max: 4,
        // Timestamps are written as UTC strings: read them back in UTC whatever the server's zone.
        afterCreate(conn: {query(sql: string, cb: (error: Error | null) => void): void}, done: (error: Error | null, conn: unknown) => void) {
          conn.query(`SET time_zone = '+00:00'`, (error) => done(error, conn))
        },
      },
    })
  }
  return knexFactory({client: 'pg', connection: {...connection, connectionTimeoutMillis: 5000}, pool: {min: 0, max: 4}})
}

async function withKnex<T>(
  engine: FixtureEngine,
  store: {host: string; port: number; user: string; password: string; name: string},
  fn: (db: Knex) => Promise<T>,
): Promise<T> {
  const db = openKnex(engine, {...store, database: store.name})
  try {
    return await fn(db)
  } finally {
    await db.destroy()
  }
}

/** Builds a RAI database with the fleet schema and deterministic data; `drop()` removes it. */
export async function createRaiFixture(options: RaiFixtureOptions): Promise<RaiFixture> {
  const {engine} = options
  const tenantNames = options.tenantNames ?? []
  const plan: RaiDataPlan = {
    seed: count('seed', options.seed, 1),
    nowS: Math.floor((options.now ?? new Date()).getTime() / 1000),
    tenants: count('tenants', options.tenants, Math.max(3, tenantNames.length)),
    usersPerTenant: count('usersPerTenant', options.usersPerTenant, 5),
    ghostsPerTenant: count('ghostUsersPerTenant', options.ghostUsersPerTenant, 1),
    locationsPerTenant: count('locationsPerTenant', options.locationsPerTenant, 2),
    tenantNames,
  }
  const batchSize = count('batchSize', options.batchSize, 1000)
  if (batchSize === 0) throw new RangeError('rai-fixture: batchSize must be at least 1')
  const rdsInstanceId = count('routingRdsInstanceId', options.routingRdsInstanceId, 1)

  const store = await createStore(engine)
  const db = openKnex(engine, store)
  let counts: RaiFixtureCounts
  try {
    counts = await writeRaiDatabase(db, {
      plan,
      routes: options.master ? [{plan, rdsInstanceId}] : undefined,
      omitTables: options.omitTables,
      batchSize,
    })
  } catch (error) {
    await db.destroy().catch(() => {})
    await store.drop().catch(() => {})
    throw error
  }
  await db.destroy()

  return {
    engine,
    host: store.host,
    port: store.port,
    user: store.user,
    password: store.password,
    database: store.database,
    counts,
    knex: async () => openKnex(engine, store),
    drop: () => store.drop(),
  }
}
