import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {listAudit} from '../../src/lib/audit/read.js'
import {createPlan, editPlan, setPlanArchived, type CreatePlanInput} from '../../src/lib/billing/plan-changes.js'
import {getPlan, listPlans, monthlyMinor, showPlan, termPriceMinor} from '../../src/lib/billing/plans.js'
import {RaiopsError, UserError} from '../../src/lib/errors/index.js'
import {changeContext, TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const T0 = new Date('2026-12-01T09:00:00.000Z')
const T1 = new Date('2026-12-15T09:00:00.000Z')
const T2 = new Date('2027-01-01T00:00:00.000Z')

const STARTER: CreatePlanInput = {
  code: 'starter',
  name: 'Starter',
  currency: 'usd',
  interval: 'month',
  price: '49.00',
  unit: 'location',
  unitPrice: '10',
  includedUnits: 1,
  trialDays: 14,
  features: ['pos', 'reports', 'pos'],
}

/** Rows of plans and of the audit trail: unchanged counts mean nothing was written. */
async function counts(db: Knex): Promise<{plans: number; audit: number}> {
  const [[plans], [audit]] = await Promise.all([db('subscription_plans').count({n: '*'}), db('audit_logs').count({n: '*'})])
  return {plans: Number(plans.n), audit: Number(audit.n)}
}

async function refusal(work: () => Promise<unknown>): Promise<RaiopsError> {
  try {
    await work()
  } catch (error) {
    expect(error).toBeInstanceOf(RaiopsError)
    return error as RaiopsError
  }
  throw new Error('expected a refusal')
}

describe('the price of a term', () => {
  it('a yearly plan of four seats billed 2,000.00 in total is 166.67 a month', () => {
    const yearly = {priceMinor: 0, unit: 'user' as const, unitPriceMinor: 50_000, includedUnits: 0}
    const term = termPriceMinor(yearly, 4)
    expect(term).toBe(200_000)
    expect(monthlyMinor(term, 12)).toBe(16_667)
  })

  it('base plus the units beyond the included ones; a plan without a unit ignores the quantity', () => {
    const perLocation = {priceMinor: 4900, unit: 'location' as const, unitPriceMinor: 1000, includedUnits: 2}
    expect([0, 1, 2, 3, 7].map((q) => termPriceMinor(perLocation, q))).toEqual([4900, 4900, 4900, 5900, 9900])
    expect(termPriceMinor({priceMinor: 4900, unit: null, unitPriceMinor: null, includedUnits: 0}, 40)).toBe(4900)
    expect(() => termPriceMinor(perLocation, -1)).toThrow(UserError)
    expect(() => termPriceMinor(perLocation, 1.5)).toThrow(UserError)
    expect(monthlyMinor(29_900, 3)).toBe(9967)
    expect(monthlyMinor(100_000, 36)).toBe(2778)
  })
})

describe.each(CONTROL_ENGINES)('plans on %s', (engine) => {
  let control: TestControlDb
  let db: Knex
  const at = (now: Date) => changeContext(db, {now})

  beforeAll(async () => {
    control = await createControlDb(engine)
    db = control.db
  })
  afterAll(async () => {
    await control?.drop()
  })

  it('plan:create stores version 1 in minor units, audited with its values', async () => {
    const plan = await createPlan(at(T0), STARTER)
    expect(plan).toMatchObject({
      code: 'starter',
      version: 1,
      name: 'Starter',
      currency: 'USD',
      interval: 'month',
      intervalMonths: 1,
      priceMinor: 4900,
      price: '49.00',
      monthlyMinor: 4900,
      unit: 'location',
      unitPriceMinor: 1000,
      unitPrice: '10.00',
      includedUnits: 1,
      trialDays: 14,
      features: ['pos', 'reports'],
      effectiveFrom: T0.toISOString(),
      archivedAt: null,
    })
    const [row] = await db('subscription_plans').where({code: 'starter'}).select('price_cents', 'unit_price_minor', 'interval_months', 'features', 'is_active')
    expect({...row, is_active: Boolean(row.is_active)}).toEqual({
      price_cents: 4900,
      unit_price_minor: 1000,
      interval_months: 1,
      features: '["pos","reports"]',
      is_active: true,
    })
    const [entry] = await listAudit({db}, {action: 'plan.create', limit: 5})
    expect(entry).toMatchObject({actor: TEST_AUDIT.actor, targetType: 'plan', targetId: 'starter', oldValues: null})
    expect(entry.newValues).toEqual({
      version: 1,
      name: 'Starter',
      currency: 'USD',
      interval: 'month',
      priceMinor: 4900,
      unit: 'location',
      unitPriceMinor: 1000,
      includedUnits: 1,
      trialDays: 14,
      features: ['pos', 'reports'],
      effectiveFrom: T0.toISOString(),
    })
  })

  it('JPY and KWD in their own minor units; a free plan; a yearly and a 3-year term', async () => {
    const yen = await createPlan(at(T0), {code: 'tokyo', name: 'Tokyo', currency: 'JPY', interval: 'year', price: '49000'})
    expect([yen.priceMinor, yen.price, yen.monthlyMinor, yen.monthly]).toEqual([49_000, '49000', 4083, '4083'])
    const dinar = await createPlan(at(T0), {code: 'kuwait', name: 'Kuwait', currency: 'KWD', interval: 'quarter', price: '12.500'})
    expect([dinar.priceMinor, dinar.price, dinar.monthly]).toEqual([12_500, '12.500', '4.167'])
    const free = await createPlan(at(T0), {code: 'free', name: 'Free', currency: 'EUR', interval: '3-year', price: '0'})
    expect([free.priceMinor, free.intervalMonths, free.unit]).toEqual([0, 36, null])
  })

  it('every bad input is one line (exit 2) and writes nothing', async () => {
    const before = await counts(db)
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['too many decimals', () => createPlan(at(T1), {...STARTER, code: 'x1', price: '49.001'}), /has more decimals than USD allows \(at most 2 decimals\)/],
      [
        'decimals in yen',
        () => createPlan(at(T1), {...STARTER, code: 'x2', currency: 'JPY', price: '1.5', unit: undefined, unitPrice: undefined, includedUnits: undefined}),
        /JPY allows \(no decimals\)/,
      ],
      ['negative price', () => createPlan(at(T1), {...STARTER, code: 'x3', price: '-1.00'}), /--price cannot be negative/],
      ['negative unit price', () => createPlan(at(T1), {...STARTER, code: 'x4', unitPrice: '-5'}), /--unit-price cannot be negative/],
      ['unknown currency', () => createPlan(at(T1), {...STARTER, code: 'x5', currency: 'USX'}), /unknown currency "USX"/],
      ['bad interval', () => createPlan(at(T1), {...STARTER, code: 'x6', interval: 'fortnight'}), /unknown interval "fortnight"/],
      ['bad unit', () => createPlan(at(T1), {...STARTER, code: 'x7', unit: 'seat'}), /unknown unit "seat"/],
      ['unit without price', () => createPlan(at(T1), {...STARTER, code: 'x8', unitPrice: undefined}), /priced per location needs --unit-price/],
      ['unit price without unit', () => createPlan(at(T1), {...STARTER, code: 'x9', unit: undefined}), /price a unit/],
      ['too large', () => createPlan(at(T1), {...STARTER, code: 'x10', price: '10000000000.01'}), /is too large/],
      ['bad code', () => createPlan(at(T1), {...STARTER, code: 'Pro Plan'}), /not a lowercase slug/],
      ['empty name', () => createPlan(at(T1), {...STARTER, code: 'x11', name: '  '}), /name must be 1 to 255/],
      ['trial days', () => createPlan(at(T1), {...STARTER, code: 'x12', trialDays: -1}), /--trial-days must be a whole number/],
      ['duplicate code', () => createPlan(at(T1), STARTER), /a plan "starter" already exists/],
      ['unknown plan (edit)', () => editPlan(at(T1), {code: 'nope', price: '1'}), /no plan "nope"/],
      ['unknown plan (archive)', () => setPlanArchived(at(T1), {code: 'nope', archived: true}), /no plan "nope"/],
      ['unknown plan (show)', () => showPlan(at(T1), {code: 'nope'}), /no plan "nope"/],
      ['nothing to change', () => editPlan(at(T1), {code: 'starter'}), /nothing to change/],
      ['edit too many decimals', () => editPlan(at(T1), {code: 'starter', price: '59.999'}), /more decimals than USD allows/],
      ['currency without price', () => editPlan(at(T1), {code: 'starter', currency: 'EUR'}), /needs the price in it/],
      ['currency without unit price', () => editPlan(at(T1), {code: 'starter', currency: 'EUR', price: '45'}), /needs the unit price in it/],
      ['effective with no new version', () => editPlan(at(T1), {code: 'starter', name: 'S', effective: T2}), /--effective dates a new version/],
      [
        'effective before the version',
        () => editPlan(at(T1), {code: 'starter', price: '59', effective: new Date('2026-11-01T00:00:00Z')}),
        /before version 1 of "starter" applies/,
      ],
      ['no such version', () => getPlan(db, 'starter', {version: 9}), /has no version 9/],
      ['before the plan', () => getPlan(db, 'starter', {at: new Date('2020-01-01T00:00:00Z')}), /was not in effect yet/],
    ]
    for (const [what, work, message] of cases) {
      const error = await refusal(work)
      expect(error.exitCode, what).toBe(2)
      expect(error.message, what).toMatch(message)
      expect(error.message, what).not.toContain('\n')
    }
    expect(await counts(db)).toEqual(before)
  })

  it('plan:edit changes name, trial days and features in place, audited old and new; a dry run writes nothing', async () => {
    const before = await counts(db)
    const dry = await editPlan(at(T1), {code: 'starter', name: 'Starter Plus', features: ['pos', 'loyalty'], dryRun: true})
    expect(dry).toMatchObject({dryRun: true, newVersion: null, plan: {name: 'Starter Plus', version: 1}})
    expect(await counts(db)).toEqual(before)

    const edited = await editPlan(at(T1), {code: 'starter', name: 'Starter Plus', features: ['pos', 'loyalty'], trialDays: 14})
    expect(edited.changes).toEqual([
      {field: 'name', old: 'Starter', new: 'Starter Plus', scope: 'in-place'},
      {field: 'features', old: ['pos', 'reports'], new: ['pos', 'loyalty'], scope: 'in-place'},
    ])
    expect(edited.plan).toMatchObject({version: 1, name: 'Starter Plus', features: ['pos', 'loyalty'], priceMinor: 4900})
    expect(await counts(db)).toEqual({plans: before.plans, audit: before.audit + 1})
    const [entry] = await listAudit({db}, {action: 'plan.edit', limit: 1})
    expect(entry).toMatchObject({
      targetId: 'starter',
      oldValues: {versions: [1], name: 'Starter', features: ['pos', 'reports']},
      newValues: {versions: [1], name: 'Starter Plus', features: ['pos', 'loyalty']},
    })
    // The same values again: nothing to do, nothing written.
    const again = await editPlan(at(T1), {code: 'starter', name: 'Starter Plus'})
    expect(again.changes).toEqual([])
    expect(again.notes[0]).toMatch(/nothing changed/)
    expect(await counts(db)).toEqual({plans: before.plans, audit: before.audit + 1})
  })

  it('a price change is a new version from its effective date; the old one keeps its price', async () => {
    const before = await counts(db)
    const dry = await editPlan(at(T1), {code: 'starter', price: '59.00', unitPrice: '12.50', effective: T2, dryRun: true})
    expect(dry.newVersion).toEqual({version: 2, effectiveFrom: T2.toISOString()})
    expect(dry.plan.version).toBe(1)
    expect(await counts(db)).toEqual(before)

    const edited = await editPlan(at(T1), {code: 'starter', price: '59.00', unitPrice: '12.50', effective: T2})
    expect(edited.changes).toEqual([
      {field: 'price', old: '49.00 USD', new: '59.00 USD', scope: 'new-version'},
      {field: 'unitPrice', old: '10.00 USD', new: '12.50 USD', scope: 'new-version'},
    ])
    expect(edited.newVersion).toEqual({version: 2, effectiveFrom: T2.toISOString()})
    expect(edited.notes.join(' ')).toContain('existing subscriptions keep the version they are on (1)')
    // Version 1 is still in effect until T2, and keeps its price for good.
    expect(edited.plan).toMatchObject({version: 1, priceMinor: 4900})
    expect(await getPlan(db, 'starter', {at: T1})).toMatchObject({version: 1, priceMinor: 4900, unitPriceMinor: 1000})
    expect(await getPlan(db, 'starter', {at: T2})).toMatchObject({
      version: 2,
      priceMinor: 5900,
      unitPriceMinor: 1250,
      name: 'Starter Plus',
      features: ['pos', 'loyalty'],
    })
    expect(await getPlan(db, 'starter', {version: 1})).toMatchObject({priceMinor: 4900})
    const [entry] = await listAudit({db}, {action: 'plan.version', limit: 1})
    expect(entry.oldValues).toMatchObject({version: 1, priceMinor: 4900, unitPriceMinor: 1000})
    expect(entry.newValues).toMatchObject({version: 2, priceMinor: 5900, unitPriceMinor: 1250, effectiveFrom: T2.toISOString()})

    // plan:list shows the version in effect and the one scheduled.
    const listed = (await listPlans(at(T1))).find((p) => p.code === 'starter')
    expect(listed).toMatchObject({version: 1, versions: 2, scheduled: {version: 2, effectiveFrom: T2.toISOString()}})
    expect((await listPlans(at(T2))).find((p) => p.code === 'starter')).toMatchObject({version: 2, priceMinor: 5900, scheduled: null})

    // A later version cannot start before this one; a change of currency is a version too.
    const error = await refusal(() => editPlan(at(T1), {code: 'starter', price: '61', effective: T1}))
    expect(error.message).toMatch(/before version 2 of "starter" applies/)
    const euro = await editPlan(at(T2), {code: 'starter', currency: 'eur', price: '55', unitPrice: '11'})
    expect(euro.newVersion?.version).toBe(3)
    expect(euro.plan).toMatchObject({version: 3, currency: 'EUR', priceMinor: 5500, unitPriceMinor: 1100, includedUnits: 1})
  })

  it('a per-unit plan loses its unit pricing with --unit none; an interval change renormalises the month', async () => {
    const edited = await editPlan(at(T2), {code: 'starter', unit: 'none', interval: 'year', price: '550'})
    expect(edited.plan).toMatchObject({
      version: 4,
      unit: null,
      unitPriceMinor: null,
      includedUnits: 0,
      intervalMonths: 12,
      priceMinor: 55_000,
      monthlyMinor: 4583,
    })
  })

  it('plan:show has every version and who changed the plan', async () => {
    const shown = await showPlan(at(T2), {code: 'starter'})
    expect(shown.versions.map((v) => v.version)).toEqual([1, 2, 3, 4])
    expect(shown.plan.version).toBe(4)
    expect(shown.inEffect).toBe(true)
    expect(shown.history.map((h) => h.action)).toEqual(['plan.create', 'plan.edit', 'plan.version', 'plan.version', 'plan.version'])
    expect(shown.history.every((h) => h.actor === TEST_AUDIT.actor)).toBe(true)
    expect(shown.history[1].changes).toContainEqual({field: 'name', old: 'Starter', new: 'Starter Plus'})
    const first = await showPlan(at(T2), {code: 'starter', version: 1})
    expect([first.plan.version, first.inEffect]).toEqual([1, false])
  })

  it('plan:archive keeps every version; twice is a no-op that says so; plan:unarchive brings it back', async () => {
    const before = await counts(db)
    const archived = await setPlanArchived(at(T2), {code: 'starter', archived: true})
    expect(archived).toEqual({code: 'starter', archived: true, changed: true, archivedAt: T2.toISOString(), versions: 4})
    const again = await setPlanArchived(at(T2), {code: 'starter', archived: true})
    expect(again).toMatchObject({changed: false, archivedAt: T2.toISOString()})
    expect(await counts(db)).toEqual({plans: before.plans, audit: before.audit + 1})
    expect((await listPlans(at(T2))).map((p) => p.code)).not.toContain('starter')
    expect((await listPlans(at(T2), {all: true})).find((p) => p.code === 'starter')).toMatchObject({archivedAt: T2.toISOString(), version: 4})
    // Still found by the billing work (a subscription may be on it); not edited.
    expect((await getPlan(db, 'starter', {version: 2})).archivedAt).toBe(T2.toISOString())
    expect((await refusal(() => editPlan(at(T2), {code: 'starter', name: 'S'}))).message).toMatch(/is archived/)

    const back = await setPlanArchived(at(T2), {code: 'starter', archived: false})
    expect(back).toMatchObject({archived: false, changed: true, archivedAt: null})
    expect((await listPlans(at(T2))).map((p) => p.code)).toContain('starter')
    const actions = (await listAudit({db}, {target: {type: 'plan', id: 'starter'}, limit: 10})).map((e) => e.action)
    expect(actions.slice(0, 2)).toEqual(['plan.unarchive', 'plan.archive'])
  })

  it('plan:list: active plans by code, with their monthly price', async () => {
    const listed = await listPlans(at(T2))
    expect(listed.map((p) => p.code)).toEqual(['free', 'kuwait', 'starter', 'tokyo'])
    expect(listed.map((p) => [p.code, p.monthly, p.currency])).toEqual([
      ['free', '0.00', 'EUR'],
      ['kuwait', '4.167', 'KWD'],
      ['starter', '45.83', 'EUR'],
      ['tokyo', '4083', 'JPY'],
    ])
  })
})
