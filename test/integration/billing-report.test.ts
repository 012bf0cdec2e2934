import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {renderReportCsv} from '../../src/cli/reporters/billing-report.js'
import {billingExplain, billingReport, parseRates, type BillingReport} from '../../src/lib/billing/report.js'
import {NotFoundError, UserError} from '../../src/lib/errors/index.js'
import {addEvent, addPayment, addPlan, addRds, addTenant, payMonthly} from '../support/billing.js'
import {changeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

/**
 * A small worked history (README "Revenue figures: definitions"):
 * - Yearly Four (USD): 4 seats of a yearly per-user plan, 2,000.00 billed on 10 January: new MRR 166.67;
 * - Basic to Pro (USD): basic 50.00 a month since December 2025, pro 100.00 from 1 February (expansion 50.00),
 *   canceled on 10 April, paid through 1 May: churn 100.00 on 1 May;
 * - Euro Cafe (EUR): 100.00 EUR a month from 1 January: new 100.00 EUR, never added to USD.
 */
const NOW = new Date('2026-07-15T00:00:00.000Z')
const PLANS_AT = new Date('2025-11-01T00:00:00.000Z')

interface Seeded {
  yearly: number
  basic: number
  cafe: number
}

async function seedLedger(db: Knex): Promise<Seeded> {
  const eu = await addRds(db, 'eu-1', PLANS_AT)
  const us = await addRds(db, 'us-1', PLANS_AT)
  const seats = await addPlan(
    db,
    {code: 'team-yearly', name: 'Team yearly', currency: 'USD', interval: 'year', price: '0', unit: 'user', unitPrice: '500.00'},
    PLANS_AT,
  )
  const basic = await addPlan(db, {code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', price: '50.00'}, PLANS_AT)
  const pro = await addPlan(db, {code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', price: '100.00'}, PLANS_AT)
  const euro = await addPlan(db, {code: 'euro-monthly', name: 'Euro monthly', currency: 'EUR', interval: 'month', price: '100.00'}, PLANS_AT)
  const t = {
    yearly: await addTenant(db, {name: 'Yearly Four', rdsId: us, remote: 1}, PLANS_AT),
    basic: await addTenant(db, {name: 'Basic to Pro', rdsId: us, remote: 2}, PLANS_AT),
    cafe: await addTenant(db, {name: 'Euro Cafe', rdsId: eu, remote: 3}, PLANS_AT),
  }
  await addEvent(db, {tenantId: t.yearly, type: 'set', effectiveAt: '2026-01-10T00:00:00.000Z', changes: {planId: seats, quantity: 4, status: 'active'}})
  await addPayment(db, {
    tenantId: t.yearly,
    amountMinor: 200_000,
    currency: 'USD',
    periodStart: '2026-01-10T00:00:00.000Z',
    periodEnd: '2027-01-10T00:00:00.000Z',
  })

  await addEvent(db, {tenantId: t.basic, type: 'set', effectiveAt: '2025-12-01T00:00:00.000Z', changes: {planId: basic, quantity: 1, status: 'active'}})
  await addEvent(db, {tenantId: t.basic, type: 'set', effectiveAt: '2026-02-01T00:00:00.000Z', changes: {planId: pro}})
  await addEvent(db, {tenantId: t.basic, type: 'cancel', effectiveAt: '2026-04-10T12:00:00.000Z', changes: {status: 'canceled'}})
  await payMonthly(db, t.basic, (month) => (month < '2026-02' ? 5000 : 10_000), 'USD', '2025-12', 5)

  await addEvent(db, {tenantId: t.cafe, type: 'set', effectiveAt: '2026-01-01T00:00:00.000Z', changes: {planId: euro, quantity: 1, status: 'active'}})
  await payMonthly(db, t.cafe, 10_000, 'EUR', '2026-01', 7)
  return t
}

const RANGE = {from: '2026-01-01', to: '2026-07-01'}

describe.each(CONTROL_ENGINES)('billing:report and billing:explain on %s', (engine) => {
  let control: TestControlDb
  let db: Knex
  let tenants: Seeded
  const ctx = () => changeContext(db, {now: NOW})

  beforeAll(async () => {
    control = await createControlDb(engine)
    db = control.db
    tenants = await seedLedger(db)
  })

  afterAll(async () => {
    await control?.drop()
  })

  const usd = (r: BillingReport) => r.currencies.find((c) => c.currency === 'USD')!
  const eur = (r: BillingReport) => r.currencies.find((c) => c.currency === 'EUR')!

  it('gives the hand-computed figures per month: 166.67 new for 4 yearly seats billed 2,000.00, an upgrade, churn at the paid period end', async () => {
    const report = await billingReport(ctx(), RANGE)
    expect(report.currencies.map((c) => c.currency)).toEqual(['EUR', 'USD'])
    const months = usd(report).periods
    expect(months.map((p) => p.period)).toEqual(['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'])
    expect(months.map((p) => [p.mrrStartMinor, p.newMinor, p.expansionMinor, p.churnMinor, p.mrrEndMinor])).toEqual([
      [5000, 16_667, 0, 0, 21_667],
      [21_667, 0, 5000, 0, 26_667],
      [26_667, 0, 0, 0, 26_667],
      [26_667, 0, 0, 0, 26_667],
      [26_667, 0, 0, 10_000, 16_667],
      [16_667, 0, 0, 0, 16_667],
    ])
    const may = months[4]
    expect(may.arrEndMinor).toBe(16_667 * 12)
    expect([may.customersStart, may.customersEnd, may.customersLost]).toEqual([2, 1, 1])
    expect(may.logoChurnRate.percent).toBe('50.00')
    expect(may.grossMrrChurnRate).toEqual({numerator: 10_000, denominator: 26_667, percent: '37.50'})
    expect(may.netMrrChurnRate.percent).toBe('37.50')
    expect(may.arpaMinor).toBe(16_667)
    expect(months[1].arpaMinor).toBe(13_334) // 26,667 / 2 = 13,333.5 → 13,334, half away from zero
    expect(months[1].byPlan).toEqual([
      {key: 'team-yearly', mrrMinor: 16_667, payingCustomers: 1},
      {key: 'pro', mrrMinor: 10_000, payingCustomers: 1},
    ])
    const us = report.rds.find((r) => r.name === 'us-1')!
    expect(months[1].byRds).toEqual([{key: us.id, mrrMinor: 26_667, payingCustomers: 2}])
    // The policies head the result, in values and in words.
    expect(report.policies).toEqual({limitedDiscounts: 'ignore', pastDueDays: 30, pause: 'contraction', churnAt: 'period-end', mergeMinutes: 60})
    expect(report.definitions.map((d) => d.key)).toContain('termNormalisation')
    expect(report.graceDays).toBe(7)
  })

  it('the roll-forward holds in every currency and period; two currencies are never summed', async () => {
    const report = await billingReport(ctx(), {...RANGE, by: 'week'})
    for (const c of report.currencies) {
      c.periods.forEach((p, k) => {
        expect(p.mrrEndMinor - p.mrrStartMinor).toBe(p.newMinor + p.expansionMinor + p.reactivationMinor - p.contractionMinor - p.churnMinor)
        if (k > 0) expect(p.mrrStartMinor).toBe(c.periods[k - 1].mrrEndMinor)
      })
    }
    const euro = eur(report)
    expect(euro.periods[0].newMinor).toBe(10_000)
    expect(euro.periods.at(-1)!.mrrEndMinor).toBe(10_000)
    expect(usd(report).periods.at(-1)!.mrrEndMinor).toBe(16_667)
    expect(report.converted).toBeNull()
  })

  it('--currency keeps one currency; --churn-at cancellation moves the churn to April', async () => {
    const only = await billingReport(ctx(), {...RANGE, currency: 'eur'})
    expect(only.currencies.map((c) => c.currency)).toEqual(['EUR'])
    const atCancel = await billingReport(ctx(), {...RANGE, currency: 'USD', policies: {churnAt: 'cancellation'}})
    expect(usd(atCancel).periods.map((p) => p.churnMinor)).toEqual([0, 0, 0, 10_000, 0, 0])
    expect(atCancel.policies.churnAt).toBe('cancellation')
  })

  it('converts at stated rates with FX impact on its own line, never a movement', async () => {
    const rates = parseRates('{"EUR": [{"from": "2025-12-01", "rate": "1.08"}, {"from": "2026-02-01", "rate": "1.10"}]}', 'rates.json')
    const report = await billingReport(ctx(), {...RANGE, convertTo: 'USD', rates})
    const [jan, feb] = report.converted!.periods
    // EUR: new 100.00 at 1.08 = 108.00; MRR at the end at February's 1.10 = 110.00; +2.00 FX impact. USD at 1.
    expect(jan.newMinor).toBe(16_667 + 10_800)
    expect(jan.mrrEndMinor).toBe(21_667 + 11_000)
    expect(jan.fxImpactMinor).toBe(200)
    expect(jan.mrrEndMinor).toBe(jan.mrrStartMinor + jan.netChangeMinor + jan.fxImpactMinor)
    expect(feb.mrrStartMinor).toBe(jan.mrrEndMinor)
    expect(feb.fxImpactMinor).toBe(0)
    expect(jan.lines.find((l) => l.currency === 'EUR')).toMatchObject({rateStart: '1.08', rateEnd: '1.10', fxImpactMinor: 200})
  })

  it('refuses bad input: --to before --from, a bad date, an unknown currency, a rates file missing a currency', async () => {
    // Each report is started only when its refusal is awaited: started together, one would reject with no handler yet.
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => billingReport(ctx(), {from: '2026-07-01', to: '2026-01-01'}), /--to \(2026-01-01\) must be after --from/],
      [() => billingReport(ctx(), {from: '2026-02-30', to: '2026-07-01'}), /--from must be a date/],
      [() => billingReport(ctx(), {...RANGE, currency: 'XXY'}), /unknown currency "XXY"/],
      [() => billingReport(ctx(), {...RANGE, convertTo: 'USD', rates: {JPY: '0.0065'}}), /no exchange rate for EUR to USD/],
      [() => billingReport(ctx(), {...RANGE, convertTo: 'USD', rates: {EUR: [{from: '2026-03-01', rate: '1.1'}]}}), /no EUR rate in force at 2026-01-01/],
    ]
    for (const [work, message] of cases) await expect(work()).rejects.toThrow(message)
    await expect(billingReport(ctx(), {from: 'soon', to: '2026-07-01'})).rejects.toBeInstanceOf(UserError)
    expect(() => parseRates('{"EUR": 1.08}', 'r.json')).toThrow(/written as a string/)
    expect(() => parseRates('[1]', 'r.json')).toThrow(/JSON object/)
  })

  it('the three CSV exports: per tenant per period, the roll-forward summary, the movement log', async () => {
    const rates = parseRates('{"EUR": "1.10"}', 'rates.json')
    const report = await billingReport(ctx(), {...RANGE, convertTo: 'USD', rates})
    const lines = (text: string) => text.trim().split('\n')
    const byTenant = lines(renderReportCsv(report, 'tenants'))
    expect(byTenant[0]).toBe('period,currency,tenant_id,tenant,rds,plan,mrr_start,mrr_end,change')
    expect(byTenant).toContain(`2026-01,USD,${tenants.yearly},Yearly Four,us-1,team-yearly,0.00,166.67,166.67`)
    expect(byTenant).toContain(`2026-05,USD,${tenants.basic},Basic to Pro,us-1,pro,100.00,0.00,-100.00`)
    expect(byTenant).toContain(`2026-01,EUR,${tenants.cafe},Euro Cafe,eu-1,euro-monthly,0.00,100.00,100.00`)
    const summary = lines(renderReportCsv(report, 'summary'))
    expect(summary[0]).toBe(
      'period,start,end,currency,converted,mrr_start,new,expansion,reactivation,contraction,churn,fx_impact,mrr_end,arr_end,customers_start,customers_end,paying_customers_end,customers_lost,logo_churn_pct,gross_mrr_churn_pct,net_mrr_churn_pct,arpa',
    )
    expect(summary).toContain(
      '2026-05,2026-05-01T00:00:00.000Z,2026-06-01T00:00:00.000Z,USD,false,266.67,0.00,0.00,0.00,0.00,100.00,,166.67,2000.04,2,1,1,1,50.00,37.50,37.50,166.67',
    )
    expect(summary.filter((l) => l.includes(',USD,true,'))).toHaveLength(6)
    expect(summary.length).toBe(1 + 6 * 3)
    const moves = lines(renderReportCsv(report, 'movements'))
    expect(moves[0]).toBe('at,currency,tenant_id,tenant,rds,type,amount,mrr_before,mrr_after,plan,cause,events,reason')
    expect(moves.slice(1).map((l) => l.split(',').slice(5, 9).join(' '))).toEqual([
      'new 100.00 0.00 100.00',
      'new 166.67 0.00 166.67',
      'expansion 50.00 50.00 100.00',
      'churn 100.00 100.00 0.00',
    ])
  })

  it('billing:explain: every movement of a tenant, the event behind it and the arithmetic', async () => {
    const all = await billingExplain(ctx(), {tenant: 'Basic to Pro'})
    const [usdTimeline] = all.currencies
    expect(usdTimeline.movements.map((m) => [m.type, m.amountMinor, m.at.slice(0, 10), m.cause])).toEqual([
      ['new', 5000, '2025-12-01', 'event'],
      ['expansion', 5000, '2026-02-01', 'event'],
      ['churn', 10_000, '2026-05-01', 'cancellation'],
    ])
    expect(usdTimeline.mrrMinor).toBe(0)
    expect(usdTimeline.events.find((e) => e.status === 'canceled')).toMatchObject({effectiveAt: '2026-05-01T00:00:00.000Z', movements: ['churn']})
    const ranged = await billingExplain(ctx(), {tenant: String(tenants.basic), from: '2026-01-01', to: '2026-04-01'})
    expect(ranged.currencies[0].movements.map((m) => m.type)).toEqual(['expansion'])
    const yearly = await billingExplain(ctx(), {tenant: 'Yearly Four'})
    expect(yearly.currencies[0].events[0].arithmetic).toMatch(/2,000\.00 \/ 12 months = 166\.67/)
    expect(yearly.currencies[0].movements[0]).toMatchObject({type: 'new', amountMinor: 16_667})
    await expect(billingExplain(ctx(), {tenant: 'Nobody At All'})).rejects.toBeInstanceOf(NotFoundError)
  })
})
