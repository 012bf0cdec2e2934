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

/** How a step will use a connection: `change` (the job's id) when it writes there; `memo`, the run's registry rows already read. */
export interface ConnectionUse {
  change?: number
  memo?: RegistryMemo
}

/**
 * A locked RDS takes no change (placement's rule, lib/placement/rules.ts): a
 * step that would write there fails (permanent, exit 2) before it connects,
 * saying how to go on once an operator puts it back online.
 */
function refuseLocked(rds: RdsInstanceRow, jobId: number): void {
  if (rds.state !== 'locked') return
  throw new UserError(`RDS ${rds.name} is locked, and takes no change until \`raiops rds:online ${rds.name}\``, {
    hint: `once it may change again, \`raiops rds:online ${rds.name}\`, then \`raiops job:retry ${jobId}\` (or \`raiops job:cancel ${jobId}\`)`,
  })
}

/** A connection to an RDS of the registry, by id; refused while it is locked when the step changes it. */
export async function rdsConnection(ctx: FleetContext, rdsId: number, use: ConnectionUse = {}): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await remembered(use.memo, `rds:${rdsId}`, () => getRds(ctx.db, rdsId))
  if (use.change !== undefined) refuseLocked(rds, use.change)
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}

/** A connection to the master RDS, which holds user_email_routing; refused while it is locked when the step changes it. */
export async function masterConnection(ctx: FleetContext, use: ConnectionUse = {}): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await remembered(use.memo, 'rds:master', () => findMaster(ctx.db))
  if (!rds) throw new UserError('no RDS is marked master: the routing directory has nowhere to go', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  if (use.change !== undefined) refuseLocked(rds, use.change)
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}
