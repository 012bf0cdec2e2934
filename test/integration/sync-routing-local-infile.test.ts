import type {Knex} from 'knex'
import {afterEach, describe, expect, it} from 'vitest'

import {loadData} from '../../src/lib/db/load-data.js'
import {ROUTING_CACHE_TABLE} from '../../src/lib/db/tables.js'
import {toIso} from '../../src/lib/db/values.js'
import {addRds} from '../../src/lib/rds/service.js'
import {runRoutingSync, runTenantSync, type TenantSyncRequest} from '../../src/lib/sync/index.js'
import {makeContext} from '../support/context.js'
import {createControlDb, type TestControlDb} from '../support/control-db.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {mysqlServer, withMysqlAdmin} from '../support/servers.js'

/**
 * A MariaDB control database whose server has local_infile OFF: the routing sync
 * must copy every row with plain INSERTs instead of LOAD DATA LOCAL INFILE, in
 * every mode, and also when the server turns it off between the sync reading
 * the setting and sending the statement.
 *
 * The setting is global to the test server, which other test files use at the
 * same time: it is off only for the few seconds of a sync here, and restored to
 * what it was even when a test fails. A sync elsewhere that meets it off takes
 * the same fallback, and is correct for it.
 */

type Ctx = ReturnType<typeof makeContext>

const TENANTS: TenantSyncRequest = {maxAgeMs: 15 * 60_000, concurrency: 4, deadlineMs: 30_000}

const cleanups: Array<() => Promise<unknown>> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs `work` with the server's local_infile set to `on`, then puts back what it was. */
async function withLocalInfile<T>(on: boolean, work: () => Promise<T>): Promise<T> {
  const previous = await withMysqlAdmin(async (admin) => {
    const [[row]] = (await admin.query('SELECT @@GLOBAL.local_infile AS value')) as unknown as [[{value: number}]]
    await admin.query(`SET GLOBAL local_infile = ${on ? 1 : 0}`)
    return row.value
  })
  try {
    return await work()
  } finally {
    await withMysqlAdmin((admin) => admin.query(`SET GLOBAL local_infile = ${Number(previous) ? 1 : 0}`))
  }
}

async function setLocalInfile(on: boolean): Promise<void> {
  await withMysqlAdmin((admin) => admin.query(`SET GLOBAL local_infile = ${on ? 1 : 0}`))
}

async function mariadbControl(): Promise<TestControlDb> {
  const created = await createControlDb('mysql')
  cleanups.push(() => created.drop())
  return created
}

function context(db: Knex): Ctx {
  const ctx = makeContext(db)
  cleanups.push(() => ctx.close())
  return ctx
}

async function onFixture<T>(target: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> {
  const db = await target.knex()
  try {
    return await work(db)
  } finally {
    await db.destroy()
  }
}

/**
 * A master whose routing rows point at its raiops id, some with what LOAD DATA
 * must escape (tab, newline, backslash, \N as text) or non-ASCII.
 */
async function master(ctx: Ctx, via?: FaultProxy): Promise<RaiFixture> {
  const fixture = await createRaiFixture({engine: 'mysql', master: true, tenants: 6, usersPerTenant: 12})
  cleanups.push(() => fixture.drop())
  const {rds} = await addRds(ctx, {
    name: 'main',
    engine: 'mysql',
    host: via ? via.host : fixture.host,
    port: via ? via.port : fixture.port,
    username: fixture.user,
    password: fixture.password || null,
    raiDatabase: fixture.database,
    master: true,
    test: false,
  })
  await onFixture(fixture, async (db) => {
    await db('user_email_routing').update({rds_instance_id: rds.id})
    const ids = (await db('user_email_routing').orderBy('id').limit(6).pluck('id')) as number[]
    const odd = ['tab\there@x.io', 'new\nline@x.io', 'back\\slash@x.io', '\\N', 'jösé@exämple.com', '東京@例え.jp']
    for (const [i, id] of ids.entries()) await db('user_email_routing').where({id}).update({email: odd[i]})
    await db('user_email_routing').where({id: ids[0]}).update({status: 'on\thold'})
  })
  return fixture
}

interface Entry {
  sourceId: number
  email: string
  tenantLinked: boolean
  remoteTenantId: number
  remoteUserId: number
  rdsId: number
  status: string | null
  sourceUpdatedAt: string | null
}

async function cached(db: Knex): Promise<Entry[]> {
  const rows = await db(ROUTING_CACHE_TABLE).orderBy('source_id')
  return rows.map((r) => ({
    sourceId: Number(r.source_id),
    email: String(r.email),
    tenantLinked: r.tenant_master_id !== null,
    remoteTenantId: Number(r.remote_tenant_id),
    remoteUserId: Number(r.remote_user_id),
    rdsId: Number(r.rds_instance_id),
    status: r.status === null ? null : String(r.status),
    sourceUpdatedAt: toIso(r.source_updated_at),
  }))
}

/** The cache the source's rows must make: every tenant is synced, so every row is linked. */
async function expected(fixture: RaiFixture): Promise<Entry[]> {
  return onFixture(fixture, async (db) => {
    const rows = (await db('user_email_routing').orderBy('id')) as Array<Record<string, unknown>>
    return rows.map((r) => ({
      sourceId: Number(r.id),
      email: String(r.email).toLowerCase(),
      tenantLinked: true,
      remoteTenantId: Number(r.tenant_id),
      remoteUserId: Number(r.user_id),
      rdsId: Number(r.rds_instance_id),
      status: r.status === null ? null : String(r.status),
      sourceUpdatedAt: toIso(r.updated_at),
    }))
  })
}

/** The SQL the control database's pool is sent through knex (LOAD DATA goes around it, on a connection of its own). */
function recordStatements(db: Knex): string[] {
  const statements: string[] = []
  const listener = (query: {sql: string}) => void statements.push(query.sql)
  db.on('query', listener)
  cleanups.push(async () => void db.removeListener('query', listener))
  return statements
}

const insertsInto = (statements: readonly string[], table: string): number => statements.filter((sql) => sql.startsWith(`insert into \`${table}\``)).length

describe('routing sync on a MariaDB control database with local_infile OFF', () => {
  it('truncate, incremental and full each leave the cache holding exactly the source rows, written with INSERTs', async () => {
    const control = await mariadbControl()
    const ctx = context(control.db)
    const fixture = await master(ctx)
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    const source = await expected(fixture)
    expect(source).toHaveLength(72)

    const statements = recordStatements(control.db)
    // Every mode with small pages, so a row lost per batch would show; the setting is off for these syncs only.
    const [truncate, afterTruncate, incremental, afterIncremental, full, afterFull] = await withLocalInfile(false, async () => {
      // Given an empty cache, when --truncate rebuilds it:
      const rebuilt = await runRoutingSync(ctx, {mode: 'truncate', batchSize: 7})
      const rebuiltStatements = statements.splice(0)
      // when rows change and are added upstream, and an incremental run follows:
      const now = new Date(Date.now() + 1000)
      await onFixture(fixture, async (db) => {
        for (const id of [10, 20, 30])
          await db('user_email_routing')
            .where({id})
            .update({email: `Changed\t${id}@X.io`, updated_at: now})
        await db('user_email_routing').where({id: 40}).update({status: 'disabled', updated_at: now})
      })
      const changed = await runRoutingSync(ctx, {mode: 'incremental', batchSize: 5})
      const changedStatements = statements.splice(0)
      // when rows are deleted upstream and changed without a newer time, and --full reconciles:
      await onFixture(fixture, async (db) => {
        await db('user_email_routing').whereIn('id', [2, 33, 71]).delete()
        await db('user_email_routing').where({id: 50}).update({email: 'quiet\\change@x.io'})
      })
      const reconciled = await runRoutingSync(ctx, {mode: 'full', batchSize: 5})
      const reconciledStatements = statements.splice(0)
      return [rebuilt, rebuiltStatements, changed, changedStatements, reconciled, reconciledStatements] as const
    })

    // Then each run reports success and the cache is the source, row for row.
    expect(truncate).toMatchObject({status: 'ok', error: null, counts: {read: 72, inserted: 72, missing: 0, invalid: 0}})
    expect(incremental).toMatchObject({status: 'ok', error: null, counts: {updated: 4, inserted: 0, invalid: 0}})
    expect(full).toMatchObject({
      status: 'ok',
      error: null,
      counts: {read: 69, updated: 1, missing: 3, inserted: 0, unchanged: 68, invalid: 0},
    })
    expect(await cached(control.db)).toEqual(await expected(fixture))
    expect(await cached(control.db)).toHaveLength(69)

    // And the fallback was the path taken: the staging table filled by INSERTs, a page at a time
    // (LOAD DATA sends none through knex), and no page loaded into a temporary table.
    expect(insertsInto(afterTruncate, 'user_email_routing_cache_next')).toBe(Math.ceil(72 / 7))
    for (const sent of [afterTruncate, afterIncremental, afterFull]) expect(sent.some((sql) => sql.includes('raiops_routing_page'))).toBe(false)
    expect(insertsInto(afterIncremental, ROUTING_CACHE_TABLE)).toBeGreaterThan(0)
    expect(insertsInto(afterFull, ROUTING_CACHE_TABLE)).toBeGreaterThan(0)
  })

  it('an incremental run whose loads the server starts refusing midway still writes every row', async () => {
    const control = await mariadbControl()
    const ctx = context(control.db)
    // The master 30 ms away: each page takes long enough for the setting to change between two of them.
    const proxy = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode: {delayMs: 30}})
    cleanups.push(() => proxy.close())
    const fixture = await master(ctx, proxy)
    expect((await runTenantSync(ctx, TENANTS)).status).toBe('ok')
    const statements = recordStatements(control.db)

    let pages = 0
    let turnedOff: Promise<void> | null = null
    const report = await withLocalInfile(true, async () => {
      const run = await runRoutingSync(ctx, {
        mode: 'incremental',
        batchSize: 6,
        onProgress: () => {
          // After the first page committed (loaded), the server stops taking LOCAL INFILE.
          if (++pages === 1) turnedOff = setLocalInfile(false)
        },
      })
      await turnedOff
      return run
    })

    expect(report).toMatchObject({status: 'ok', error: null, counts: {read: 72, inserted: 72, invalid: 0}})
    expect(await cached(control.db)).toEqual(await expected(fixture))
    // Every page went through a temporary table: the first ones loaded into it, the later ones,
    // refused, filled with INSERTs.
    const pagesStaged = statements.filter((sql) => sql.startsWith('CREATE TEMPORARY TABLE')).length
    const pagesInserted = insertsInto(statements, 'raiops_routing_page')
    // 72 rows in pages of 6: 12 pages (the 13th, empty, writes nothing).
    expect(pagesStaged).toBe(12)
    expect(pagesInserted).toBeGreaterThan(0)
    expect(pagesInserted).toBeLessThan(pagesStaged)
  })
})

describe('loadData: LOAD DATA LOCAL INFILE as a transport', () => {
  const ROWS = [
    {id: 1, name: 'plain', at: new Date('2024-02-29T23:59:59.999Z')},
    {id: 2, name: 'tab\tnew\nline\r\\back', at: null},
    {id: 3, name: '\\N', at: new Date(0)},
    {id: 4, name: null, at: null},
    {id: 5, name: '東京 jösé 😀', at: null},
  ]

  async function table(): Promise<Knex> {
    const control = await mariadbControl()
    await control.db.schema.createTable('load_probe', (t) => {
      t.integer('id').primary()
      t.string('name', 100).nullable()
      t.specificType('at', 'DATETIME(3)').nullable()
    })
    return control.db
  }

  async function* batches(): AsyncGenerator<typeof ROWS> {
    yield ROWS.slice(0, 2)
    yield []
    yield ROWS.slice(2)
  }

  const stored = async (db: Knex) =>
    ((await db('load_probe').orderBy('id')) as Array<{id: number; name: string | null; at: Date | null}>).map((r) => ({
      id: r.id,
      name: r.name,
      at: r.at === null ? null : toIso(r.at),
    }))
  const want = ROWS.map((r) => ({id: r.id, name: r.name, at: r.at === null ? null : r.at.toISOString()}))

  it('streams every batch and the server stores each value as it was, special characters and NULLs included', async () => {
    const db = await table()
    let refused = 0
    const count = await withLocalInfile(true, () =>
      loadData(db, {
        table: 'load_probe',
        columns: ['id', 'name', 'at'],
        batches: batches(),
        refused: async () => {
          refused++
          return 0
        },
      }),
    )
    expect(refused).toBe(0)
    expect(count).toBe(5)
    expect(await stored(db)).toEqual(want)
  })

  it('a statement the server refuses hands every batch, the first included, to the fallback', async () => {
    const db = await table()
    const handed: Array<typeof ROWS> = []
    const count = await withLocalInfile(false, () =>
      loadData(db, {
        table: 'load_probe',
        columns: ['id', 'name', 'at'],
        batches: batches(),
        refused: async (rest) => {
          for await (const batch of rest) {
            handed.push(batch)
            if (batch.length > 0) await db('load_probe').insert(batch)
          }
          return handed.flat().length
        },
      }),
    )
    expect(handed).toEqual([ROWS.slice(0, 2), [], ROWS.slice(2)])
    expect(count).toBe(5)
    expect(await stored(db)).toEqual(want)
  })
})
