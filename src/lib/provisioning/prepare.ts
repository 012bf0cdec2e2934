import {randomBytes} from 'node:crypto'

import {planCode} from '../billing/plan-model.js'
import {getPlan} from '../billing/plans.js'
import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {DEFAULT_COST, fleetCost, hashPassword, passwordProblem} from '../password/bcrypt.js'
import {hashOf} from '../password/hashes.js'
import {choosePlacement} from '../placement/placement.js'
import {rdsConnection} from './fleet.js'
import {locationNames, parseTenantCreateInput, sealOwnerHash, type TenantCreateInput, type TenantCreatePlan} from './input.js'

/**
 * Everything tenant:create does before a job exists, so that bad input, an
 * unknown plan or a fleet with no room is refused (exit 2) with nothing
 * written: the input checked, the plan looked up, placement asked, and the
 * owner's password hashed once, at the fleet's cost, then sealed into the
 * input (./input.ts). The password itself goes no further than this function.
 */

export interface TenantCreateRequest {
  name: string
  contactName?: string
  contactEmail?: string
  owner: {name: string; email: string; password: string | null}
  /** `3` (Location 1…3) or a comma list of names; default one location. */
  locations?: string
  plan?: Omit<TenantCreatePlan, 'discountUntil' | 'trialUntil'> & {discountUntil?: Date; trialUntil?: Date}
  rds?: string
  capacity: number
  ghostDomain: string
  graceDays: number
  /** The bcrypt cost; default the most common cost of the placed RDS's users' hashes (12 when it has none). */
  bcryptCost?: number
}

export interface PreparedTenantCreate {
  input: TenantCreateInput
  /** Where placement would put it now (the place step reserves the slot, and may go elsewhere if this one filled meanwhile). */
  placement: {id: number; name: string}
  /** The bcrypt cost of the owner's hash; null without a password. */
  cost: number | null
}

/** Users' hashes read to learn the fleet's bcrypt cost. */
const COST_SAMPLE = 200

/** The most common cost among the RDS's users' hashes; the default when it has none or cannot be read. */
async function costOn(ctx: Pick<OpsContext, 'db' | 'fleet' | 'keyring'>, rdsId: number): Promise<number> {
  try {
    const {db} = await rdsConnection(ctx, rdsId)
    const rows = (await db('users').where({is_ghost: false}).limit(COST_SAMPLE).select('password')) as Array<{password: unknown}>
    return fleetCost(rows.map((r) => hashOf(r.password)))
  } catch {
    return DEFAULT_COST
  }
}

export async function prepareTenantCreate(
  ctx: Pick<OpsContext, 'db' | 'fleet' | 'keyring' | 'now'>,
  request: TenantCreateRequest,
): Promise<PreparedTenantCreate> {
  const requestId = randomBytes(16).toString('hex')
  const plan = request.plan
    ? {
        ...request.plan,
        code: planCode(request.plan.code),
        discountUntil: request.plan.discountUntil?.toISOString(),
        trialUntil: request.plan.trialUntil?.toISOString(),
      }
    : null
  if (plan && plan.quantity !== undefined && plan.quantityFrom !== undefined) throw new UserError('give --quantity or --quantity-from, not both')
  if (plan && plan.discountUntil !== undefined && plan.discount === undefined)
    throw new UserError('--discount-until needs --discount', {hint: 'e.g. --discount 10% --discount-until 2027-01-01'})
  if (request.owner.password !== null) {
    const problem = passwordProblem(request.owner.password, "the owner's password")
    if (problem) throw new UserError(problem, {hint: 'give another one'})
  }
  const draft = parseTenantCreateInput({
    requestId,
    name: request.name,
    contactName: request.contactName ?? request.owner.name,
    contactEmail: request.contactEmail ?? request.owner.email,
    owner: {name: request.owner.name, email: request.owner.email, passwordHashEnc: null},
    locations: locationNames(request.locations),
    plan,
    rds: request.rds ?? null,
    capacity: request.capacity,
    ghostDomain: request.ghostDomain,
    graceDays: request.graceDays,
  })
  // An unknown (or not yet effective) plan is refused here, before a job exists.
  if (plan) await getPlan(ctx.db, plan.code, plan.planVersion === undefined ? {at: ctx.now()} : {version: plan.planVersion})
  const placement = await choosePlacement(ctx, {capacity: draft.capacity, rds: draft.rds})
  if (request.owner.password === null) return {input: draft, placement, cost: null}
  const cost = request.bcryptCost ?? (await costOn(ctx, placement.id))
  const hash = await hashPassword(request.owner.password, cost)
  const sealed = sealOwnerHash(await ctx.keyring(), requestId, hash)
  return {input: {...draft, owner: {...draft.owner, passwordHashEnc: sealed}}, placement, cost}
}
