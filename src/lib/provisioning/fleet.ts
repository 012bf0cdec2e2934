import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {findMaster, getRds} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'

/** What a step reaches the fleet with. */
export type FleetContext = Pick<OpsContext, 'db' | 'fleet' | 'keyring'>

/**
 * Registry rows already read, by key, for one run of a job (StepRun.memo): a
 * step reaching a server the steps before it reached reads its row no more.
 */
export type RegistryMemo = Map<string, unknown>

async function remembered<T>(memo: RegistryMemo | undefined, key: string, read: () => Promise<T>): Promise<T> {
  if (!memo) return read()
  if (memo.has(key)) return memo.get(key) as T
  const value = await read()
  memo.set(key, value)
  return value
}

/** A connection to an RDS of the registry, by id. */
export async function rdsConnection(ctx: FleetContext, rdsId: number, memo?: RegistryMemo): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await remembered(memo, `rds:${rdsId}`, () => getRds(ctx.db, rdsId))
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}

/** A connection to the master RDS, which holds user_email_routing. */
export async function masterConnection(ctx: FleetContext, memo?: RegistryMemo): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await remembered(memo, 'rds:master', () => findMaster(ctx.db))
  if (!rds) throw new UserError('no RDS is marked master: the routing directory has nowhere to go', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}

/** Inserts one fleet row and returns its id, on every engine. */
export async function insertFleetRow(db: Knex | Knex.Transaction, table: string, row: Record<string, unknown>): Promise<number> {
  if (db.client.config.client === 'mysql2') {
    const [id] = (await db(table).insert(row)) as number[]
    return Number(id)
  }
  const [inserted] = (await db(table).insert(row, ['id'])) as Array<{id: number | string} | number>
  return Number(typeof inserted === 'object' ? inserted.id : inserted)
}

/** A SQL expression comparing a column case-insensitively with a value, the same on every engine. */
export const lowerEquals = (db: Knex | Knex.Transaction, column: string, value: string): Knex.Raw => db.raw('LOWER(??) = ?', [column, value.toLowerCase()])
