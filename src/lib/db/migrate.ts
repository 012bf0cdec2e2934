import type {Knex} from 'knex'

import {migrateLatest, migrationStatus, type ControlDbTarget, type MigrationStatus} from './control-db.js'

export interface MigrateResult extends MigrationStatus {
  database: string
  appliedNow: string[]
}

/**
 * `db:migrate`: applies what is pending (unless `statusOnly`) and reports the
 * state. Like init it runs before anyone can be signed in, and a schema change
 * is not an audited change: it takes no actor.
 */
export async function migrateControlDb(ctx: {db: Knex}, input: {target: ControlDbTarget; statusOnly?: boolean}): Promise<MigrateResult> {
  const {db} = ctx
  const appliedNow = input.statusOnly ? [] : await migrateLatest(db)
  return {database: input.target.display, ...(await migrationStatus(db)), appliedNow}
}
