import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'

import {migrateLatest, openControlDb, parseDatabaseUrl, type ControlDbTarget} from '../../src/lib/db/control-db.js'
import {createTestDatabase, createTestDir} from './servers.js'

export type ControlEngineName = 'sqlite' | 'mysql' | 'postgres'
export const CONTROL_ENGINES: ControlEngineName[] = ['sqlite', 'mysql', 'postgres']

export interface TestControlDb {
  engine: ControlEngineName
  /** The value for RAIOPS_DATABASE_URL. */
  url: string
  target: ControlDbTarget
  db: Knex
  drop(): Promise<void>
}

/** A fresh, empty control database on the given engine (not migrated unless `migrate`). */
export async function createControlDb(engine: ControlEngineName, options: {migrate?: boolean} = {}): Promise<TestControlDb> {
  let url: string
  let dropStore: () => Promise<void>
  if (engine === 'sqlite') {
    const dir = createTestDir('raiops-ctl-')
    url = `sqlite://${join(dir.path, `control-${randomBytes(3).toString('hex')}.sqlite`)}`
    dropStore = async () => dir.drop()
  } else {
    const database = await createTestDatabase(engine, 'raiops_ctl')
    url = database.url
    dropStore = database.drop
  }
  const target = parseDatabaseUrl(url, '/nonexistent')
  const db = await openControlDb(target)
  if (options.migrate !== false) await migrateLatest(db)
  return {
    engine,
    url,
    target,
    db,
    async drop() {
      await db.destroy()
      await dropStore()
    },
  }
}
