import {appendAudit, lockForChange, type AuditEntry} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import {insertReturningId, type Db} from '../db/control-db.js'
import {UserError} from '../errors/index.js'
import {currencyCode, formatMoney} from './money.js'
import {
  fieldsOf,
  includedUnits,
  planCode,
  planColumns,
  planFeatures,
  planInterval,
  planName,
  planPrice,
  planUnit,
  planVersions,
  PLANS_TABLE,
  toPlanView,
  trialDays,
  versionAt,
  type PlanFields,
  type PlanVersionView,
} from './plan-model.js'

/**
 * The changes to plans (`plan:create`, `plan:edit`, `plan:archive`,
 * `plan:unarchive`): each checks everything first, then writes its rows and
 * its audit entry (target `plan`, id the code) in one transaction. Prices are
 * given as decimal text in the plan's currency and stored in minor units.
 */

export interface CreatePlanInput {
  code: string
  name: string
  /** ISO 4217, any case. */
  currency: string
  /** month, quarter, year, 2-year, 3-year. */
  interval: string
  /** The base price per term, as a decimal in the currency (49.00 USD, 4900 JPY). */
  price: string
  /** location or user: the plan also prices per unit. */
  unit?: string
  /** Per unit beyond the included ones, per term (needs `unit`). */
  unitPrice?: string
  /** Units the base price includes (needs `unit`; default 0). */
  includedUnits?: number
  trialDays?: number
  features?: readonly string[]
}

/** Unit pricing given together: a unit and its price, or neither. */
function unitPricing(
  unit: PlanFields['unit'],
  unitPrice: string | undefined,
  included: number | undefined,
  currency: string,
): Pick<PlanFields, 'unit' | 'unitPriceMinor' | 'includedUnits'> {
  if (unit === null) {
    if (unitPrice !== undefined || (included !== undefined && included !== 0))
      throw new UserError('--unit-price and --included-units price a unit: give --unit location or --unit user with them')
    return {unit: null, unitPriceMinor: null, includedUnits: 0}
  }
  if (unitPrice === undefined) throw new UserError(`a plan priced per ${unit} needs --unit-price`, {hint: 'e.g. --unit-price 10.00 (0 is allowed)'})
  return {unit, unitPriceMinor: planPrice(unitPrice, currency, '--unit-price'), includedUnits: includedUnits(included ?? 0)}
}

/** What the audit trail keeps of a version: its fields, amounts in minor units. */
function auditValues(view: PlanVersionView): Record<string, unknown> {
  return {
    version: view.version,
    name: view.name,
    currency: view.currency,
    interval: view.interval,
    priceMinor: view.priceMinor,
    unit: view.unit,
    unitPriceMinor: view.unitPriceMinor,
    includedUnits: view.includedUnits,
    trialDays: view.trialDays,
    features: view.features,
    effectiveFrom: view.effectiveFrom,
  }
}

async function readVersion(db: Db, id: number): Promise<PlanVersionView> {
  return toPlanView(
    await db(PLANS_TABLE)
      .where({id})
      .first()
      .then((row) => row ?? Promise.reject(new Error(`plan version ${id} vanished`))),
  )
}

/** `plan:create`: version 1 of a new plan, in effect from now. */
export async function createPlan(ctx: ChangeContext, input: CreatePlanInput): Promise<PlanVersionView> {
  const code = planCode(input.code)
  const currency = currencyCode(input.currency)
  if (input.unit === 'none') throw new UserError('--unit none is for plan:edit; leave --unit out for a plan without unit pricing')
  const fields: PlanFields = {
    name: planName(input.name),
    currency,
    interval: planInterval(input.interval),
    priceMinor: planPrice(input.price, currency, '--price'),
    ...unitPricing(input.unit === undefined ? null : planUnit(input.unit), input.unitPrice, input.includedUnits, currency),
    trialDays: trialDays(input.trialDays ?? 0),
    features: planFeatures(input.features ?? []),
  }
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    if (await tx(PLANS_TABLE).where({code}).first('id'))
      throw new UserError(`a plan "${code}" already exists`, {hint: 'change it with `raiops plan:edit`, or choose another code'})
    const id = await insertReturningId(tx, PLANS_TABLE, {
      code,
      version: 1,
      ...planColumns(fields),
      effective_from: now,
      archived_at: null,
      is_active: true,
      created_at: now,
      updated_at: now,
    })
    const plan = await readVersion(tx, id)
    await appendAudit(tx, ctx.audit, {action: 'plan.create', targetType: 'plan', targetId: code, newValues: auditValues(plan)}, now)
    return plan
  })
}

export interface EditPlanInput {
  code: string
  /** In place: the version in effect and any scheduled after it. */
  name?: string
  trialDays?: number
  /** The whole list (replaces it; [] for none). */
  features?: readonly string[]
  /** A new version: any of these that differs from the latest version. */
  currency?: string
  interval?: string
  price?: string
  /** location, user, or none (no unit pricing any more). */
  unit?: string
  unitPrice?: string
  includedUnits?: number
  /** When the new version's prices apply from (default now); not before the latest version's. */
  effective?: Date
  /** Check and return what would change, writing nothing. */
  dryRun?: boolean
}

/** A field that changes: values as people read them (amounts with their currency). */
export interface PlanFieldChange {
  field: string
  old: unknown
  new: unknown
  /** Changed on the versions in effect and after (`in-place`), or by a new version. */
  scope: 'in-place' | 'new-version'
}

export interface PlanEditResult {
  code: string
  dryRun: boolean
  changes: PlanFieldChange[]
  /** The version a price change made (or would make). */
  newVersion: {version: number; effectiveFrom: string} | null
  /**
   * The version in effect now once the change is made; in a dry run as it would
   * be (id 0 for a version not written). A new version from a later date is not in effect yet.
   */
  plan: PlanVersionView
  notes: string[]
}

const IN_PLACE = ['name', 'trialDays', 'features'] as const
const PRICING = ['currency', 'interval', 'priceMinor', 'unit', 'unitPriceMinor', 'includedUnits'] as const

/** A field's value as a change shows it: amounts with their currency. */
function shown(fields: PlanFields, field: keyof PlanFields): unknown {
  if (field === 'priceMinor') return formatMoney(fields.priceMinor, fields.currency)
  if (field === 'unitPriceMinor') return fields.unitPriceMinor === null ? null : formatMoney(fields.unitPriceMinor, fields.currency)
  return fields[field]
}

const FIELD_NAMES: Record<string, string> = {priceMinor: 'price', unitPriceMinor: 'unitPrice'}

/** The latest version's fields with the edit applied, checked. */
function editedFields(latest: PlanFields, input: EditPlanInput): PlanFields {
  const currency = input.currency === undefined ? latest.currency : currencyCode(input.currency)
  const currencyChanged = currency !== latest.currency
  if (currencyChanged && input.price === undefined)
    throw new UserError(`a change of currency to ${currency} needs the price in it`, {hint: 'give --price (and --unit-price for a plan priced per unit)'})
  const unit = input.unit === undefined ? latest.unit : planUnit(input.unit)
  let unitPriceMinor: number | null = null
  if (unit === null) {
    if (input.unitPrice !== undefined || (input.includedUnits !== undefined && input.includedUnits !== 0))
      throw new UserError('--unit-price and --included-units price a unit, which the plan would not have', {
        hint: 'give --unit location or --unit user with them',
      })
  } else if (input.unitPrice !== undefined) {
    unitPriceMinor = planPrice(input.unitPrice, currency, '--unit-price')
  } else if (latest.unitPriceMinor !== null && !currencyChanged) {
    // The unit price carries over, unless the currency changes: then it must be given in the new one.
    unitPriceMinor = latest.unitPriceMinor
  } else {
    throw new UserError(currencyChanged ? `a change of currency to ${currency} needs the unit price in it` : `a plan priced per ${unit} needs --unit-price`, {
      hint: 'give --unit-price (0 is allowed)',
    })
  }
  return {
    name: input.name === undefined ? latest.name : planName(input.name),
    currency,
    interval: input.interval === undefined ? latest.interval : planInterval(input.interval),
    priceMinor: input.price === undefined ? latest.priceMinor : planPrice(input.price, currency, '--price'),
    unit,
    unitPriceMinor,
    includedUnits: unit === null ? 0 : includedUnits(input.includedUnits ?? (latest.unit === null ? 0 : latest.includedUnits)),
    trialDays: input.trialDays === undefined ? latest.trialDays : trialDays(input.trialDays),
    features: input.features === undefined ? latest.features : planFeatures(input.features),
  }
}

/** A version as it would read with these fields (a dry run's preview). */
function withFields(base: PlanVersionView, fields: PlanFields, version: {id: number; version: number; effectiveFrom: string}, now: Date): PlanVersionView {
  return toPlanView({
    id: version.id,
    code: base.code,
    version: version.version,
    ...planColumns(fields),
    effective_from: new Date(version.effectiveFrom),
    archived_at: null,
    is_active: true,
    created_at: version.id === base.id ? new Date(base.createdAt) : now,
    updated_at: now,
  })
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * `plan:edit`: name, trial days and features change in place (on the version
 * in effect and any scheduled after it; older versions keep theirs as
 * history); a change of price, interval, unit pricing or currency makes a new
 * version, from `effective` (default now). Subscriptions stay on the version
 * they are on. Everything is checked before anything is written.
 */
export async function editPlan(ctx: ChangeContext, input: EditPlanInput): Promise<PlanEditResult> {
  const code = planCode(input.code)
  const given = [...IN_PLACE, 'currency', 'interval', 'price', 'unit', 'unitPrice', 'includedUnits'].filter(
    (key) => input[key as keyof EditPlanInput] !== undefined,
  )
  if (given.length === 0)
    throw new UserError('nothing to change', {
      hint: 'give --name, --trial-days, --feature, --price, --interval, --currency, --unit, --unit-price or --included-units',
    })
  const now = ctx.now()
  const work = async (tx: Db): Promise<PlanEditResult> => {
    const versions = await planVersions(tx, code)
    const latest = versions[versions.length - 1]
    if (latest.archivedAt) throw new UserError(`plan "${code}" is archived`, {hint: `unarchive it first: raiops plan:unarchive ${code}`})
    const current = versionAt(versions, now) ?? versions[0]
    const before = fieldsOf(latest)
    const after = editedFields(before, input)
    const changes: PlanFieldChange[] = []
    for (const field of IN_PLACE) {
      const old = fieldsOf(current)[field]
      if (!sameValue(old, after[field])) changes.push({field, old, new: after[field], scope: 'in-place'})
    }
    for (const field of PRICING)
      if (!sameValue(before[field], after[field]))
        changes.push({field: FIELD_NAMES[field] ?? field, old: shown(before, field), new: shown(after, field), scope: 'new-version'})
    const versioned = changes.some((c) => c.scope === 'new-version')
    if (input.effective !== undefined && !versioned)
      throw new UserError('--effective dates a new version: it needs a change of price, interval, unit pricing or currency', {
        hint: 'name, trial days and features change in place, at once',
      })
    const effective = input.effective ?? now
    if (versioned && effective.getTime() < Date.parse(latest.effectiveFrom))
      throw new UserError(`--effective ${effective.toISOString()} is before version ${latest.version} of "${code}" applies (${latest.effectiveFrom})`, {
        hint: 'a new version applies from the latest one’s date or later',
      })
    const newVersion = versioned ? {version: latest.version + 1, effectiveFrom: effective.toISOString()} : null
    const notes: string[] = []
    if (changes.length === 0) notes.push('nothing changed: every value given is the plan’s already')
    if (newVersion)
      notes.push(
        `version ${newVersion.version} applies from ${newVersion.effectiveFrom}; existing subscriptions keep the version they are on (${latest.version}) until they are changed`,
      )
    const preview = (): PlanVersionView =>
      newVersion && effective.getTime() <= now.getTime()
        ? withFields(latest, after, {id: 0, ...newVersion}, now)
        : withFields(current, {...fieldsOf(current), name: after.name, trialDays: after.trialDays, features: after.features}, current, now)
    if (input.dryRun || changes.length === 0) return {code, dryRun: Boolean(input.dryRun), changes, newVersion, plan: preview(), notes}

    const inPlace = changes.filter((c) => c.scope === 'in-place')
    const entries: AuditEntry[] = []
    if (inPlace.length > 0) {
      const affected = versions.filter((v) => v.version >= current.version).map((v) => v.version)
      await tx(PLANS_TABLE)
        .where({code})
        .whereIn('version', affected)
        .update({
          name: after.name,
          trial_days: after.trialDays,
          features: after.features.length === 0 ? null : JSON.stringify(after.features),
          updated_at: now,
        })
      entries.push({
        action: 'plan.edit',
        targetType: 'plan',
        targetId: code,
        oldValues: {versions: affected, ...Object.fromEntries(inPlace.map((c) => [c.field, c.old]))},
        newValues: {versions: affected, ...Object.fromEntries(inPlace.map((c) => [c.field, c.new]))},
      })
    }
    if (newVersion) {
      const id = await insertReturningId(tx, PLANS_TABLE, {
        code,
        version: newVersion.version,
        ...planColumns(after),
        effective_from: effective,
        archived_at: null,
        is_active: true,
        created_at: now,
        updated_at: now,
      })
      entries.push({
        action: 'plan.version',
        targetType: 'plan',
        targetId: code,
        oldValues: auditValues(latest),
        newValues: auditValues(await readVersion(tx, id)),
      })
    }
    for (const entry of entries) await appendAudit(tx, ctx.audit, entry, now)
    const plan = versionAt(await planVersions(tx, code), now) ?? versions[0]
    return {code, dryRun: false, changes, newVersion, plan, notes}
  }
  if (input.dryRun) return work(ctx.db)
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    return work(tx)
  })
}

export interface PlanArchiveResult {
  code: string
  archived: boolean
  /** Whether this run changed it (false: it already was as asked). */
  changed: boolean
  archivedAt: string | null
  versions: number
}

/**
 * `plan:archive` / `plan:unarchive`: every version of the plan archived (no
 * new subscription can use it; existing ones keep it) or back in use. A plan
 * is never deleted. Asking for what already is changes nothing and says so.
 */
export async function setPlanArchived(ctx: ChangeContext, input: {code: string; archived: boolean}): Promise<PlanArchiveResult> {
  const code = planCode(input.code)
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const versions = await planVersions(tx, code)
    const archivedAt = versions[versions.length - 1].archivedAt
    if ((archivedAt !== null) === input.archived) return {code, archived: input.archived, changed: false, archivedAt, versions: versions.length}
    await tx(PLANS_TABLE)
      .where({code})
      .update({archived_at: input.archived ? now : null, is_active: !input.archived, updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: input.archived ? 'plan.archive' : 'plan.unarchive',
        targetType: 'plan',
        targetId: code,
        oldValues: {archivedAt},
        newValues: {archivedAt: input.archived ? now.toISOString() : null},
      },
      now,
    )
    return {code, archived: input.archived, changed: true, archivedAt: input.archived ? now.toISOString() : null, versions: versions.length}
  })
}
