import type {Knex} from 'knex'
import type {Connection as Mysql2Connection} from 'mysql2'
import type {Socket} from 'node:net'

/**
 * One SELECT on a MySQL/MariaDB database, its rows handed to `each` as the
 * driver decodes them: the query is sent on a connection of the pool and
 * mysql2's row events are taken directly, without knex's result array or a
 * Node stream between them, so memory holds one row at a time and reading
 * costs what the driver's decoding does. `each` runs synchronously; if it
 * throws, the error is rejected and the connection's socket destroyed at
 * once (mysql2's own destroy only half-closes it, and the rest of the result
 * would still arrive and be decoded), which ends the query on the server.
 * `db` is a pool, never a transaction: the connection is its own.
 */
export async function mysqlEachRow<Row>(db: Knex, query: Knex.QueryBuilder, each: (row: Row) => void): Promise<void> {
  if (db.isTransaction) throw new Error('mysqlEachRow reads on a connection of its own: give it the pool, not a transaction')
  const {sql, bindings} = query.toSQL().toNative()
  const connection = (await db.client.acquireConnection()) as Mysql2Connection
  let failed = false
  try {
    await new Promise<void>((resolve, reject) => {
      connection
        .query(sql, bindings as unknown[])
        .on('result', (row) => {
          if (failed) return
          try {
            each(row as Row)
          } catch (error) {
            failed = true
            reject(error)
          }
        })
        .on('error', (error) => {
          failed = true
          reject(error)
        })
        .on('end', () => resolve())
    })
  } finally {
    if (failed) {
      connection.destroy()
      ;(connection as unknown as {stream: Socket}).stream.destroy()
    }
    await db.client.releaseConnection(connection)
  }
}
