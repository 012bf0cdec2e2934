import knexFactory from 'knex'
import mysql from 'mysql2/promise'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createFleetSchema} from '../../src/lib/demo/fleet-load.js'
import {createRaiFixture} from '../support/rai-fixture.js'
import {createTestDatabase, mysqlServer, type TestDatabase} from '../support/servers.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const schemaSql = readFileSync(join(root, 'scripts', 'fleet-schema.sql'), 'utf8')

/** The columns and indexes of a database's fleet tables, as MariaDB describes them. */
async function describeTables(database: string): Promise<unknown> {
  const conn = await mysql.createConnection({...mysqlServer, database})
  try {
    const [columns] = await conn.query(
      `SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLLATION_NAME
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      [database],
    )
    const [indexes] = await conn.query(
      `SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      [database],
    )
    const [tables] = await conn.query(`SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, [
      database,
    ])
    return {tables, columns, indexes}
  } finally {
    await conn.end()
  }
}

describe('the fleet contract as SQL (scripts/fleet-schema.sql, shown in the README)', () => {
  const databases: TestDatabase[] = []

  beforeAll(async () => {
    databases.push(await createTestDatabase('mysql', 'rai_sql'), await createTestDatabase('mysql', 'rai_knex'))
  })

  afterAll(async () => {
    for (const database of databases) await database.drop()
  })

  it('is the SQL the README shows under "The fleet contract"', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('### The fleet contract'))
    const block = /```sql\n([\s\S]*?)```/.exec(section)
    expect(block?.[1].trim()).toBe(schemaSql.trim())
  })

  it('creates the same tables, columns and indexes as the generator the demo and the tests use', async () => {
    const [bySql, byKnex] = databases
    const conn = await mysql.createConnection({...mysqlServer, database: bySql.name, multipleStatements: true})
    try {
      await conn.query(schemaSql)
      // Applied twice, as a user re-running the quick start does: IF NOT EXISTS keeps it harmless.
      await conn.query(schemaSql)
    } finally {
      await conn.end()
    }
    const db = knexFactory({client: 'mysql2', connection: {...mysqlServer, database: byKnex.name}, pool: {min: 0, max: 1}})
    try {
      await createFleetSchema(db, {master: true})
    } finally {
      await db.destroy()
    }
    const fromSql = await describeTables(bySql.name)
    expect((fromSql as {tables: unknown[]}).tables).toHaveLength(4)
    expect(fromSql).toEqual(await describeTables(byKnex.name))
  })

  it('on SQLite, where the rows go in before the indexes, ends with the same indexes', async () => {
    const fixture = await createRaiFixture({engine: 'sqlite', tenants: 3, master: true})
    const db = await fixture.knex()
    try {
      const indexes: string[] = []
      for (const table of ['tenants', 'users', 'locations', 'user_email_routing']) {
        for (const index of (await db.raw(`PRAGMA index_list("${table}")`)) as Array<{name: string; unique: number; origin: string}>) {
          if (index.origin !== 'c') continue
          const columns = ((await db.raw(`PRAGMA index_info("${index.name}")`)) as Array<{name: string}>).map((c) => c.name)
          indexes.push(`${index.name} ${index.unique ? 'unique ' : ''}(${columns.join(', ')})`)
        }
      }
      expect(indexes.sort()).toEqual([
        'locations_tenant_id_index (tenant_id)',
        'user_email_routing_email_index (email)',
        'user_email_routing_updated_at_id_index (updated_at, id)',
        'users_email_index (email)',
        'users_tenant_id_email_unique unique (tenant_id, email)',
      ])
    } finally {
      await db.destroy()
      await fixture.drop()
    }
  })
})
