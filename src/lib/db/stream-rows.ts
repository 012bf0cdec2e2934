import type {Knex} from 'knex'
import type {Connection as Mysql2Connection} from 'mysql2'

/**
 * One SELECT on a MySQL/MariaDB database, its rows handed to `each` as the
 * driver decodes them: the query is sent on a connection of the pool and
 * mysql2's row events are taken directly, without knex's result array or a
 * Node stream between them, so memory holds one row at a time and reading
 * costs what the driver's decoding does. `each` runs synchronously; if it
 * throws, the connection (with the rest of the result still arriving) is
 * destroyed and the error rejected.
 */
export async function mysqlEachRow<Row>(db: Knex, query: Knex.QueryBuilder, each: (row: Row) => void): Promise<void> {
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
    if (failed) connection.destroy()
    await db.client.releaseConnection(connection)
  }
}
