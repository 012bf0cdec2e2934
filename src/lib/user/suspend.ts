import type {OpsContext} from '../context.js'
import {RDS_TABLE, ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {getRds} from '../rds/repository.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {getTenant, type TenantRef} from '../tenant/reference.js'
import {onServer, runStatusChange, validReason, type StatusChange, type StatusChangeRequest, type TargetStatus} from '../tenant/status-change.js'
import {requireMaster} from '../tenant/suspend.js'

export interface UserStatusInput {
  email: string
  /** The tenant whose user it is (its raiops id, RDS:REMOTE_TENANT_ID or name); or allTenants. */
  tenant?: string
  /** Every tenant the email has a user in, from the master's routing entries (the routing cache when the master cannot be read). */
  allTenants?: boolean
  reason: string
  dryRun?: boolean
  /** Each server's reads and writes, ms. */
  timeoutMs: number
  confirm?: (plan: StatusChange) => Promise<boolean>
}

const EMAIL = /^[^\s@]+@[^\s@]+$/

type Target = StatusChangeRequest['targets'][number]

/** The (RDS, tenant) pairs an email routes to: the master's entries, or the cache's when the master cannot be read. */
async function routedTenants(
  ctx: OpsContext,
  master: RdsInstanceRow,
  email: string,
  timeoutMs: number,
  notes: string[],
): Promise<Array<{rdsId: number; tenantId: number}>> {
  const live = await onServer(
    ctx,
    master,
    timeoutMs,
    async (db) =>
      (await db('user_email_routing').select('rds_instance_id', 'tenant_id').whereRaw('LOWER(email) = ?', [email]).orderBy('id')) as Array<
        Record<string, unknown>
      >,
  )
  if (live.ok) return live.value.map((r) => ({rdsId: Number(r.rds_instance_id), tenantId: Number(r.tenant_id)}))
  const cached = (await ctx.db(ROUTING_CACHE_TABLE).select('rds_instance_id', 'remote_tenant_id', 'synced_at').where({email}).orderBy('source_id')) as Array<
    Record<string, unknown>
  >
  const oldest = cached
    .map((r) => toIso(r.synced_at))
    .filter((t): t is string => t !== null)
    .sort()[0]
  notes.push(
    `the master RDS "${master.name}" could not be read (${live.error}): the tenants were taken from raiops' routing cache${oldest ? ` (synced ${oldest})` : ''}`,
  )
  return cached.map((r) => ({rdsId: Number(r.rds_instance_id), tenantId: Number(r.remote_tenant_id)}))
}

/** Every tenant the email has a user in, as registry rows; those raiops does not know are noted. */
async function allTenantTargets(
  ctx: OpsContext,
  master: RdsInstanceRow,
  email: string,
  timeoutMs: number,
  notes: string[],
): Promise<{targets: Target[]; unreached: number}> {
  const routed = await routedTenants(ctx, master, email, timeoutMs, notes)
  if (routed.length === 0)
    throw new NotFoundError(`no tenant has a user with the email ${email}`, {hint: 'check the address; `raiops routing:lookup EMAIL --live` asks the master'})
  const targets: Target[] = []
  let unreached = 0
  const seen = new Set<string>()
  for (const {rdsId, tenantId} of routed) {
    const key = `${rdsId}:${tenantId}`
    if (seen.has(key)) continue
    seen.add(key)
    const rds = (await ctx.db(RDS_TABLE).where({id: rdsId}).first()) as RdsInstanceRow | undefined
    const row = rds ? await ctx.db(TENANT_MASTER_TABLE).where({rds_instance_id: rdsId, remote_tenant_id: tenantId}).first('id') : undefined
    if (!rds || !row) {
      notes.push(`tenant ${tenantId} of RDS ${rds ? `"${rds.name}"` : `#${rdsId}`} is not in raiops' registry: skipped (run \`raiops sync:tenants\`)`)
      unreached++
      continue
    }
    const tenant: TenantRef = await getTenant(ctx.db, String(row.id))
    targets.push({tenant, rds, email})
  }
  if (targets.length === 0)
    throw new NotFoundError(`no tenant raiops knows has a user with the email ${email}`, {hint: 'run `raiops sync:tenants`, then again'})
  return {targets, unreached}
}

async function changeUserStatus(ctx: OpsContext, input: UserStatusInput, to: TargetStatus): Promise<StatusChange> {
  const email = input.email.trim().toLowerCase()
  if (!EMAIL.test(email)) throw new UserError(`"${input.email}" is not an email address`, {hint: 'give the full address, as ana@example.com'})
  if ((input.tenant === undefined) === !input.allTenants)
    throw new UserError('name the tenant with --tenant TENANT, or give --all-tenants (one of the two)', {
      hint: 'as --tenant main:17, or --all-tenants for the person everywhere',
    })
  const reason = validReason(input.reason, `why the user is ${to === 'suspended' ? 'suspended' : 'reactivated'}`)
  const notes: string[] = []
  let targets: Target[]
  let unreached = 0
  if (input.tenant === undefined) {
    ;({targets, unreached} = await allTenantTargets(ctx, await requireMaster(ctx), email, input.timeoutMs, notes))
  } else {
    const tenant = await getTenant(ctx.db, input.tenant)
    targets = [{tenant, rds: await getRds(ctx.db, tenant.rdsInstanceId), email}]
  }
  return runStatusChange(ctx, {
    action: to === 'suspended' ? 'user.suspend' : 'user.reactivate',
    to,
    reason,
    master: await requireMaster(ctx),
    targets,
    strict: input.tenant !== undefined,
    notes,
    unreached,
    timeoutMs: input.timeoutMs,
    dryRun: input.dryRun ?? false,
    confirm: input.confirm,
  })
}

/**
 * Suspends a user (by email, lower-cased) in one tenant or in every tenant it has
 * a user in: `users.status` on each RDS, then the routing entries on the master,
 * then the routing cache, audited with the reason.
 */
export function suspendUser(ctx: OpsContext, input: UserStatusInput): Promise<StatusChange> {
  return changeUserStatus(ctx, input, 'suspended')
}

/** Reactivates a user; its routing entry stays suspended while its tenant is. */
export function reactivateUser(ctx: OpsContext, input: UserStatusInput): Promise<StatusChange> {
  return changeUserStatus(ctx, input, 'active')
}
