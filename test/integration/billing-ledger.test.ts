import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {listAudit} from '../../src/lib/audit/read.js'
import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {billingAlerts} from '../../src/lib/billing/alerts.js'
import {billingStatuses} from '../../src/lib/billing/billing-status.js'
import {addMonths, foldLedger, type LedgerPlan} from '../../src/lib/billing/ledger.js'
import {mrrAt, type Instant} from '../../src/lib/billing/mrr/index.js'
import {recordPayment, refundPayment, showBilling} from '../../src/lib/billing/payments.js'
import {createPlan} from '../../src/lib/billing/plan-changes.js'
import {cancelSubscription, parseDiscount, pauseSubscription, resumeSubscription, setSubscription} from '../../src/lib/billing/subscriptions.js'
import {loadTimelines} from '../../src/lib/billing/timelines.js'
import {openControlDb} from '../../src/lib/db/control-db.js'
import {RaiopsError, UserError} from '../../src/lib/errors/index.js'
import {rescoreUnread} from '../../src/lib/tenant/refresh.js'
import {changeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const d = (iso: string) => new Date(`${iso}T00:00:00.000Z`)
const iso = (day: string) => `${day}T00:00:00.000Z`
/** A state's instant (epoch ms, as the fold gives it to the engine) as ISO text, for reading. */
const isoAt = (ms: Instant | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString())
const REGISTERED = d('2026-01-01')

/** Rows of the ledger and the audit trail: unchanged counts mean nothing was written. */
async function counts(db: Knex): Promise<Record<string, number>> {
  const result: Record<string, number> = {}
  for (const table of ['billing_events', 'tenant_billing', 'payments', 'audit_logs']) result[table] = Number((await db(table).count({n: '*'}))[0].n)
  return result
}

async function refusal(db: Knex, work: () => Promise<unknown>): Promise<RaiopsError> {
  const before = await counts(db)
  let caught: unknown
  try {
    await work()
  } catch (error) {
    caught = error
  }
  expect(caught, 'expected a refusal').toBeInstanceOf(RaiopsError)
  expect((caught as RaiopsError).exitCode).toBe(2)
  expect(await counts(db)).toEqual(before)
  return caught as RaiopsError
}

async function addTenant(db: Knex, name: string, rds: number, remote: number): Promise<number> {
  await db('tenant_master').insert({
    rds_instance_id: rds,
    remote_tenant_id: remote,
    name,
    cached_location_count: 4,
    cached_user_count: 9,
    created_at: REGISTERED,
    updated_at: REGISTERED,
  })
  return Number((await db('tenant_master').where({name}).first('id'))!.id)
}

describe('the fold of a ledger', () => {
  const plan: LedgerPlan = {
    id: 1,
    code: 'm',
    version: 1,
    currency: 'USD',
    priceMinor: 1000,
    unit: null,
    unitPriceMinor: null,
    includedUnits: 0,
    intervalMonths: 1,
  }
  const plans = new Map([[1, plan]])

  it('adds calendar months, the day clamped to the month (Jan 31 + 1 month = Feb 28), anchored on the first period', () => {
    expect(new Date(addMonths(Date.parse('2026-01-31T00:00:00Z'), 1)).toISOString()).toBe('2026-02-28T00:00:00.000Z')
    expect(new Date(addMonths(Date.parse('2026-01-31T00:00:00Z'), 2)).toISOString()).toBe('2026-03-31T00:00:00.000Z')
    expect(new Date(addMonths(Date.parse('2028-01-31T10:30:00Z'), 1)).toISOString()).toBe('2028-02-29T10:30:00.000Z')
    expect(new Date(addMonths(Date.parse('2026-12-15T23:59:59.999Z'), 1)).toISOString()).toBe('2027-01-15T23:59:59.999Z')
    expect(new Date(addMonths(Date.parse('2026-11-30T00:00:00Z'), 36)).toISOString()).toBe('2029-11-30T00:00:00.000Z')
    const ledger = foldLedger(
      [{id: 1, type: 'set', effectiveAt: Date.parse('2026-01-31T00:00:00Z'), changes: {planId: 1, quantity: 1, status: 'active'}}],
      [],
      plans,
      {
        until: Date.parse('2026-04-01T00:00:00Z'),
        graceDays: 7,
      },
    )
    expect(ledger.periods.map((p) => new Date(p.start).toISOString().slice(0, 10))).toEqual(['2026-01-31', '2026-02-28', '2026-03-31'])
  })

  it('a period that costs nothing (a 100 % discount) is paid as it starts and never makes the subscription past due', () => {
    const ledger = foldLedger(
      [{id: 1, type: 'set', effectiveAt: Date.parse(iso('2026-01-01')), changes: {planId: 1, quantity: 1, status: 'active', discount: {percentBp: 10_000}}}],
      [],
      plans,
      {until: Date.parse(iso('2026-04-01')), graceDays: 7},
    )
    expect(ledger.periods.map((p) => [new Date(p.start).toISOString().slice(0, 10), p.dueMinor, p.paidAt === p.start])).toEqual([
      ['2026-01-01', 0, true],
      ['2026-02-01', 0, true],
      ['2026-03-01', 0, true],
      ['2026-04-01', 0, true],
    ])
    expect([ledger.status, ledger.states.map((s) => s.status)]).toEqual(['active', ['active']])
  })

  it('a trial bills nothing until it ends; an unpaid period is past due after the grace days and active again once paid', () => {
    const events = [
      {
        id: 1,
        type: 'set' as const,
        effectiveAt: Date.parse(iso('2026-01-01')),
        changes: {planId: 1, quantity: 1, status: 'active' as const, trialUntil: iso('2026-01-15')},
      },
    ]
    const payments = [
      {
        id: 7,
        amountMinor: 1000,
        currency: 'USD',
        paidAt: Date.parse(iso('2026-02-25')),
        status: 'succeeded' as const,
        periodStart: Date.parse(iso('2026-01-15')),
        refundOf: null,
      },
    ]
    const ledger = foldLedger(events, payments, plans, {until: Date.parse(iso('2026-03-01')), graceDays: 7})
    expect(ledger.states.map((s) => [isoAt(s.at), s.status, s.eventId, isoAt(s.paidThrough)])).toEqual([
      [iso('2026-01-01'), 'trialing', 1, null],
      [iso('2026-01-15'), 'active', 'trial-end:1', null],
      // 2026-01-15 + 1 month + 7 days: past due, until the payment of 2026-02-25 (paid through what was paid by then).
      [iso('2026-02-22'), 'past_due', 'overdue:2026-01-15', null],
      [iso('2026-02-25'), 'active', 'paid:2026-01-15', iso('2026-02-15')],
    ])
    expect(ledger.nextBillingAt).toBe(Date.parse(iso('2026-03-15')))
  })

  it('discounts: a percentage in basis points, an amount in minor units, none', () => {
    expect(parseDiscount('10%', 'USD')).toEqual({percentBp: 1000})
    expect(parseDiscount('12.5%', 'USD')).toEqual({percentBp: 1250})
    expect(parseDiscount('5.00', 'USD')).toEqual({amountMinor: 500})
    expect(parseDiscount('500', 'JPY')).toEqual({amountMinor: 500})
    expect(parseDiscount('none', 'USD')).toBeNull()
    expect(() => parseDiscount('100.5%', 'USD')).toThrow(/over 100 %/)
    expect(() => parseDiscount('-5%', 'USD')).toThrow(UserError)
    expect(() => parseDiscount('5.001', 'USD')).toThrow(/more decimals than USD allows/)
  })
})

describe.each(CONTROL_ENGINES)('the billing ledger on %s', (engine) => {
  let control: TestControlDb
  let db: Knex
  let acme: number
  let cafe: number
  const at = (now: string) => changeContext(db, {now: new Date(now.length === 10 ? iso(now) : now)})

  beforeAll(async () => {
    control = await createControlDb(engine)
    db = control.db
    const now = REGISTERED
    await db('rds_instances').insert({name: 'eu-1', engine: 'sqlite', rai_database: '/tmp/rai-eu-1.sqlite', created_at: now, updated_at: now})
    const rds = Number((await db('rds_instances').where({name: 'eu-1'}).first('id'))!.id)
    acme = await addTenant(db, 'Acme Diner', rds, 1)
    await addTenant(db, 'Bistro', rds, 2)
    cafe = await addTenant(db, 'Cafe', rds, 3)
    const ctx = at('2026-01-01')
    await createPlan(ctx, {
      code: 'loc',
      name: 'Per location',
      currency: 'USD',
      interval: 'month',
      price: '49.00',
      unit: 'location',
      unitPrice: '10.00',
      includedUnits: 1,
    })
    await createPlan(ctx, {code: 'pro-yearly', name: 'Pro yearly', currency: 'USD', interval: 'year', price: '2000.00'})
    await createPlan(ctx, {code: 'eur-m', name: 'EUR monthly', currency: 'EUR', interval: 'month', price: '30.00'})
  })
  afterAll(async () => {
    await control?.drop()
  })

  const billingRow = async (tenant: number) => (await db('tenant_billing').where({tenant_master_id: tenant}).first())!

  it('billing:set appends an event, derives tenant_billing and audits it', async () => {
    const result = await setSubscription(at('2026-02-01'), {tenant: 'Acme Diner', plan: 'loc', quantity: 3, reason: 'signed'})
    // 49.00 + 2 locations beyond the included one at 10.00 = 69.00 a month.
    expect(result.event).toMatchObject({type: 'set', effectiveAt: iso('2026-02-01'), backdated: false, mrrMinor: 6900, mrrDeltaMinor: 6900, currency: 'USD'})
    expect(result.subscription).toMatchObject({status: 'active', quantity: 3, mrrMinor: 6900, mrr: '69.00 USD', nextBillingAt: iso('2026-03-01'), version: 1})
    expect(await billingRow(acme)).toMatchObject({status: 'active', mrr_cents: 6900, currency: 'USD', quantity: 3})
    const [entry] = await listAudit({db}, {tenantMasterId: acme, limit: 1})
    expect(entry).toMatchObject({action: 'billing.set', targetType: 'tenant', targetId: String(acme)})
  })

  it('a change later, then a backdated one: every later state is recomputed from the ledger', async () => {
    await setSubscription(at('2026-03-10'), {tenant: 'Acme Diner', plan: 'loc', quantity: 5, reason: 'two more restaurants'})
    expect(await billingRow(acme)).toMatchObject({mrr_cents: 8900, quantity: 5, version: 2})
    // Recorded on 03-20, effective 02-15: a permanent 10 % discount, which the 03-10 change (that sets no discount) keeps.
    const backdated = await setSubscription(at('2026-03-20'), {
      tenant: 'Acme Diner',
      plan: 'loc',
      discount: '10%',
      effective: d('2026-02-15'),
      reason: 'promised at signing',
    })
    expect(backdated.event).toMatchObject({backdated: true, mrrMinor: 6210, mrrDeltaMinor: -690, changes: {quantity: 3, discount: {percentBp: 1000}}})
    expect(backdated.subscription).toMatchObject({quantity: 5, discount: {percentBp: 1000}, mrrMinor: 8010, version: 3})
    const [entry] = await listAudit({db}, {tenantMasterId: acme, limit: 1})
    expect(entry.newValues).toMatchObject({backdated: true, effectiveAt: iso('2026-02-15'), reason: 'promised at signing'})
  })

  it('payments pay periods; an unpaid period is past due after the grace days; paid, it is active again', async () => {
    const first = await recordPayment(at('2026-03-20'), {
      tenant: String(acme),
      amount: '69.00',
      currency: 'usd',
      method: 'card',
      reference: 'ch_1',
      status: 'succeeded',
      date: d('2026-02-03'),
    })
    // The oldest unpaid period by default: February, billed before the discount started.
    expect(first.payment).toMatchObject({
      periodStart: iso('2026-02-01'),
      periodEnd: iso('2026-03-01'),
      amountMinor: 6900,
      status: 'succeeded',
      recordedBy: 'test@localhost',
    })
    expect(first.subscription.paidThrough).toBe(iso('2026-03-01'))

    // March (6,900 less 10 % = 62.10) ends 04-01 unpaid: past due from 04-08 with 7 grace days.
    expect((await showBilling({db, now: () => new Date(iso('2026-04-07'))}, {tenant: 'Acme Diner'})).subscription?.status).toBe('active')
    const overdue = await showBilling({db, now: () => new Date(iso('2026-04-10'))}, {tenant: 'Acme Diner', graceDays: 7})
    expect(overdue.subscription).toMatchObject({status: 'past_due', mrrMinor: 8010})
    expect(overdue.periods.find((p) => p.start === iso('2026-03-01'))).toMatchObject({dueMinor: 6210, paidMinor: 0, balanceMinor: 6210, overdue: true})
    expect(overdue.currentPeriod).toMatchObject({start: iso('2026-04-01'), dueMinor: 8010, balanceMinor: 8010})
    // A longer grace: not yet.
    expect((await showBilling({db, now: () => new Date(iso('2026-04-10'))}, {tenant: 'Acme Diner', graceDays: 14})).subscription?.status).toBe('active')

    const failed = await recordPayment(at('2026-04-09'), {
      tenant: 'Acme Diner',
      amount: '62.10',
      currency: 'USD',
      method: 'card',
      reference: 'ch_2',
      status: 'failed',
      date: d('2026-04-09'),
    })
    expect(failed.payment.periodStart).toBe(iso('2026-03-01'))
    expect(failed.subscription.status).toBe('past_due')
    const paid = await recordPayment(at('2026-04-12'), {
      tenant: 'Acme Diner',
      amount: '62.10',
      currency: 'USD',
      method: 'card',
      reference: 'ch_3',
      status: 'succeeded',
      date: d('2026-04-12'),
    })
    expect(paid.payment.periodStart).toBe(iso('2026-03-01'))
    expect(paid.subscription).toMatchObject({status: 'active', paidThrough: iso('2026-04-01'), mrrMinor: 8010})
  })

  it('loadTimelines gives the MRR engine the worked history', async () => {
    const [timeline] = await loadTimelines(db, {tenantIds: [acme], until: d('2026-04-15'), graceDays: 7})
    expect(timeline).toMatchObject({tenantId: acme, tenantName: 'Acme Diner', currency: 'USD'})
    const events = (await db('billing_events').where({tenant_master_id: acme}).orderBy('id').pluck('id')).map(Number)
    expect(
      timeline.states.map((s) => [isoAt(s.at), s.status, s.planCode, s.termAmountMinor, s.intervalMonths, s.discount ?? null, isoAt(s.paidThrough), s.eventId]),
    ).toEqual([
      [iso('2026-02-01'), 'active', 'loc', 6900, 1, null, null, events[0]],
      [iso('2026-02-15'), 'active', 'loc', 6900, 1, {percentBp: 1000}, iso('2026-03-01'), events[2]],
      [iso('2026-03-10'), 'active', 'loc', 8900, 1, {percentBp: 1000}, iso('2026-03-01'), events[1]],
      [iso('2026-04-08'), 'past_due', 'loc', 8900, 1, {percentBp: 1000}, iso('2026-03-01'), 'overdue:2026-03-01'],
      [iso('2026-04-12'), 'active', 'loc', 8900, 1, {percentBp: 1000}, iso('2026-04-01'), 'paid:2026-03-01'],
    ])
    // The engine reads them as they are: 8,900 less the permanent 10 % is 80.10 a month.
    expect(mrrAt([timeline], iso('2026-04-15')).currencies[0]).toMatchObject({currency: 'USD', totalMinor: 8010, payingCustomers: 1})
    // `until` bounds effective dates: as of 02-10 only the first event had taken effect.
    const early = await loadTimelines(db, {tenantIds: [acme], until: d('2026-02-10')})
    expect(early[0].states.map((s) => s.eventId)).toEqual([events[0]])
    expect(await loadTimelines(db, {tenantIds: []})).toEqual([])
  })

  it('refunds: a row pointing at the payment, never more than was paid, MRR and the paid period untouched', async () => {
    const before = await billingRow(acme)
    const paymentId = Number((await db('payments').where({tenant_master_id: acme, reference: 'ch_1'}).first('id'))!.id)
    const refund = await refundPayment(at('2026-04-13'), {paymentId, amount: '10.00', reason: 'goodwill'})
    expect(refund.payment).toMatchObject({status: 'refunded', amountMinor: 1000, refundOf: paymentId, periodStart: iso('2026-02-01'), reason: 'goodwill'})
    expect(refund.subscription).toMatchObject({mrrMinor: before.mrr_cents, paidThrough: iso('2026-04-01'), status: 'active'})
    const tooMuch = await refusal(db, () => refundPayment(at('2026-04-13'), {paymentId, amount: '59.01', reason: 'again'}))
    expect(tooMuch.message).toMatch(/59\.00 USD of payment \d+ is left to refund/)
    // Not dated before the payment (paid 2026-02-03) nor more than 5 years ahead.
    const early = await refusal(db, () => refundPayment(at('2026-04-13'), {paymentId, amount: '1.00', reason: 'x', date: d('2026-02-02')}))
    expect(early.message).toMatch(/--date 2026-02-02T00:00:00.000Z is before payment \d+ was made \(2026-02-03T00:00:00.000Z\)/)
    const late = await refusal(db, () => refundPayment(at('2026-04-13'), {paymentId, amount: '1.00', reason: 'x', date: d('2031-04-14')}))
    expect(late.message).toMatch(/--date 2031-04-14 is more than 5 years ahead/)
    const failedId = Number((await db('payments').where({reference: 'ch_2'}).first('id'))!.id)
    expect((await refusal(db, () => refundPayment(at('2026-04-13'), {paymentId: failedId, reason: 'x'}))).message).toMatch(/only a succeeded payment/)
    const shown = await showBilling({db, now: () => new Date(iso('2026-04-13'))}, {tenant: 'Acme Diner'})
    expect(shown.periods.find((p) => p.start === iso('2026-02-01'))).toMatchObject({paidMinor: 6900, refundedMinor: 1000, balanceMinor: 1000})
  })

  it('pause, resume and cancel', async () => {
    const paused = await pauseSubscription(at('2026-04-20'), {tenant: 'Acme Diner'})
    expect(paused.subscription).toMatchObject({status: 'paused', mrrMinor: 0, nextBillingAt: null})
    expect((await refusal(db, () => pauseSubscription(at('2026-04-21'), {tenant: 'Acme Diner'}))).message).toMatch(/cannot be paused: .* it is paused/)
    const resumed = await resumeSubscription(at('2026-05-01'), {tenant: 'Acme Diner', reason: 'back'})
    expect(resumed.subscription).toMatchObject({status: 'active', mrrMinor: 8010, nextBillingAt: iso('2026-06-01')})
    const canceled = await cancelSubscription(at('2026-06-15'), {tenant: 'Acme Diner', reason: 'closed'})
    expect(canceled.subscription).toMatchObject({status: 'canceled', mrrMinor: 0, cancelledAt: iso('2026-06-15'), nextBillingAt: null})
    expect((await refusal(db, () => cancelSubscription(at('2026-06-16'), {tenant: 'Acme Diner', reason: 'again'}))).message).toMatch(/cannot be canceled/)
    expect((await refusal(db, () => cancelSubscription(at('2026-06-16'), {tenant: 'Acme Diner'}))).message).toMatch(/needs --reason/)
    expect(await billingRow(acme)).toMatchObject({status: 'canceled', mrr_cents: 0, version: 10})
    // A cancel or pause placed before changes already recorded would not survive them (a later set makes the
    // subscription active again): refused, nothing written.
    expect((await refusal(db, () => cancelSubscription(at('2026-06-20'), {tenant: 'Acme Diner', reason: 'x', effective: d('2026-03-15')}))).message).toMatch(
      /the cancel would take effect on 2026-03-15, before 3 change\(s\) already recorded \(the first on 2026-04-20\)/,
    )
    expect((await refusal(db, () => pauseSubscription(at('2026-06-20'), {tenant: 'Acme Diner', effective: d('2026-03-15')}))).message).toMatch(
      /the pause would take effect on 2026-03-15, before/,
    )
  })

  it('trials, yearly terms and quantities that follow the locations', async () => {
    const yearly = await setSubscription(at('2026-02-01'), {tenant: 'Bistro', plan: 'pro-yearly', trialUntil: d('2026-02-15'), reason: 'trial'})
    expect(yearly.subscription).toMatchObject({status: 'trialing', mrrMinor: 0, nextBillingAt: iso('2026-02-15'), quantity: 1})
    const shown = await showBilling({db, now: () => new Date(iso('2026-03-01'))}, {tenant: 'Bistro'})
    // 2,000.00 a year is 166.67 a month.
    expect(shown.subscription).toMatchObject({status: 'active', mrrMinor: 16_667, nextBillingAt: iso('2027-02-15')})
    const follows = await setSubscription(at('2026-02-01'), {tenant: 'Cafe', plan: 'loc', quantityFrom: 'locations', reason: 'per location'})
    expect(follows.subscription).toMatchObject({quantity: 4, quantityMode: 'locations', mrrMinor: 7900})
  })

  it('a pause may not restart the billing periods under a payment for a later period', async () => {
    // Bistro's yearly plan after its trial: periods from 2026-02-15; the one of 2027-02-15 paid in advance.
    const payment = {tenant: 'Bistro', amount: '2000.00', currency: 'USD', method: 'transfer', reference: 'advance', status: 'succeeded'}
    await recordPayment(at('2026-06-01'), {...payment, date: d('2026-06-01'), period: d('2027-02-15')})
    expect((await refusal(db, () => pauseSubscription(at('2026-06-02'), {tenant: 'Bistro'}))).message).toMatch(
      /the pause on 2026-06-02 would restart the billing periods, leaving 1 payment\(s\) for periods after it \(the first for 2027-02-15\) paying none/,
    )
  })

  it('refuses bad input and writes nothing', async () => {
    const ctx = at('2026-03-01')
    const payment = {tenant: 'Cafe', amount: '79.00', currency: 'USD', method: 'card', reference: 'r', status: 'succeeded', date: d('2026-03-01')}
    expect((await refusal(db, () => recordPayment(ctx, {...payment, amount: '79.001'}))).message).toMatch(/more decimals than USD allows/)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, amount: '-79.00'}))).message).toMatch(/cannot be negative/)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, currency: 'XYZ'}))).message).toMatch(/XYZ/)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, currency: 'EUR'}))).message).toMatch(/a payment in EUR for a subscription in USD/)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, status: 'pending'}))).message).toMatch(/not a payment status/)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, period: d('2026-02-17')}))).message).toMatch(/no billing period starts on 2026-02-17/)
    const set = {tenant: 'Cafe', plan: 'loc', reason: 'r'}
    expect((await refusal(db, () => setSubscription(ctx, {...set, discount: '101%'}))).message).toMatch(/over 100 %/)
    // A term of 4 locations is 79.00.
    expect((await refusal(db, () => setSubscription(ctx, {...set, discount: '79.01'}))).message).toMatch(/larger than the price of a term \(79\.00 USD\)/)
    expect((await refusal(db, () => setSubscription(ctx, {...set, discount: '-1'}))).message).toMatch(/negative/)
    expect((await refusal(db, () => setSubscription(ctx, {...set, effective: d('2025-12-31')}))).message).toMatch(/before the tenant existed/)
    expect((await refusal(db, () => setSubscription(ctx, {...set, quantity: -1}))).message).toMatch(/--quantity/)
    // At most 5 years ahead of now (2026-03-01): 2031-03-01 is the last day.
    expect((await refusal(db, () => setSubscription(ctx, {...set, effective: d('2031-03-02')}))).message).toMatch(
      /--effective 2031-03-02 is more than 5 years ahead/,
    )
    expect((await refusal(db, () => cancelSubscription(ctx, {tenant: 'Acme Diner', reason: 'r', effective: d('9999-12-31')}))).exitCode).toBe(2)
    expect((await refusal(db, () => pauseSubscription(ctx, {tenant: 'Acme Diner', reason: 'r', effective: d('2040-01-01')}))).exitCode).toBe(2)
    expect((await refusal(db, () => resumeSubscription(ctx, {tenant: 'Acme Diner', reason: 'r', effective: d('2040-01-01')}))).exitCode).toBe(2)
    expect((await refusal(db, () => recordPayment(ctx, {...payment, date: d('2031-03-02')}))).message).toMatch(/--date 2031-03-02 is more than 5 years ahead/)
    expect((await refusal(db, () => setSubscription(ctx, {...set, plan: 'nope'}))).exitCode).toBe(2)
    expect((await refusal(db, () => setSubscription(ctx, {...set, trialUntil: d('2026-02-01')}))).message).toMatch(/--trial-until .* is not after/)
    expect((await refusal(db, () => setSubscription(ctx, {...set, discount: '10%', discountUntil: d('2026-01-01')}))).message).toMatch(/--discount-until/)
  })

  it('a plan in another currency than the payments is refused unless forced', async () => {
    await recordPayment(at('2026-03-01'), {
      tenant: 'Cafe',
      amount: '79.00',
      currency: 'USD',
      method: 'card',
      reference: 'c1',
      status: 'succeeded',
      date: d('2026-02-02'),
    })
    const refused = await refusal(db, () => setSubscription(at('2026-03-05'), {tenant: 'Cafe', plan: 'eur-m', reason: 'move'}))
    expect(refused.message).toMatch(/plan "eur-m" is in EUR but Cafe has paid in USD/)
    expect(refused.hint).toMatch(/--force-currency/)
    const forced = await setSubscription(at('2026-03-05'), {tenant: 'Cafe', plan: 'eur-m', reason: 'move', forceCurrency: true})
    expect(forced.subscription).toMatchObject({currency: 'EUR', mrrMinor: 3000})
    // The engine gets one timeline per currency: the USD one ends (canceled) when the EUR one starts.
    const timelines = await loadTimelines(db, {tenantIds: [cafe], until: d('2026-03-06')})
    expect(timelines.map((t) => [t.currency, t.states.map((s) => [isoAt(s.at), s.status])])).toEqual([
      [
        'USD',
        [
          [iso('2026-02-01'), 'active'],
          [iso('2026-03-05'), 'canceled'],
        ],
      ],
      ['EUR', [[iso('2026-03-05'), 'active']]],
    ])
    expect((await verifyAuditChain({db})).ok).toBe(true)
  })

  it('periods keep their currency: a payment pays only a period of its own, and alerts and billing:show label each in its own', async () => {
    // Cafe: billed 79.00 USD a month from 02-01 (February paid), moved to 30.00 EUR on 03-05; March is still a USD period, April the first EUR one.
    const eur = await recordPayment(at('2026-04-02'), {
      tenant: 'Cafe',
      amount: '30.00',
      currency: 'EUR',
      method: 'card',
      reference: 'e1',
      status: 'succeeded',
      date: d('2026-04-02'),
    })
    expect(eur.payment).toMatchObject({periodStart: iso('2026-04-01'), currency: 'EUR', amountMinor: 3000})
    const shown = await showBilling({db, now: () => new Date(iso('2026-04-20'))}, {tenant: 'Cafe'})
    expect(shown.periods.map((p) => [p.start.slice(0, 10), p.currency, p.dueMinor, p.paidMinor, p.overdue])).toEqual([
      ['2026-02-01', 'USD', 7900, 7900, false],
      ['2026-03-01', 'USD', 7900, 0, true],
      ['2026-04-01', 'EUR', 3000, 3000, false],
    ])
    expect(shown.subscription?.status).toBe('past_due')
    const wrong = await refusal(db, () =>
      recordPayment(at('2026-04-20'), {
        tenant: 'Cafe',
        amount: '79.00',
        currency: 'EUR',
        method: 'card',
        reference: 'e2',
        status: 'succeeded',
        date: d('2026-04-20'),
        period: d('2026-03-01'),
      }),
    )
    expect(wrong.message).toBe('the period starting 2026-03-01 is billed in USD, not EUR')
    const {alerts} = await billingAlerts({db, now: () => new Date(iso('2026-04-20'))}, {graceDays: 7})
    const overdue = alerts.find((a) => a.kind === 'overdue' && a.tenantId === cafe)
    expect(overdue).toMatchObject({currency: 'USD', amountMinor: 7900, amount: '79.00'})
    expect(overdue?.action).toMatch(/^collect 79\.00 USD /)
    // Paid in its own currency, named with --period: the March period is paid and the subscription active again.
    const usd = await recordPayment(at('2026-04-20'), {
      tenant: 'Cafe',
      amount: '79.00',
      currency: 'USD',
      method: 'transfer',
      reference: 'u1',
      status: 'succeeded',
      date: d('2026-04-20'),
      period: d('2026-03-01'),
    })
    expect(usd.payment).toMatchObject({periodStart: iso('2026-03-01'), currency: 'USD'})
    expect(usd.subscription).toMatchObject({status: 'active', currency: 'EUR'})
    // Without --period, a payment in the old currency is still refused.
    expect(
      (
        await refusal(db, () =>
          recordPayment(at('2026-04-20'), {
            tenant: 'Cafe',
            amount: '1.00',
            currency: 'USD',
            method: 'card',
            reference: 'u2',
            status: 'succeeded',
            date: d('2026-04-20'),
          }),
        )
      ).message,
    ).toBe('a payment in USD for a subscription in EUR')
  })

  it('the health score reads the status billing:show gives now, from tenant_billing alone, with the grace days given', async () => {
    const rds = Number((await db('rds_instances').first('id'))!.id)
    const leaving = await addTenant(db, 'Leaving Later', rds, 20)
    const behind = await addTenant(db, 'Paid Ahead Behind', rds, 21)
    await setSubscription(at('2026-02-01'), {tenant: String(leaving), plan: 'eur-m', reason: 'start'})
    await recordPayment(at('2026-02-02'), {
      tenant: String(leaving),
      amount: '30.00',
      currency: 'EUR',
      method: 'card',
      reference: 'l1',
      status: 'succeeded',
      date: d('2026-02-02'),
    })
    // A cancel recorded on 02-10, effective on 03-01: the last change, before it takes effect.
    await cancelSubscription(at('2026-02-10'), {tenant: String(leaving), reason: 'leaving', effective: d('2026-03-01')})
    // February left unpaid, March paid on 03-02: the last change, after which February turns overdue (03-08 with 7 grace days).
    await setSubscription(at('2026-02-01'), {tenant: String(behind), plan: 'eur-m', reason: 'start'})
    await recordPayment(at('2026-03-02'), {
      tenant: String(behind),
      amount: '30.00',
      currency: 'EUR',
      method: 'card',
      reference: 'b1',
      status: 'succeeded',
      date: d('2026-03-02'),
      period: d('2026-03-01'),
    })
    const ids = [leaving, behind]
    const statuses = async (day: string, graceDays?: number) => {
      const queries: string[] = []
      const onQuery = (q: {sql: string}) => queries.push(q.sql)
      db.on('query', onQuery)
      const rows = await billingStatuses(db, {tenantIds: ids}, new Date(iso(day)), graceDays)
      db.removeListener('query', onQuery)
      expect(queries).toHaveLength(1)
      return ids.map((id) => rows.find((r) => r.tenantId === id)?.status)
    }
    const shown = async (day: string, graceDays?: number) =>
      Promise.all(ids.map(async (id) => (await showBilling({db, now: () => new Date(iso(day))}, {tenant: String(id), graceDays})).subscription?.status))
    for (const [day, graceDays, expected] of [
      ['2026-02-20', undefined, ['active', 'active']],
      ['2026-03-07', undefined, ['canceled', 'active']],
      ['2026-03-08', undefined, ['canceled', 'past_due']],
      ['2026-03-12', 14, ['canceled', 'active']],
      ['2026-03-15', 14, ['canceled', 'past_due']],
    ] as const) {
      expect(await statuses(day, graceDays), `${day} with ${graceDays ?? 7} grace days`).toEqual(expected)
      expect(await shown(day, graceDays), `billing:show ${day}`).toEqual(expected)
    }
    // The sync's rescoring takes the grace days it is given.
    await rescoreUnread(db, rds, 'healthy', new Date(iso('2026-03-12')), 14)
    const signal = async () => {
      const row = await db('tenant_master').where({id: behind}).first('health_signals')
      return (JSON.parse(row!.health_signals ?? '[]') as Array<{name: string; detail: string}>).find((s) => s.name === 'billing')?.detail
    }
    expect(await signal()).toBe('subscription active')
    await rescoreUnread(db, rds, 'healthy', new Date(iso('2026-03-12')), 7)
    expect(await signal()).toBe('subscription past due')
  })

  it('amounts up to 10^12 minor units are stored and read back exactly; larger ones are refused with exit 2', async () => {
    const rds = Number((await db('rds_instances').first('id'))!.id)
    const whale = await addTenant(db, 'Whale', rds, 30)
    // 9,000,000,000.00 USD: far over a 32-bit column's 21,474,836.47.
    await createPlan(at('2026-01-01'), {code: 'whale', name: 'Whale', currency: 'USD', interval: 'month', price: '9000000000.00'})
    const set = await setSubscription(at('2026-02-01'), {tenant: String(whale), plan: 'whale', reason: 'big deal'})
    expect(set.subscription).toMatchObject({mrrMinor: 900_000_000_000, mrr: '9000000000.00 USD'})
    const paid = await recordPayment(at('2026-02-02'), {
      tenant: String(whale),
      amount: '9000000000.00',
      currency: 'USD',
      method: 'wire',
      reference: 'w1',
      status: 'succeeded',
      date: d('2026-02-02'),
    })
    expect(paid.payment).toMatchObject({amountMinor: 900_000_000_000, amount: '9000000000.00 USD'})
    const shown = await showBilling({db, now: () => new Date(iso('2026-02-10'))}, {tenant: String(whale)})
    expect(shown.periods[0]).toMatchObject({dueMinor: 900_000_000_000, paidMinor: 900_000_000_000, balanceMinor: 0})
    expect(shown.events[0].mrrMinor).toBe(900_000_000_000)

    const tooLarge = await refusal(db, () =>
      createPlan(at('2026-01-01'), {code: 'too-big', name: 'Too big', currency: 'USD', interval: 'month', price: '10000000000.01'}),
    )
    expect(tooLarge.message).toBe('--price "10000000000.01" is too large')
    const pay = {tenant: String(whale), currency: 'USD', method: 'wire', reference: 'w2', status: 'succeeded', date: d('2026-02-03')}
    expect((await refusal(db, () => recordPayment(at('2026-02-03'), {...pay, amount: '10000000000.01'}))).message).toBe(
      '--amount "10000000000.01" is too large',
    )
    // A term priced by the unit over the largest amount: 11 × 1,000,000,000.00 + 1.00.
    await createPlan(at('2026-01-01'), {
      code: 'whale-units',
      name: 'Whale units',
      currency: 'USD',
      interval: 'month',
      price: '1.00',
      unit: 'location',
      unitPrice: '1000000000.00',
    })
    const term = await refusal(db, () => setSubscription(at('2026-02-05'), {tenant: String(whale), plan: 'whale-units', quantity: 11, reason: 'more'}))
    expect(term.message).toBe('11 units of plan "whale-units" cost more than raiops bills in a term')
    expect(term.hint).toBe('a term costs at most 10000000000.00 USD: give a smaller --quantity')
  })

  it.runIf(engine !== 'sqlite')('two operators changing one subscription at once: both land in order, the ledger consistent', async () => {
    const tenant = await addTenant(db, `Race ${engine}`, Number((await db('rds_instances').first('id'))!.id), 99)
    await setSubscription(at('2026-02-01'), {tenant: String(tenant), plan: 'loc', quantity: 1, reason: 'start'})
    const other = await openControlDb(control.target)
    const pools = [db, other]
    try {
      await Promise.all(
        Array.from({length: 12}, (_, i) =>
          setSubscription(changeContext(pools[i % 2], {now: new Date(iso('2026-02-10'))}), {
            tenant: String(tenant),
            plan: 'loc',
            quantity: i + 2,
            reason: `change ${i}`,
          }),
        ),
      )
    } finally {
      await other.destroy()
    }
    const events = await db('billing_events').where({tenant_master_id: tenant}).orderBy('id').select('id', 'mrr_cents', 'mrr_delta_cents', 'changes')
    expect(events).toHaveLength(13)
    // Each change saw the one before it: its delta is from the previous event's value, and they add up.
    for (let i = 1; i < events.length; i++) expect(Number(events[i].mrr_delta_cents)).toBe(Number(events[i].mrr_cents) - Number(events[i - 1].mrr_cents))
    const last = JSON.parse(events[events.length - 1].changes!) as {quantity: number}
    const row = await billingRow(tenant)
    expect(row).toMatchObject({version: 13, quantity: last.quantity, last_event_id: events[events.length - 1].id})
    expect(Number(row.mrr_cents)).toBe(4900 + 1000 * (last.quantity - 1))
    expect(events.reduce((sum, e) => sum + Number(e.mrr_delta_cents), 0)).toBe(Number(row.mrr_cents))
    expect((await listAudit({db}, {tenantMasterId: tenant, limit: 50})).filter((e) => e.action === 'billing.set')).toHaveLength(13)
  })
})
