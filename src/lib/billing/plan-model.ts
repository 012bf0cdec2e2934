import type {Db} from '../db/control-db.js'
import type {SubscriptionPlanRow} from '../db/tables.js'
import {toIsoRequired, toIso, toMinor} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {currencyCode, divideRounded, formatAmount, MAX_AMOUNT_MINOR, parseAmount} from './money.js'

/**
 * What a plan version is made of, how its row reads and how its fields are
 * checked: shared by the readers (plans.ts) and the writers (plan-changes.ts).
 */

export const PLANS_TABLE = 'subscription_plans'

/** A plan's billing term: its label and its length in months. */
export const PLAN_INTERVALS = {month: 1, quarter: 3, year: 12, '2-year': 24, '3-year': 36} as const
export type PlanInterval = keyof typeof PLAN_INTERVALS
export const PLAN_INTERVAL_NAMES = Object.keys(PLAN_INTERVALS) as PlanInterval[]

/** What a plan may price per unit: the tenant's locations or its users. */
export const PLAN_UNITS = ['location', 'user'] as const
export type PlanUnit = (typeof PLAN_UNITS)[number]

/** The largest price stored, in minor units (money.ts's MAX_AMOUNT_MINOR). */
export const MAX_PRICE_MINOR = MAX_AMOUNT_MINOR
export const MAX_INCLUDED_UNITS = 1_000_000
export const MAX_TRIAL_DAYS = 3650
export const MAX_FEATURES = 50
export const MAX_FEATURE_LENGTH = 200

/** One version of a plan, as every billing command reads it. Amounts are integers in minor units of `currency`, with their decimal text beside them. */
export interface PlanVersionView {
  id: number
  code: string
  version: number
  name: string
  currency: string
  interval: string
  intervalMonths: number
  /** The base price per term, minor units. */
  priceMinor: number
  /** The base price per term as a decimal in `currency` (49.00). */
  price: string
  /** The base price per month (priceMinor / intervalMonths, rounded half away from zero), minor units. */
  monthlyMinor: number
  monthly: string
  unit: PlanUnit | null
  /** Per unit beyond the included ones, per term, minor units; null without a unit. */
  unitPriceMinor: number | null
  unitPrice: string | null
  includedUnits: number
  trialDays: number
  features: string[]
  /** When this version's prices apply from. */
  effectiveFrom: string
  archivedAt: string | null
  createdAt: string
  updatedAt: string
}

/** The fields a plan has, checked, as stored. */
export interface PlanFields {
  name: string
  currency: string
  interval: PlanInterval
  priceMinor: number
  unit: PlanUnit | null
  unitPriceMinor: number | null
  includedUnits: number
  trialDays: number
  features: string[]
}

function parseFeatures(text: string | null): string[] {
  if (text === null) return []
  try {
    const value: unknown = JSON.parse(text)
    return Array.isArray(value) ? value.filter((f): f is string => typeof f === 'string') : []
  } catch {
    return []
  }
}

export function toPlanView(row: SubscriptionPlanRow): PlanVersionView {
  const currency = row.currency
  const priceMinor = toMinor(row.price_cents)
  const intervalMonths = Number(row.interval_months)
  const unitPriceMinor = row.unit === null || row.unit_price_minor === null ? null : toMinor(row.unit_price_minor)
  const monthlyMinor = divideRounded(priceMinor, intervalMonths)
  return {
    id: Number(row.id),
    code: row.code,
    version: Number(row.version),
    name: row.name,
    currency,
    interval: row.interval,
    intervalMonths,
    priceMinor,
    price: formatAmount(priceMinor, currency),
    monthlyMinor,
    monthly: formatAmount(monthlyMinor, currency),
    unit: (PLAN_UNITS as readonly string[]).includes(row.unit ?? '') ? (row.unit as PlanUnit) : null,
    unitPriceMinor,
    unitPrice: unitPriceMinor === null ? null : formatAmount(unitPriceMinor, currency),
    includedUnits: Number(row.included_units),
    trialDays: Number(row.trial_days),
    features: parseFeatures(row.features),
    effectiveFrom: toIsoRequired(row.effective_from ?? row.created_at),
    archivedAt: toIso(row.archived_at),
    createdAt: toIsoRequired(row.created_at),
    updatedAt: toIsoRequired(row.updated_at),
  }
}

/** A plan's row for its fields (the caller adds code, version, times). */
export function planColumns(
  fields: PlanFields,
): Pick<
  SubscriptionPlanRow,
  'name' | 'currency' | 'interval' | 'interval_months' | 'price_cents' | 'unit' | 'unit_price_minor' | 'included_units' | 'trial_days' | 'features'
> {
  return {
    name: fields.name,
    currency: fields.currency,
    interval: fields.interval,
    interval_months: PLAN_INTERVALS[fields.interval],
    price_cents: fields.priceMinor,
    unit: fields.unit,
    unit_price_minor: fields.unitPriceMinor,
    included_units: fields.includedUnits,
    trial_days: fields.trialDays,
    features: fields.features.length === 0 ? null : JSON.stringify(fields.features),
  }
}

/** The fields of a version, as plan:edit starts from them. */
export function fieldsOf(view: PlanVersionView): PlanFields {
  return {
    name: view.name,
    currency: view.currency,
    interval: planInterval(view.interval),
    priceMinor: view.priceMinor,
    unit: view.unit,
    unitPriceMinor: view.unitPriceMinor,
    includedUnits: view.includedUnits,
    trialDays: view.trialDays,
    features: view.features,
  }
}

/** Every version of a plan, oldest first; NotFoundError when it has none. */
export async function planVersions(db: Db, code: string): Promise<PlanVersionView[]> {
  const rows = await db(PLANS_TABLE)
    .where({code: planCode(code)})
    .orderBy('version')
  if (rows.length === 0) throw new NotFoundError(`no plan "${code}"`, {hint: 'see `raiops plan:list --all`'})
  return rows.map(toPlanView)
}

/** The version in effect at `at`: the latest effective_from not after it (of two on the same instant, the higher version); null before the first. */
export function versionAt(versions: readonly PlanVersionView[], at: Date): PlanVersionView | null {
  let found: PlanVersionView | null = null
  for (const version of versions) {
    if (Date.parse(version.effectiveFrom) > at.getTime()) continue
    if (!found || version.effectiveFrom > found.effectiveFrom || (version.effectiveFrom === found.effectiveFrom && version.version > found.version))
      found = version
  }
  return found
}

// Checks of what an operator types, each a one-line UserError.

/** A control character: a name or a feature is one line of plain text. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

const CODE = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/

/** A plan code: a lowercase slug (`pro`, `pro-yearly`, `team_eu`), at most 64 characters. */
export function planCode(text: string): string {
  const code = text.trim()
  if (code.length > 64 || !CODE.test(code))
    throw new UserError(`the plan code ${JSON.stringify(text)} is not a lowercase slug`, {
      hint: 'use lower-case letters, digits and single - or _ between them, up to 64 characters (pro-yearly)',
    })
  return code
}

export function planName(text: string): string {
  const name = text.trim()
  if (name.length === 0 || name.length > 255 || CONTROL.test(name))
    throw new UserError('the plan name must be 1 to 255 characters on one line', {hint: 'give --name "Pro yearly"'})
  return name
}

export function planInterval(text: string): PlanInterval {
  if (!(PLAN_INTERVAL_NAMES as string[]).includes(text))
    throw new UserError(`unknown interval ${JSON.stringify(text)}`, {hint: `give one of ${PLAN_INTERVAL_NAMES.join(', ')}`})
  return text as PlanInterval
}

/** A unit, or null for `none`. */
export function planUnit(text: string): PlanUnit | null {
  if (text === 'none') return null
  if (!(PLAN_UNITS as readonly string[]).includes(text))
    throw new UserError(`unknown unit ${JSON.stringify(text)}`, {hint: `give ${PLAN_UNITS.join(' or ')} (or none, on plan:edit)`})
  return text as PlanUnit
}

export function planPrice(text: string, currency: string, what: string): number {
  return parseAmount(text, currencyCode(currency), {what, maxMinor: MAX_PRICE_MINOR})
}

function wholeNumber(value: number, what: string, max: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new UserError(`${what} must be a whole number from 0 to ${max}, not ${value}`)
  return value
}

export const trialDays = (value: number): number => wholeNumber(value, '--trial-days', MAX_TRIAL_DAYS)
export const includedUnits = (value: number): number => wholeNumber(value, '--included-units', MAX_INCLUDED_UNITS)

/** Features as given: trimmed, each once, in order. */
export function planFeatures(list: readonly string[]): string[] {
  const features = [...new Set(list.map((f) => f.trim()))]
  for (const feature of features)
    if (feature.length === 0 || feature.length > MAX_FEATURE_LENGTH || CONTROL.test(feature))
      throw new UserError(`a feature must be 1 to ${MAX_FEATURE_LENGTH} characters on one line, not ${JSON.stringify(feature)}`)
  if (features.length > MAX_FEATURES) throw new UserError(`a plan has at most ${MAX_FEATURES} features, not ${features.length}`)
  return features
}
