import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {findMaster, getRds} from '../rds/repository.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'

/** What a step reaches the fleet with. */
export type FleetContext = Pick<OpsContext, 'db' | 'fleet' | 'keyring'>

/** A connection to an RDS of the registry, by id. */
export async function rdsConnection(ctx: FleetContext, rdsId: number): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await getRds(ctx.db, rdsId)
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}

/** A connection to the master RDS, which holds user_email_routing. */
export async function masterConnection(ctx: FleetContext): Promise<{db: Knex; rds: RdsInstanceRow}> {
  const rds = await findMaster(ctx.db)
  if (!rds) throw new UserError('no RDS is marked master: the routing directory has nowhere to go', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  return {db: await ctx.fleet.get(await connectionSpecFor(ctx, rds)), rds}
}
