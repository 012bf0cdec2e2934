import type {OpsContext} from '../context.js'
import {NotFoundError} from '../errors/index.js'
import {findMaster, getRds} from '../rds/repository.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {getTenant} from './reference.js'
import {runStatusChange, validReason, type StatusChange, type TargetStatus} from './status-change.js'

export interface TenantStatusInput {
  /** The tenant: its raiops id, RDS:REMOTE_TENANT_ID or its name. */
  tenant: string
  reason: string
  dryRun?: boolean
  /** Each server's reads and writes, ms. */
  timeoutMs: number
  /** Shown the plan before anything is written; false cancels. */
  confirm?: (plan: StatusChange) => Promise<boolean>
}

/** The master RDS, which holds user_email_routing: refused (exit 2) when none is marked. */
export async function requireMaster(ctx: Pick<OpsContext, 'db'>): Promise<RdsInstanceRow> {
  const master = await findMaster(ctx.db)
  if (!master)
    throw new NotFoundError('no master RDS is registered to keep the routing entries in step', {hint: 'mark one with `raiops rds:edit NAME --master`'})
  return master
}

async function changeTenantStatus(ctx: OpsContext, input: TenantStatusInput, to: TargetStatus): Promise<StatusChange> {
  const reason = validReason(input.reason, `why the tenant is ${to === 'suspended' ? 'suspended' : 'reactivated'}`)
  const tenant = await getTenant(ctx.db, input.tenant)
  const rds = await getRds(ctx.db, tenant.rdsInstanceId)
  const master = await requireMaster(ctx)
  return runStatusChange(ctx, {
    action: to === 'suspended' ? 'tenant.suspend' : 'tenant.reactivate',
    to,
    reason,
    master,
    targets: [{tenant, rds, email: null}],
    strict: true,
    notes: [],
    timeoutMs: input.timeoutMs,
    dryRun: input.dryRun ?? false,
    confirm: input.confirm,
  })
}

/**
 * Suspends a tenant: `tenants.status` on its RDS, then its routing entries on the
 * master (all suspended), then tenant_master and the routing cache, audited.
 */
export function suspendTenant(ctx: OpsContext, input: TenantStatusInput): Promise<StatusChange> {
  return changeTenantStatus(ctx, input, 'suspended')
}

/** Reactivates a tenant: its RDS row active, each routing entry back to its user's own status (a user suspended alone stays so). */
export function reactivateTenant(ctx: OpsContext, input: TenantStatusInput): Promise<StatusChange> {
  return changeTenantStatus(ctx, input, 'active')
}
