import {appendAudit} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {RDS_TABLE} from '../db/tables.js'
import {BusyError, UserError} from '../errors/index.js'
import {acquireLease, LEASE_TTL_MS, leaseName} from '../lease/lease.js'
import {auditValues, changeTransaction} from './change.js'
import {getRds, toRdsView} from './repository.js'
import type {RdsInstanceRow, RdsView} from './types.js'

export interface RemoveRdsResult {
  removed: RdsView
  tenantsRemoved: number
  routingRowsRemoved: number
}

export async function removeRds(ctx: OpsContext, input: {ref: string; force?: boolean}): Promise<RemoveRdsResult> {
  const {ref, ...options} = input
  const row = await getRds(ctx.db, ref)
  // The routing cache loses this RDS's rows: a routing sync running meanwhile would write them back
  // (a rebuild swaps in the rows it read), so removing waits for none and holds the routing lease.
  const lease = await acquireLease(ctx.db, leaseName('routing'), {ttlMs: LEASE_TTL_MS}).catch((error: unknown) => {
    if (!(error instanceof BusyError)) throw error
    throw new BusyError(`RDS "${row.name}" cannot be removed while the routing sync runs: ${error.message}`, {
      hint: 'run rds:remove again once it has finished',
    })
  })
  try {
    return await removeUnderLease(ctx, row, options)
  } finally {
    await lease.release()
  }
}

async function removeUnderLease(ctx: OpsContext, row: RdsInstanceRow, options: {force?: boolean}): Promise<RemoveRdsResult> {
  const id = Number(row.id)
  const view = toRdsView(row)
  const now = ctx.now()
  return changeTransaction(ctx, async (tx) => {
    const tenantIds = (await tx('tenant_master').where({rds_instance_id: id}).pluck('id')).map(Number)
    if (tenantIds.length > 0 && !options.force) {
      throw new UserError(`RDS "${row.name}" still has ${tenantIds.length} tenant(s) in tenant_master`, {
        hint: 'move them first, or pass --force to remove them from the registry with it',
      })
    }
    let routingRowsRemoved = 0
    if (tenantIds.length > 0) {
      for (const table of ['tenant_billing', 'billing_events', 'payments', 'impersonations']) {
        const refs = await countWhereIn(tx, table, 'tenant_master_id', tenantIds)
        if (refs > 0) {
          throw new UserError(`RDS "${row.name}" has tenants with ${refs} row(s) in ${table}; they cannot be removed`, {
            hint: 'deactivate it instead: `raiops rds:edit ' + row.name + ' --no-active`',
          })
        }
      }
      routingRowsRemoved = await deleteWhereIn(tx, 'user_email_routing_cache', 'tenant_master_id', tenantIds)
      await deleteWhereIn(tx, 'tenant_master', 'id', tenantIds)
    }
    routingRowsRemoved += await tx('user_email_routing_cache').where({rds_instance_id: id}).delete()
    await tx(RDS_TABLE).where({id}).delete()
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'rds.remove',
        targetType: 'rds_instance',
        targetId: id,
        rdsInstanceId: id,
        oldValues: {...auditValues(view), tenants: tenantIds.length},
      },
      now,
    )
    return {removed: view, tenantsRemoved: tenantIds.length, routingRowsRemoved}
  })
}

async function countWhereIn(tx: Db, table: string, column: string, ids: number[]): Promise<number> {
  let total = 0
  for (let i = 0; i < ids.length; i += 500) {
    const [{n}] = await tx(table)
      .whereIn(column, ids.slice(i, i + 500))
      .count({n: '*'})
    total += Number(n)
  }
  return total
}

async function deleteWhereIn(tx: Db, table: string, column: string, ids: number[]): Promise<number> {
  let total = 0
  for (let i = 0; i < ids.length; i += 500)
    total += await tx(table)
      .whereIn(column, ids.slice(i, i + 500))
      .delete()
  return total
}
