import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {findMaster, getRds} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'

/** What a step reaches the fleet with. */
export type FleetContext = Pick<OpsContext, 'db' | 'fleet' | 'keyring'>

/** How a step will use a connection: `change` (the job's id) when it writes there. */
export interface ConnectionUse {
  change?: number
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
  const rds = await getRds(ctx.db, rdsId)
  if (use.change !== undefined) refuseLocked(rds, use.change)
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}

/** A connection to the master RDS, which holds user_email_routing; refused while it is locked when the step changes it. */
export async function masterConnection(ctx: FleetContext, use: ConnectionUse = {}): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await findMaster(ctx.db)
  if (!rds) throw new UserError('no RDS is marked master: the routing directory has nowhere to go', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  if (use.change !== undefined) refuseLocked(rds, use.change)
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}
