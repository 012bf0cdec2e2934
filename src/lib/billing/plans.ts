import {diffValues, listAudit, type AuditChange} from '../audit/read.js'
import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {divideRounded, MAX_AMOUNT_MINOR} from './money.js'
import {PLANS_TABLE, planCode, planVersions, toPlanView, versionAt, type PlanVersionView} from './plan-model.js'

/**
 * Subscription plans, read (`plan:list`, `plan:show`) and priced. The writers
 * are in ./plan-changes.ts. What later billing work builds on:
 *
 * - `getPlan(db, code, {version} | {at})`: one version of a plan, by number or
 *   the one in effect at a date. A subscription keeps the version (the row id)
 *   it was put on; a price change is a new version and never changes it.
 * - `termPriceMinor(plan, quantity)`: what one term costs for a quantity of units.
 * - `monthlyMinor(termMinor, intervalMonths)`: a term's price per month, as MRR counts it.
 *
 * Every amount is an integer in minor units of the plan's currency (./money.ts).
 */

export {MAX_PRICE_MINOR, PLAN_INTERVAL_NAMES, PLAN_INTERVALS, PLAN_UNITS, type PlanInterval, type PlanUnit, type PlanVersionView} from './plan-model.js'

/**
 * One version of the plan `code`: the one numbered `version`, else the one in
 * effect at `at` (default: now). NotFoundError when there is no such plan or
 * version, or none was in effect yet at `at`. Archived plans are found too
 * (a subscription may be on one); `archivedAt` says so.
 */
export async function getPlan(db: Db, code: string, options: {version?: number; at?: Date} = {}): Promise<PlanVersionView> {
  const versions = await planVersions(db, code)
  if (options.version !== undefined) {
    const found = versions.find((v) => v.version === options.version)
    if (!found)
      throw new NotFoundError(`plan "${code}" has no version ${options.version}`, {hint: `its versions are 1 to ${versions[versions.length - 1].version}`})
    return found
  }
  const at = options.at ?? new Date()
  const found = versionAt(versions, at)
  if (!found)
    throw new NotFoundError(`plan "${code}" was not in effect yet at ${at.toISOString()}`, {
      hint: `its first version applies from ${versions[0].effectiveFrom}`,
    })
  return found
}

/**
 * What one term of the plan costs for `quantity` units: the base price, plus the
 * unit price for every unit beyond the included ones (none below them). A plan
 * without a unit costs its base price whatever the quantity.
 */
export function termPriceMinor(plan: Pick<PlanVersionView, 'priceMinor' | 'unit' | 'unitPriceMinor' | 'includedUnits'>, quantity: number): number {
  if (!Number.isSafeInteger(quantity) || quantity < 0) throw new UserError(`a quantity must be a whole number of 0 or more, not ${quantity}`)
  if (plan.unit === null || plan.unitPriceMinor === null) return plan.priceMinor
  const total = plan.priceMinor + plan.unitPriceMinor * Math.max(0, quantity - plan.includedUnits)
  if (!Number.isSafeInteger(total) || total > MAX_AMOUNT_MINOR) throw new UserError(`${quantity} units of this plan cost more than raiops can count exactly`)
  return total
}

/**
 * A term's price per month: `termMinor / intervalMonths`, rounded half away
 * from zero to a whole minor unit (a yearly 2,000.00 is 166.67 a month).
 */
export function monthlyMinor(termMinor: number, intervalMonths: number): number {
  return divideRounded(termMinor, intervalMonths)
}

/** A plan as plan:list shows it: the version in effect now, with how many it has and the next one, when scheduled. */
export interface PlanListRow extends PlanVersionView {
  versions: number
  /** A version whose prices apply from a later date. */
  scheduled: {version: number; effectiveFrom: string} | null
}

export interface ListPlansInput {
  /** Archived plans too. */
  all?: boolean
}

/** `plan:list`: every plan (archived ones with `all`), by code, each as the version in effect now. */
export async function listPlans(ctx: Pick<OpsContext, 'db' | 'now'>, input: ListPlansInput = {}): Promise<PlanListRow[]> {
  const now = ctx.now()
  const query = ctx.db(PLANS_TABLE).orderBy(['code', 'version'])
  if (!input.all) query.whereNull('archived_at')
  const byCode = new Map<string, PlanVersionView[]>()
  for (const row of await query) {
    const view = toPlanView(row)
    byCode.set(view.code, [...(byCode.get(view.code) ?? []), view])
  }
  return [...byCode.values()].map((versions) => {
    // A plan whose first version is still to come is shown as that version.
    const current = versionAt(versions, now) ?? versions[0]
    const next = versions.filter((v) => v.version > current.version && Date.parse(v.effectiveFrom) > now.getTime())[0] ?? null
    return {...current, versions: versions.length, scheduled: next && {version: next.version, effectiveFrom: next.effectiveFrom}}
  })
}

/** A change to the plan, from the audit trail: who made it, when, and what changed. */
export interface PlanHistoryEntry {
  at: string
  actor: string
  action: string
  changes: AuditChange[]
}

export interface PlanShow {
  /** The version asked for, or the one in effect now. */
  plan: PlanVersionView
  /** Whether `plan` is the version in effect now. */
  inEffect: boolean
  /** Every version, oldest first. */
  versions: PlanVersionView[]
  /** Every audited change of the plan, oldest first. */
  history: PlanHistoryEntry[]
}

/** How many audit entries plan:show reads at most (a plan changes a few times a year). */
const HISTORY_LIMIT = 500

/** `plan:show`: a plan's versions and its audited history. */
export async function showPlan(ctx: Pick<OpsContext, 'db' | 'now'>, input: {code: string; version?: number}): Promise<PlanShow> {
  const code = planCode(input.code)
  const versions = await planVersions(ctx.db, code)
  const current = versionAt(versions, ctx.now()) ?? versions[0]
  const plan = input.version === undefined ? current : await getPlan(ctx.db, code, {version: input.version})
  const entries = await listAudit(ctx, {target: {type: 'plan', id: code}, limit: HISTORY_LIMIT, ascending: true})
  const history = entries.map((e) => ({at: e.occurredAt, actor: e.actor, action: e.action, changes: diffValues(e.oldValues, e.newValues)}))
  return {plan, inEffect: plan.id === current.id, versions, history}
}
