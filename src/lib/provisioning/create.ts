import type {OpsContext} from '../context.js'
import {enqueueJob, runCreatedJob, type JobEvent, type JobSettings, type JobView} from '../jobs/index.js'
import {registerActiveKey} from '../keys/register.js'
import {TENANT_CREATE_KIND} from './input.js'
import {prepareTenantCreate, type TenantCreateRequest} from './prepare.js'

/**
 * `tenant:create`: prepares the creation (./prepare.ts: refused with nothing
 * written on bad input, an unknown plan or no room), creates the job, and runs
 * it in this process unless `detach` (then a `job:work` worker runs it).
 */

export interface CreateTenantOptions {
  /** Create the job only; a worker runs it. */
  detach: boolean
  onStep?: (event: JobEvent) => void
  /** Ctrl-C: the job goes back to the queue at the step it was at. */
  signal?: AbortSignal
  settings?: Partial<JobSettings>
}

export interface CreateTenantResult {
  job: JobView
  /** Where placement put it when the job was prepared (the place step may choose again). */
  placement: {id: number; name: string}
  /** The bcrypt cost of the owner's hash (null: no password). */
  cost: number | null
  detached: boolean
  /** Once done: the tenant as registered. */
  tenant: {tenantMasterId: number; remoteTenantId: number; rds: {id: number; name: string}; ownerUserId: number} | null
}

export async function createTenant(ctx: OpsContext, request: TenantCreateRequest, options: CreateTenantOptions): Promise<CreateTenantResult> {
  const prepared = await prepareTenantCreate(ctx, request)
  if (prepared.input.owner.passwordHashEnc !== null) {
    // The key that sealed the owner's hash is known to the registry, so keys:prune keeps it while the job may need it.
    const keyring = await ctx.keyring()
    await ctx.db.transaction((tx) => registerActiveKey(tx, keyring, ctx.audit, ctx.now()))
  }
  const base = {placement: prepared.placement, cost: prepared.cost, detached: options.detach}
  const creation = {kind: TENANT_CREATE_KIND, input: prepared.input}
  if (options.detach) return {...base, job: await enqueueJob(ctx, creation), tenant: null}
  // Created already held by this process, and run here.
  const job = await runCreatedJob(ctx, creation, {onStep: options.onStep, signal: options.signal, settings: options.settings})
  const done = job.steps.find((s) => s.name === 'done')?.output ?? null
  const tenant = done
    ? {
        tenantMasterId: Number(done.tenantMasterId),
        remoteTenantId: Number(done.remoteTenantId),
        rds: done.rds as {id: number; name: string},
        ownerUserId: Number(done.ownerUserId),
      }
    : null
  return {...base, job, tenant}
}
