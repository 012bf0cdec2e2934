import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {mysqlEachRow} from '../../src/lib/db/stream-rows.js'
import {createTestDatabase, createTestDir, type TestDatabase} from '../support/servers.js'

describe('mysqlEachRow on MariaDB', () => {
  let database: TestDatabase
  let db: Knex
  const dir = createTestDir('raiops-stream-rows-')

  beforeAll(async () => {
    database = await createTestDatabase('mysql', 'raiops_rows')
    db = await openControlDb(parseDatabaseUrl(database.url, dir.path))
    await db.schema.createTable('numbers', (t) => {
      t.increments('id')
      t.integer('n').notNullable()
      t.dateTime('at').notNullable()
    })
    await db('numbers').insert(Array.from({length: 500}, (_, i) => ({n: i, at: new Date(Date.UTC(2026, 0, 1 + (i % 28)))})))
  })

  afterAll(async () => {
    await db?.destroy()
    await database?.drop()
    dir.drop()
  })

  it('hands every row of the query to `each`, with its bindings and values decoded as knex decodes them', async () => {
    const seen: Array<{n: number; at: Date}> = []
    await mysqlEachRow(db, db('numbers').select('n', 'at').where('n', '>=', 100).orderBy('n'), (row: {n: number; at: Date}) => seen.push(row))
    expect(seen.map((r) => r.n)).toEqual(Array.from({length: 400}, (_, i) => i + 100))
    const viaKnex = await db('numbers').select('n', 'at').where('n', '>=', 100).orderBy('n')
    expect(seen).toEqual(viaKnex)
  })

  it('rejects with the error `each` throws, reads no further row, and leaves the pool usable', async () => {
    let calls = 0
    const failure = mysqlEachRow(db, db('numbers').select('n'), () => {
      if (++calls === 3) throw new Error('row 3 is bad')
    })
    await expect(failure).rejects.toThrow('row 3 is bad')
    expect(calls).toBe(3)
    expect(Number((await db('numbers').count({c: '*'}))[0].c)).toBe(500)
  })

  it('ends the query on the server at once when `each` throws, instead of reading the rest of a huge result', async () => {
    // MariaDB's sequence engine: a hundred million rows, made as they are read.
    const failure = mysqlEachRow(db, db.select('seq').from('seq_1_to_100000000'), (row: {seq: number}) => {
      if (row.seq === 3) throw new Error('row 3 is bad')
    })
    await expect(failure).rejects.toThrow('row 3 is bad')
    const running = async () =>
      (
        (await db.raw(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%seq_1_to_100000000%' AND INFO NOT LIKE '%PROCESSLIST%'`)) as [
          Array<{n: number}>,
        ]
      )[0][0].n
    // The server notices the closed socket at its next write: give it a few seconds, far less than sending the whole result would take.
    let left = Number(await running())
    for (let i = 0; i < 50 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = Number(await running())
    }
    expect(left).toBe(0)
  })

  it('refuses a transaction: it reads on a connection of its own', async () => {
    await db.transaction(async (tx) => {
      await expect(mysqlEachRow(tx, tx('numbers').select('n'), () => undefined)).rejects.toThrow(/not a transaction/)
    })
  })

  it('rejects with the server’s error for a bad query, and leaves the pool usable', async () => {
    await expect(mysqlEachRow(db, db('no_such_table').select('*'), () => undefined)).rejects.toThrow(/no_such_table/)
    expect(Number((await db('numbers').count({c: '*'}))[0].c)).toBe(500)
  })
})
