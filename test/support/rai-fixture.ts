import {join} from 'node:path'
import bcrypt from 'bcryptjs'
import knexFactory, {type Knex} from 'knex'

import {createTestDatabase, createTestDir} from './servers.js'

/**
 * A RAI database ("the fleet schema", DESIGN.md §2) on a real MariaDB or
 * PostgreSQL server or in a SQLite file, filled with deterministic data, for
 * tests and benchmarks. Rows are generated lazily and inserted in multi-row
 * batches inside transactions, so 10k tenants / 500k users take seconds.
 */

export type FixtureEngine = 'mysql' | 'postgres' | 'sqlite'

export const FLEET_TABLES = ['tenants', 'users', 'locations', 'user_email_routing'] as const
export type FleetTable = (typeof FLEET_TABLES)[number]

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

export interface RaiFixtureCounts {
  tenants: number
  /** Regular users (is_ghost = false). */
  users: number
  ghostUsers: number
  locations: number
  /** user_email_routing rows (0 unless master). */
  routing: number
}

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
export const LARAVEL_TEST_PASSWORD = 'rai-Test-passw0rd'

const BCRYPT_COST = 4
const HASH_VARIANTS = 6
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const DAY_S = 86_400
const YEAR_S = 365 * DAY_S

/** A bcrypt hash as Laravel writes it (`$2y$`), at test cost. */
export function laravelHash(plain: string, salt?: string): string {
  return bcrypt.hashSync(plain, salt ?? bcrypt.genSaltSync(BCRYPT_COST)).replace(/^\$2b\$/, '$2y$')
}

let hashes: string[] | undefined

/** A handful of hashes of LARAVEL_TEST_PASSWORD with deterministic salts, computed once. */
function passwordHashes(): string[] {
  if (!hashes) {
    hashes = []
    for (let i = 0; i < HASH_VARIANTS; i++) {
      const random = rng(0x5a17, i)
      let salt = `$2b$0${BCRYPT_COST}$`
      for (let c = 0; c < 22; c++) salt += BCRYPT_ALPHABET[Math.floor(random() * 64)]
      hashes.push(laravelHash(LARAVEL_TEST_PASSWORD, salt))
    }
  }
  return hashes
}

// ---------------------------------------------------------------------------
// Deterministic data

/** A small PRNG (mulberry32) seeded by hashing `keys`, so every row is a pure function of its ids. */
function rng(...keys: number[]): () => number {
  let h = 0x9e3779b9
  for (const key of keys) {
    h = Math.imul(h ^ key, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  let state = h >>> 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]
}

const FIRST_NAMES = ['Maria', 'James', 'Aiko', 'Olu', 'Sofia', 'Liam', 'Chen', 'Fatima', 'Noah', 'Emma', 'Mateo', 'Priya', 'Lukas', 'Zoe', 'Omar', 'Ines'] as const
const LAST_NAMES = ['Garcia', 'Smith', 'Tanaka', 'Adeyemi', 'Rossi', 'Murphy', 'Wang', 'Khan', 'Müller', 'Dubois', 'Silva', 'Patel', 'Novak', 'Jensen', "O'Brien", 'Kowalski'] as const
const ADJECTIVES = ['Bright', 'Northern', 'Golden', 'Riverside', 'Summit', 'Harbor', 'Maple', 'Blue Sky', 'Evergreen', 'Pioneer'] as const
const NOUNS = ['Dental', 'Bakery', 'Fitness', 'Logistics', 'Clinic', 'Studio', 'Motors', 'Cafe', 'Vet Care', 'Builders'] as const
const CITIES = ['Springfield', 'Riverton', 'Lakeside', 'Fairview', 'Kingston', 'Ashford', 'Brookfield', 'Salem'] as const

interface Plan {
  seed: number
  nowS: number
  tenants: number
  usersPerTenant: number
  ghostsPerTenant: number
  locationsPerTenant: number
  tenantNames: string[]
  rdsInstanceId: number
}

type Row = Record<string, string | number | boolean | null>

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as Laravel writes timestamps. */
function sqlTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

interface TenantTimes {
  created: number
  updated: number
  /** When the tenant's bulk import ran: about a third of its users share this exact second. */
  imported: number
}

function tenantTimes(plan: Plan, tenantId: number): TenantTimes {
  const random = rng(plan.seed, 1, tenantId)
  const created = plan.nowS - Math.floor(random() * YEAR_S)
  const age = plan.nowS - created
  return {
    created,
    updated: created + Math.floor(random() * age),
    imported: Math.min(plan.nowS, created + Math.floor(random() * Math.min(age, 7 * DAY_S))),
  }
}

function tenantRow(plan: Plan, tenantId: number): Row {
  const random = rng(plan.seed, 2, tenantId)
  const times = tenantTimes(plan, tenantId)
  const roll = random()
  const contactFirst = pick(random, FIRST_NAMES)
  const contactLast = pick(random, LAST_NAMES)
  return {
    id: tenantId,
    name: plan.tenantNames[tenantId - 1] ?? `${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} ${tenantId}`,
    primary_contact_name: `${contactFirst} ${contactLast}`,
    primary_contact_email: `owner@t${tenantId}.example.com`,
    status: roll < 0.85 ? 'active' : roll < 0.95 ? 'suspended' : 'cancelled',
    created_at: sqlTime(times.created),
    updated_at: sqlTime(times.updated),
  }
}

/** 'Müller' -> 'Muller', "O'Brien" -> 'OBrien': names as they appear in email addresses. */
function asciiLetters(text: string): string {
  return text.normalize('NFD').replace(/[^A-Za-z]/g, '')
}

/** Users of one tenant: `usersPerTenant` regular users, then the ghosts; ids are contiguous per tenant. */
function userRow(plan: Plan, tenantId: number, slot: number): Row {
  const perTenant = plan.usersPerTenant + plan.ghostsPerTenant
  const id = (tenantId - 1) * perTenant + slot + 1
  const random = rng(plan.seed, 3, id)
  const times = tenantTimes(plan, tenantId)
  const hash = pick(random, passwordHashes())
  if (slot >= plan.usersPerTenant) {
    const ghost = slot - plan.usersPerTenant + 1
    return {
      id,
      tenant_id: tenantId,
      name: 'RAI Support',
      email: `support+t${tenantId}-${ghost}@ghost.example.com`,
      password: hash,
      status: 'active',
      is_ghost: true,
      created_at: sqlTime(times.created),
      updated_at: sqlTime(times.created),
    }
  }
  // `ordinal` numbers regular users across the fleet: it keeps emails unique.
  const ordinal = (tenantId - 1) * plan.usersPerTenant + slot + 1
  const first = pick(random, FIRST_NAMES)
  const last = pick(random, LAST_NAMES)
  // A few users typed their address with capitals, and the app stored it as typed.
  const email =
    ordinal % 25 === 7
      ? `${asciiLetters(first)}.${asciiLetters(last)}.${ordinal}@T${tenantId}.Example.com`
      : `${asciiLetters(first).toLowerCase()}.${asciiLetters(last).toLowerCase()}.${ordinal}@t${tenantId}.example.com`
  let created: number
  let updated: number
  if (slot % 3 === 1) {
    created = times.imported
    updated = times.imported
  } else {
    created = times.created + Math.floor(random() * (plan.nowS - times.created))
    updated = random() < 0.5 ? created : created + Math.floor(random() * (plan.nowS - created))
  }
  return {
    id,
    tenant_id: tenantId,
    name: `${first} ${last}`,
    email,
    password: hash,
    status: random() < 0.9 ? 'active' : 'inactive',
    is_ghost: false,
    created_at: sqlTime(created),
    updated_at: sqlTime(updated),
  }
}

function* tenantRows(plan: Plan): Generator<Row> {
  for (let t = 1; t <= plan.tenants; t++) yield tenantRow(plan, t)
}

function* userRows(plan: Plan): Generator<Row> {
  for (let t = 1; t <= plan.tenants; t++) {
    for (let slot = 0; slot < plan.usersPerTenant + plan.ghostsPerTenant; slot++) yield userRow(plan, t, slot)
  }
}

function* locationRows(plan: Plan): Generator<Row> {
  for (let t = 1; t <= plan.tenants; t++) {
    const times = tenantTimes(plan, t)
    for (let k = 1; k <= plan.locationsPerTenant; k++) {
      const id = (t - 1) * plan.locationsPerTenant + k
      const random = rng(plan.seed, 4, id)
      const created = times.created + Math.floor(random() * (plan.nowS - times.created))
      yield {
        id,
        tenant_id: t,
        name: `${pick(random, CITIES)} #${k}`,
        created_at: sqlTime(created),
        updated_at: sqlTime(created + Math.floor(random() * (plan.nowS - created))),
      }
    }
  }
}

/** One routing row per regular user, mirroring it (email as stored, hash, status, timestamps). */
function* routingRows(plan: Plan): Generator<Row> {
  let id = 0
  for (let t = 1; t <= plan.tenants; t++) {
    for (let slot = 0; slot < plan.usersPerTenant; slot++) {
      const user = userRow(plan, t, slot)
      yield {
        id: ++id,
        email: user.email,
        tenant_id: t,
        rds_instance_id: plan.rdsInstanceId,
        user_id: user.id,
        password_hash: user.password,
        status: user.status,
        created_at: user.created_at,
        updated_at: user.updated_at,
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Schema

function dialectOf(db: Knex): 'mysql' | 'postgres' | 'sqlite' {
  const client = String(db.client.config.client)
  if (client === 'mysql' || client === 'mysql2') return 'mysql'
  if (client === 'pg' || client === 'postgres' || client === 'postgresql') return 'postgres'
  if (client === 'sqlite3' || client === 'better-sqlite3') return 'sqlite'
  throw new Error(`rai-fixture: unsupported knex client ${client}`)
}

function timestamps(table: Knex.CreateTableBuilder): void {
  // Laravel's timestamps(): nullable, second precision, no time zone.
  table.timestamp('created_at', {useTz: false, precision: 0}).nullable()
  table.timestamp('updated_at', {useTz: false, precision: 0}).nullable()
}

/**
 * Creates the fleet tables (DESIGN.md §2) on `db` with the knex schema builder,
 * as a Laravel RAI migration would: bigint ids, utf8mb4_unicode_ci on MySQL,
 * `user_email_routing` only when `master`. Tables named in `omitTables` are left out.
 */
export async function createFleetSchema(db: Knex, options: {master?: boolean; omitTables?: string[]} = {}): Promise<void> {
  const omit = new Set(options.omitTables ?? [])
  const mysql = dialectOf(db) === 'mysql'
  const laravelTable = (table: Knex.CreateTableBuilder) => {
    if (mysql) {
      table.engine('InnoDB')
      table.charset('utf8mb4')
      table.collate('utf8mb4_unicode_ci')
    }
  }
  if (!omit.has('tenants')) {
    await db.schema.createTable('tenants', (table) => {
      laravelTable(table)
      table.bigIncrements('id')
      table.string('name', 255).notNullable()
      table.string('primary_contact_name', 255).nullable()
      table.string('primary_contact_email', 255).nullable()
      table.string('status', 32).notNullable().defaultTo('active')
      timestamps(table)
    })
  }
  if (!omit.has('users')) {
    await db.schema.createTable('users', (table) => {
      laravelTable(table)
      table.bigIncrements('id')
      table.bigInteger('tenant_id').unsigned().notNullable()
      table.string('name', 255).notNullable()
      table.string('email', 255).notNullable()
      table.string('password', 255).notNullable()
      table.string('status', 32).notNullable().defaultTo('active')
      table.boolean('is_ghost').notNullable().defaultTo(false)
      timestamps(table)
      table.unique(['tenant_id', 'email'])
      table.index(['email'])
    })
  }
  if (!omit.has('locations')) {
    await db.schema.createTable('locations', (table) => {
      laravelTable(table)
      table.bigIncrements('id')
      table.bigInteger('tenant_id').unsigned().notNullable().index()
      table.string('name', 255).notNullable()
      timestamps(table)
    })
  }
  if (options.master && !omit.has('user_email_routing')) {
    await db.schema.createTable('user_email_routing', (table) => {
      laravelTable(table)
      table.bigIncrements('id')
      table.string('email', 255).notNullable()
      table.bigInteger('tenant_id').unsigned().notNullable()
      table.bigInteger('rds_instance_id').unsigned().notNullable()
      table.bigInteger('user_id').unsigned().notNullable()
      table.string('password_hash', 255).nullable()
      table.string('status', 32).notNullable().defaultTo('active')
      timestamps(table)
      table.index(['updated_at', 'id'])
      table.index(['email'])
    })
  }
}

// ---------------------------------------------------------------------------
// Loading

/** Bind parameters one statement may carry (mysql2 inlines values client-side: no limit). */
const MAX_PARAMS: Record<FixtureEngine, number> = {mysql: Number.POSITIVE_INFINITY, postgres: 65_535, sqlite: 32_766}
/**
 * Rows one INSERT may carry. knex compiles a multi-row SQLite insert as
 * `INSERT … SELECT … UNION ALL SELECT …`, and SQLite caps a compound SELECT at 500 terms.
 */
const MAX_ROWS: Record<FixtureEngine, number> = {mysql: Number.POSITIVE_INFINITY, postgres: Number.POSITIVE_INFINITY, sqlite: 500}
/** Statements per transaction: bounded so huge fixtures do not build one giant undo log. */
const STATEMENTS_PER_TRANSACTION = 100

/** knex puts the whole statement in a driver error: keep the message readable (the SQL is 100s of kB). */
async function insertBatch(trx: Knex.Transaction, table: FleetTable, batch: Row[]): Promise<void> {
  try {
    await trx(table).insert(batch)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const reason = message.length > 300 ? `${message.slice(0, 150)} … ${message.slice(-150)}` : message
    throw new Error(`rai-fixture: inserting ${batch.length} rows into ${table} failed: ${reason}`, {cause: error})
  }
}

async function load(db: Knex, engine: FixtureEngine, table: FleetTable, rows: Iterable<Row>, columns: number, batchSize: number): Promise<number> {
  const perStatement = Math.max(1, Math.min(batchSize, MAX_ROWS[engine], Math.floor(MAX_PARAMS[engine] / columns)))
  const iterator = rows[Symbol.iterator]()
  let total = 0
  let done = false
  while (!done) {
    await db.transaction(async (trx) => {
      for (let s = 0; s < STATEMENTS_PER_TRANSACTION; s++) {
        const batch: Row[] = []
        while (batch.length < perStatement) {
          const next = iterator.next()
          if (next.done) {
            done = true
            break
          }
          batch.push(next.value)
        }
        if (batch.length > 0) await insertBatch(trx, table, batch)
        total += batch.length
        if (done) return
      }
    })
  }
  if (engine === 'postgres' && total > 0) {
    // Explicit ids do not advance a serial: later inserts by tests would collide with id 1.
    await db.raw(`SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT MAX(id) FROM ??))`, [table, table])
  }
  return total
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
  return {host: database.host, port: database.port, user: database.user, password: database.password, database: database.name, drop: database.drop}
}

function openKnex(engine: FixtureEngine, store: Pick<Store, 'host' | 'port' | 'user' | 'password' | 'database'>): Knex {
  if (engine === 'sqlite') {
    return knexFactory({client: 'better-sqlite3', connection: {filename: store.database}, useNullAsDefault: true, pool: {min: 1, max: 1}})
  }
  const connection = {host: store.host ?? '127.0.0.1', port: store.port ?? undefined, user: store.user ?? undefined, password: store.password ?? '', database: store.database}
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

async function withKnex<T>(engine: FixtureEngine, store: {host: string; port: number; user: string; password: string; name: string}, fn: (db: Knex) => Promise<T>): Promise<T> {
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
  const plan: Plan = {
    seed: count('seed', options.seed, 1),
    nowS: Math.floor((options.now ?? new Date()).getTime() / 1000),
    tenants: count('tenants', options.tenants, Math.max(3, tenantNames.length)),
    usersPerTenant: count('usersPerTenant', options.usersPerTenant, 5),
    ghostsPerTenant: count('ghostUsersPerTenant', options.ghostUsersPerTenant, 1),
    locationsPerTenant: count('locationsPerTenant', options.locationsPerTenant, 2),
    tenantNames,
    rdsInstanceId: count('routingRdsInstanceId', options.routingRdsInstanceId, 1),
  }
  if (tenantNames.length > plan.tenants) throw new RangeError(`rai-fixture: ${tenantNames.length} tenantNames for ${plan.tenants} tenants`)
  const batchSize = count('batchSize', options.batchSize, 1000)
  if (batchSize === 0) throw new RangeError('rai-fixture: batchSize must be at least 1')
  const omit = new Set(options.omitTables ?? [])
  const has = (table: FleetTable) => !omit.has(table) && (table !== 'user_email_routing' || options.master === true)

  const store = await createStore(engine)
  const db = openKnex(engine, store)
  const counts: RaiFixtureCounts = {tenants: 0, users: 0, ghostUsers: 0, locations: 0, routing: 0}
  try {
    await createFleetSchema(db, {master: options.master, omitTables: options.omitTables})
    const loads: Array<() => Promise<void>> = []
    if (has('tenants')) loads.push(async () => void (counts.tenants = await load(db, engine, 'tenants', tenantRows(plan), 7, batchSize)))
    if (has('users')) {
      loads.push(async () => {
        await load(db, engine, 'users', userRows(plan), 9, batchSize)
        counts.users = plan.tenants * plan.usersPerTenant
        counts.ghostUsers = plan.tenants * plan.ghostsPerTenant
      })
    }
    if (has('locations')) loads.push(async () => void (counts.locations = await load(db, engine, 'locations', locationRows(plan), 5, batchSize)))
    if (has('user_email_routing')) loads.push(async () => void (counts.routing = await load(db, engine, 'user_email_routing', routingRows(plan), 9, batchSize)))
    if (engine === 'sqlite') {
      for (const run of loads) await run()
    } else {
      // One connection per table (no foreign keys between them): the server inserts one
      // table while this process builds the next batch of another.
      // allSettled: on a failure, let the other loads stop before the database is dropped.
      const results = await Promise.allSettled(loads.map((run) => run()))
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (failed) throw failed.reason
    }
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
