import {describe, expect, it} from 'vitest'

import {
  describePolicies,
  explain,
  movements,
  mrrAt,
  report,
  resolvePolicies,
  type MrrPolicies,
  type SubscriptionState,
  type TenantTimeline,
} from '../../src/lib/billing/mrr/index.js'
import {RaiopsError} from '../../src/lib/errors/index.js'

/** A state of the plan `pro`, 100.00 a month, unless told otherwise. */
const state = (at: string, status: SubscriptionState['status'], change: Partial<SubscriptionState> = {}): SubscriptionState => ({
  at,
  status,
  planCode: 'pro',
  termAmountMinor: 10_000,
  intervalMonths: 1,
  eventId: `${status}@${at}`,
  ...change,
})

const tenant = (states: SubscriptionState[], change: Partial<TenantTimeline> = {}): TenantTimeline => ({
  tenantId: 1,
  tenantName: 'Trattoria Roma',
  rdsId: 'rds-eu-1',
  currency: 'EUR',
  states,
  ...change,
})

/** Type, amount, date (day) of each movement of one tenant over its whole history. */
const moves = (timeline: TenantTimeline, policies: Partial<MrrPolicies> = {}) =>
  movements([timeline], '2000-01-01', '2100-01-01', policies).map((m) => [m.type, m.amountMinor, m.at.slice(0, 10)])

const mrrOn = (timeline: TenantTimeline, at: string, policies: Partial<MrrPolicies> = {}) => mrrAt([timeline], at, policies).currencies[0]?.totalMinor ?? 0

describe('MRR: term normalisation', () => {
  it('a yearly subscription of four seats billed 2,000.00 is 166.67 of new MRR', () => {
    const t = tenant([state('2026-01-10', 'active', {planCode: 'pro-yearly', termAmountMinor: 200_000, intervalMonths: 12})])
    const [m] = movements([t], '2026-01-01', '2026-02-01')
    expect(m).toMatchObject({
      type: 'new',
      amountMinor: 16_667,
      mrrBeforeMinor: 0,
      mrrAfterMinor: 16_667,
      eventId: 'active@2026-01-10',
      at: '2026-01-10T00:00:00.000Z',
    })
    expect(m.reason).toContain('plan pro-yearly 2,000.00 / 12 months = 166.67')
    const r = report([t], {from: '2026-01-01', to: '2026-02-01', by: 'month'})
    expect(r.currencies[0].periods[0]).toMatchObject({mrrEndMinor: 16_667, arrEndMinor: 200_004, newMinor: 16_667})
  })

  it('Kill Bill: an annual plan of 999.00 is 83.25 a month', () => {
    expect(mrrOn(tenant([state('2026-01-01', 'active', {termAmountMinor: 99_900, intervalMonths: 12})]), '2026-03-01')).toBe(8_325)
  })

  it('multi-year terms are divided by their 24 or 36 months, never counted as monthly', () => {
    const three = tenant([state('2026-01-01', 'active', {planCode: 'pro-3y', termAmountMinor: 360_000, intervalMonths: 36})])
    const two = tenant([state('2026-01-01', 'active', {planCode: 'pro-2y', termAmountMinor: 480_000, intervalMonths: 24})], {tenantId: 2})
    expect(mrrOn(three, '2026-06-01')).toBe(10_000)
    expect(mrrOn(two, '2026-06-01')).toBe(20_000)
    expect(movements([three], '2026-01-01', '2026-02-01')[0].reason).toContain('plan pro-3y 3,600.00 / 36 months = 100.00')
  })

  it('a quarterly term of 100.00 is 33.33, rounded once per tenant', () => {
    expect(mrrOn(tenant([state('2026-01-01', 'active', {intervalMonths: 3})]), '2026-02-01')).toBe(3_333)
    expect(mrrOn(tenant([state('2026-01-01', 'active', {termAmountMinor: 10_001, intervalMonths: 2})]), '2026-02-01')).toBe(5_001)
  })

  it('an annual to monthly switch at the same monthly value is neither expansion nor contraction', () => {
    const t = tenant([
      state('2026-01-01', 'active', {planCode: 'pro-yearly', termAmountMinor: 120_000, intervalMonths: 12}),
      state('2026-05-01', 'active', {planCode: 'pro-monthly', termAmountMinor: 10_000, intervalMonths: 1}),
    ])
    expect(moves(t)).toEqual([['new', 10_000, '2026-01-01']])
    const may = report([t], {from: '2026-05-01', to: '2026-06-01', by: 'month'}).currencies[0].periods[0]
    expect(may.byPlan).toEqual([{key: 'pro-monthly', mrrMinor: 10_000, payingCustomers: 1}])
    const switched = explain(t).events[1]
    expect(switched).toMatchObject({eventId: 'active@2026-05-01', mrrMinor: 10_000, movements: []})
    expect(switched.arithmetic).toBe('plan pro-monthly 100.00 / 1 month = 100.00')
  })

  it('a quantity change is an expansion, then a contraction', () => {
    const t = tenant([
      state('2026-01-01', 'active', {termAmountMinor: 3_000}),
      state('2026-02-01', 'active', {termAmountMinor: 5_000}),
      state('2026-03-01', 'active', {termAmountMinor: 4_000}),
    ])
    expect(moves(t)).toEqual([
      ['new', 3_000, '2026-01-01'],
      ['expansion', 2_000, '2026-02-01'],
      ['contraction', 1_000, '2026-03-01'],
    ])
    expect(movements([t], '2026-02-01', '2026-03-01')[0].reason).toBe('expansion 30.00 → 50.00: plan pro 50.00 / 1 month = 50.00')
  })

  it('writes amounts in the currency’s own minor unit: 4,900 JPY, 12.500 KWD', () => {
    const yen = tenant([state('2026-01-01', 'active', {termAmountMinor: 4_900})], {currency: 'JPY'})
    expect(movements([yen], '2026-01-01', '2026-02-01')[0].reason).toContain('plan pro 4,900 / 1 month = 4,900')
    const dinar = tenant([state('2026-01-01', 'active', {termAmountMinor: 12_500})], {currency: 'KWD'})
    expect(movements([dinar], '2026-01-01', '2026-02-01')[0].reason).toContain('12.500 / 1 month = 12.500')
  })
})

describe('MRR: discounts', () => {
  it('Paddle: 120.00 a year at 10 % off for ever is 9.00', () => {
    const t = tenant([state('2026-01-01', 'active', {termAmountMinor: 12_000, intervalMonths: 12, discount: {percentBp: 1_000}})])
    expect(mrrOn(t, '2026-02-01')).toBe(900)
    expect(movements([t], '2026-01-01', '2026-02-01')[0].reason).toContain('plan pro (120.00 − 10%) / 12 months = 9.00')
  })

  it('a permanent discount added is a contraction', () => {
    const t = tenant([state('2026-01-01', 'active'), state('2026-03-01', 'active', {discount: {amountMinor: 2_500}})])
    expect(moves(t)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['contraction', 2_500, '2026-03-01'],
    ])
  })

  const limited = tenant([state('2026-01-01', 'active'), state('2026-02-01', 'active', {discount: {percentBp: 2_000}, discountUntil: '2026-05-01'})])

  it('a limited discount does not reduce MRR by default', () => {
    expect(moves(limited)).toEqual([['new', 10_000, '2026-01-01']])
    expect(mrrOn(limited, '2026-03-01')).toBe(10_000)
    expect(explain(limited).events[1].arithmetic).toBe('plan pro 100.00 / 1 month = 100.00 (the 20% discount until 2026-05-01 is limited and not counted)')
  })

  it('with limitedDiscounts: apply it is a contraction, and its end an expansion', () => {
    const policies = {limitedDiscounts: 'apply'} as const
    expect(moves(limited, policies)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['contraction', 2_000, '2026-02-01'],
      ['expansion', 2_000, '2026-05-01'],
    ])
    expect(mrrOn(limited, '2026-03-01', policies)).toBe(8_000)
    const [end] = movements([limited], '2026-05-01', '2026-06-01', policies)
    expect(end).toMatchObject({cause: 'discount-end', eventId: 'active@2026-02-01'})
    expect(end.reason).toContain('the 20% discount ended 2026-05-01')
  })

  it('a discount larger than the price floors MRR at 0, never below', () => {
    const t = tenant([state('2026-01-01', 'active'), state('2026-02-01', 'active', {discount: {amountMinor: 15_000}})])
    expect(mrrOn(t, '2026-03-01')).toBe(0)
    const [, lost] = movements([t], '2026-01-01', '2026-12-01')
    expect(lost).toMatchObject({type: 'churn', amountMinor: 10_000, mrrAfterMinor: 0})
    expect(lost.reason).toContain('is below 0: the discount exceeds the price, MRR 0.00')
    expect(mrrOn(tenant([state('2026-01-01', 'active', {discount: {percentBp: 12_000}})]), '2026-02-01')).toBe(0)
  })
})

describe('MRR: trials, past due, pauses, cancellations', () => {
  it('a trial counts 0; the trial turning active is new', () => {
    const t = tenant([state('2026-01-01', 'trialing'), state('2026-01-15', 'active')])
    expect(mrrAt([t], '2026-01-10').currencies[0]).toMatchObject({totalMinor: 0, customers: 0, tenants: []})
    expect(moves(t)).toEqual([['new', 10_000, '2026-01-15']])
  })

  const pastDue = tenant([state('2026-01-01', 'active'), state('2026-02-01', 'past_due'), state('2026-04-01', 'active')])

  it('past due counts for 30 days, then is delinquent churn; paying again is reactivation', () => {
    expect(mrrOn(pastDue, '2026-03-02T23:59:59Z')).toBe(10_000)
    expect(mrrOn(pastDue, '2026-03-03')).toBe(0)
    expect(moves(pastDue)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['churn', 10_000, '2026-03-03'],
      ['reactivation', 10_000, '2026-04-01'],
    ])
    const churn = movements([pastDue], '2026-03-01', '2026-04-01')[0]
    expect(churn).toMatchObject({cause: 'delinquency', eventId: 'past_due@2026-02-01'})
    expect(churn.reason).toBe('churn 100.00 → 0.00: past due since 2026-02-01 for 30 days: delinquent churn')
  })

  it('past due for fewer days than the setting and paid: no movement; the setting moves the churn', () => {
    expect(moves(pastDue, {pastDueDays: 60})).toEqual([['new', 10_000, '2026-01-01']])
    expect(moves(pastDue, {pastDueDays: 10})[1]).toEqual(['churn', 10_000, '2026-02-11'])
  })

  it('the past-due clock runs across changes while past due', () => {
    const t = tenant([state('2026-01-01', 'active'), state('2026-02-01', 'past_due'), state('2026-02-20', 'past_due', {termAmountMinor: 8_000})])
    expect(moves(t)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['contraction', 2_000, '2026-02-20'],
      ['churn', 8_000, '2026-03-03'],
    ])
  })

  const paused = tenant([state('2026-01-01', 'active'), state('2026-03-01', 'paused'), state('2026-04-01', 'active')])

  it('a pause is contraction to 0, the customer stays one; resuming is expansion', () => {
    expect(moves(paused)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['contraction', 10_000, '2026-03-01'],
      ['expansion', 10_000, '2026-04-01'],
    ])
    const march = report([paused], {from: '2026-03-01', to: '2026-04-01', by: 'month'}).currencies[0].periods[0]
    expect(march).toMatchObject({mrrEndMinor: 0, customersEnd: 1, payingCustomersEnd: 0, customersLost: 0, arpaMinor: null})
    expect(march.logoChurnRate.percent).toBe('0.00')
    expect(march.grossMrrChurnRate.percent).toBe('100.00')
  })

  it('a cancellation while paused is a lost customer with 0 MRR churn', () => {
    const t = tenant([state('2026-01-01', 'active'), state('2026-03-01', 'paused'), state('2026-03-20', 'canceled')])
    expect(moves(t)[2]).toEqual(['churn', 0, '2026-03-20'])
    const march = report([t], {from: '2026-03-01', to: '2026-04-01', by: 'month'}).currencies[0].periods[0]
    expect(march).toMatchObject({customersStart: 1, customersLost: 1, customersEnd: 0, churnMinor: 0, contractionMinor: 10_000})
    expect(march.logoChurnRate.percent).toBe('100.00')
  })

  it('with pause: churn a pause is churn and resuming reactivation', () => {
    expect(moves(paused, {pause: 'churn'})).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['churn', 10_000, '2026-03-01'],
      ['reactivation', 10_000, '2026-04-01'],
    ])
  })

  const canceled = tenant([state('2026-01-01', 'active'), state('2026-03-10', 'canceled', {paidThrough: '2026-04-01'})])

  it('churn is recognised at the end of the paid period by default', () => {
    expect(moves(canceled)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['churn', 10_000, '2026-04-01'],
    ])
    const [march, april] = report([canceled], {from: '2026-03-01', to: '2026-05-01', by: 'month'}).currencies[0].periods
    expect([march.mrrEndMinor, march.churnMinor, april.churnMinor, april.mrrEndMinor]).toEqual([10_000, 0, 10_000, 0])
    expect(movements([canceled], '2026-04-01', '2026-05-01')[0].reason).toBe(
      'churn 100.00 → 0.00: canceled 2026-03-10, churn at the end of the period paid through 2026-04-01',
    )
  })

  it('with churnAt: cancellation it is churn at the cancellation; without a paid period, at the cancellation either way', () => {
    expect(moves(canceled, {churnAt: 'cancellation'})[1]).toEqual(['churn', 10_000, '2026-03-10'])
    const unpaid = tenant([state('2026-01-01', 'active'), state('2026-03-10', 'canceled')])
    expect(moves(unpaid)[1]).toEqual(['churn', 10_000, '2026-03-10'])
  })

  it('a cancellation undone before its paid period ends never happened', () => {
    const t = tenant([...canceled.states, state('2026-03-20', 'active')])
    expect(moves(t)).toEqual([['new', 10_000, '2026-01-01']])
    expect(explain(t).events[1]).toMatchObject({status: 'canceled', effectiveAt: null, movements: []})
  })

  it('a customer back after churn is a reactivation, not new', () => {
    const t = tenant([
      state('2026-01-01', 'active'),
      state('2026-02-01', 'canceled'),
      state('2026-06-01', 'trialing'),
      state('2026-06-15', 'active', {termAmountMinor: 12_000}),
    ])
    expect(moves(t)).toEqual([
      ['new', 10_000, '2026-01-01'],
      ['churn', 10_000, '2026-02-01'],
      ['reactivation', 12_000, '2026-06-15'],
    ])
  })
})

describe('MRR: merging changes made close together', () => {
  const t = tenant([
    state('2026-01-01T10:00:00Z', 'active', {termAmountMinor: 9_000}),
    state('2026-01-01T10:20:00Z', 'active', {termAmountMinor: 12_000}),
    state('2026-02-01T09:00:00Z', 'canceled'),
    state('2026-02-01T09:30:00Z', 'active', {planCode: 'max', termAmountMinor: 15_000}),
  ])

  it('changes within 60 minutes of the first are one movement, at the last of them', () => {
    const [first, second] = movements([t], '2026-01-01', '2026-03-01')
    expect(first).toMatchObject({
      type: 'new',
      amountMinor: 12_000,
      at: '2026-01-01T10:20:00.000Z',
      eventIds: ['active@2026-01-01T10:00:00Z', 'active@2026-01-01T10:20:00Z'],
    })
    expect(first.reason).toContain('(2 changes within 60 minutes, as one)')
    expect(second).toMatchObject({type: 'expansion', amountMinor: 3_000, planCode: 'max'})
    expect(mrrOn(t, '2026-01-01T10:10:00Z')).toBe(0)
  })

  it('with mergeMinutes 0 each change is its own movement', () => {
    expect(moves(t, {mergeMinutes: 0}).map(([type]) => type)).toEqual(['new', 'expansion', 'churn', 'reactivation'])
  })
})

describe('MRR: the report', () => {
  const timelines: TenantTimeline[] = [
    tenant([state('2025-12-01', 'active')], {tenantId: 1, tenantName: 'A', rdsId: 'rds-1'}),
    tenant([state('2025-12-01', 'active', {planCode: 'basic', termAmountMinor: 5_000}), state('2026-01-15', 'canceled')], {
      tenantId: 2,
      tenantName: 'B',
      rdsId: 'rds-1',
    }),
    tenant([state('2025-12-01', 'active', {planCode: 'basic', termAmountMinor: 5_000}), state('2026-01-20', 'active', {termAmountMinor: 10_000})], {
      tenantId: 3,
      tenantName: 'C',
      rdsId: 'rds-2',
    }),
    tenant([state('2026-01-05', 'active', {termAmountMinor: 20_000})], {tenantId: 4, tenantName: 'D', rdsId: null}),
    tenant([state('2025-12-01', 'active', {termAmountMinor: 30_000}), state('2026-01-25', 'active', {termAmountMinor: 28_000})], {
      tenantId: 5,
      tenantName: 'E',
    }),
  ]

  it('rolls January forward with every figure', () => {
    const r = report(timelines, {from: '2026-01-01', to: '2026-02-01', by: 'month'})
    expect(r.currencies).toHaveLength(1)
    const jan = r.currencies[0].periods[0]
    expect(jan).toMatchObject({
      period: '2026-01',
      start: '2026-01-01T00:00:00.000Z',
      end: '2026-02-01T00:00:00.000Z',
      mrrStartMinor: 50_000,
      mrrEndMinor: 68_000,
      arrEndMinor: 816_000,
      newMinor: 20_000,
      expansionMinor: 5_000,
      contractionMinor: 2_000,
      churnMinor: 5_000,
      reactivationMinor: 0,
      netChangeMinor: 18_000,
      movementCounts: {new: 1, expansion: 1, contraction: 1, churn: 1, reactivation: 0},
      customersStart: 4,
      customersEnd: 4,
      payingCustomersEnd: 4,
      customersLost: 1,
      arpaMinor: 17_000,
    })
    expect(jan.logoChurnRate).toEqual({numerator: 1, denominator: 4, percent: '25.00'})
    expect(jan.grossMrrChurnRate).toEqual({numerator: 7_000, denominator: 50_000, percent: '14.00'})
    expect(jan.netMrrChurnRate).toEqual({numerator: 2_000, denominator: 50_000, percent: '4.00'})
    expect(jan.byPlan).toEqual([{key: 'pro', mrrMinor: 68_000, payingCustomers: 4}])
    expect(jan.byRds).toEqual([
      {key: 'rds-eu-1', mrrMinor: 28_000, payingCustomers: 1},
      {key: null, mrrMinor: 20_000, payingCustomers: 1},
      {key: 'rds-1', mrrMinor: 10_000, payingCustomers: 1},
      {key: 'rds-2', mrrMinor: 10_000, payingCustomers: 1},
    ])
    expect(r.currencies[0].tenants.map((row) => [row.tenantName, row.mrrStartMinor, row.mrrEndMinor])).toEqual([
      ['A', 10_000, 10_000],
      ['B', 5_000, 0],
      ['C', 5_000, 10_000],
      ['D', 0, 20_000],
      ['E', 30_000, 28_000],
    ])
    expect(r.currencies[0].movements.map((m) => [m.tenantName, m.type])).toEqual([
      ['D', 'new'],
      ['B', 'churn'],
      ['C', 'expansion'],
      ['E', 'contraction'],
    ])
  })

  it('net MRR churn is negative when expansion outgrows losses', () => {
    const grow = [tenant([state('2025-12-01', 'active'), state('2026-01-10', 'active', {termAmountMinor: 13_000})])]
    const jan = report(grow, {from: '2026-01-01', to: '2026-02-01', by: 'month'}).currencies[0].periods[0]
    expect(jan.netMrrChurnRate).toEqual({numerator: -3_000, denominator: 10_000, percent: '-30.00'})
  })

  it('prints its policies with their values', () => {
    const r = report(timelines, {from: '2026-01-01', to: '2026-02-01', by: 'month'}, {pastDueDays: 14})
    expect(r.policies).toEqual({limitedDiscounts: 'ignore', pastDueDays: 14, pause: 'contraction', churnAt: 'period-end', mergeMinutes: 60})
    const byKey = Object.fromEntries(r.definitions.map((d) => [d.key, d]))
    expect(byKey.pastDueDays).toMatchObject({value: 14, setting: true})
    expect(byKey.pastDueDays.text).toContain('counts for 14 days, then it is churn (delinquent churn)')
    expect(byKey.trials).toMatchObject({value: 'excluded', setting: false})
    expect(describePolicies(resolvePolicies()).map((d) => d.key)).toEqual([
      'termNormalisation',
      'limitedDiscounts',
      'trials',
      'pastDueDays',
      'pause',
      'churnAt',
      'mergeMinutes',
      'refunds',
      'currencies',
    ])
  })

  it('goes by ISO week, the first and last weeks cut at the range', () => {
    const r = report(timelines, {from: '2026-01-01', to: '2026-01-15', by: 'week'})
    expect(r.currencies[0].periods.map((p) => [p.period, p.start.slice(0, 10), p.end.slice(0, 10)])).toEqual([
      ['2026-W01', '2026-01-01', '2026-01-05'],
      ['2026-W02', '2026-01-05', '2026-01-12'],
      ['2026-W03', '2026-01-12', '2026-01-15'],
    ])
    expect(r.currencies[0].periods[1].newMinor).toBe(20_000)
  })

  it('never sums two currencies', () => {
    const mixed = [tenant([state('2026-01-01', 'active')], {currency: 'USD', tenantId: 9}), tenant([state('2026-01-01', 'active', {termAmountMinor: 7_000})])]
    const r = report(mixed, {from: '2026-01-01', to: '2026-02-01', by: 'month'})
    expect(r.currencies.map((c) => [c.currency, c.periods[0].mrrEndMinor, c.periods[0].newMinor])).toEqual([
      ['EUR', 7_000, 7_000],
      ['USD', 10_000, 10_000],
    ])
    expect(mrrAt(mixed, '2026-01-02').currencies.map((c) => [c.currency, c.totalMinor])).toEqual([
      ['EUR', 7_000],
      ['USD', 10_000],
    ])
  })
})

describe('MRR: explain', () => {
  it('lists every movement and every event with its arithmetic', () => {
    const t = tenant([
      state('2026-01-01', 'trialing', {eventId: 11}),
      state('2026-01-15', 'active', {planCode: 'pro-yearly', termAmountMinor: 200_000, intervalMonths: 12, eventId: 12}),
      state('2026-06-01', 'canceled', {paidThrough: '2027-01-15', eventId: 13}),
    ])
    const e = explain(t)
    expect(e).toMatchObject({tenantName: 'Trattoria Roma', currency: 'EUR', mrrMinor: 0, standing: 'lost'})
    expect(e.movements.map((m) => [m.type, m.eventId, m.at.slice(0, 10)])).toEqual([
      ['new', 12, '2026-01-15'],
      ['churn', 13, '2027-01-15'],
    ])
    expect(e.events.map((ev) => [ev.eventId, ev.status, ev.mrrMinor, ev.movements])).toEqual([
      [11, 'trialing', 0, []],
      [12, 'active', 16_667, ['new']],
      [13, 'canceled', 0, ['churn']],
    ])
    expect(e.events[2].effectiveAt).toBe('2027-01-15T00:00:00.000Z')
    expect(e.movements[0].reason).toBe('new 0.00 → 166.67: plan pro-yearly 2,000.00 / 12 months = 166.67')
  })
})

describe('MRR: bad input', () => {
  const bad = (run: () => unknown) => {
    try {
      run()
    } catch (error) {
      expect(error).toBeInstanceOf(RaiopsError)
      expect((error as RaiopsError).exitCode).toBe(2)
      return (error as Error).message
    }
    throw new Error('expected a UserError')
  }

  it.each<[string, () => unknown, string]>([
    ['a currency that is no ISO code', () => mrrAt([tenant([state('2026-01-01', 'active')], {currency: 'euro'})], '2026-02-01'), 'ISO 4217'],
    ['a negative price', () => mrrAt([tenant([state('2026-01-01', 'active', {termAmountMinor: -1})])], '2026-02-01'), 'term amount'],
    ['a fractional price', () => mrrAt([tenant([state('2026-01-01', 'active', {termAmountMinor: 10.5})])], '2026-02-01'), 'term amount'],
    ['a term of 0 months', () => mrrAt([tenant([state('2026-01-01', 'active', {intervalMonths: 0})])], '2026-02-01'), 'months'],
    ['a negative discount', () => mrrAt([tenant([state('2026-01-01', 'active', {discount: {percentBp: -5}})])], '2026-02-01'), 'discount'],
    ['a date that is none', () => mrrAt([tenant([state('2026-02-30x', 'active')])], '2026-02-01'), 'ISO date'],
    ['an unknown status', () => mrrAt([tenant([state('2026-01-01', 'unpaid' as 'active')])], '2026-02-01'), 'status'],
    ['the end before the start', () => report([], {from: '2026-03-01', to: '2026-02-01', by: 'month'}), 'after its start'],
    ['an unknown period', () => report([], {from: '2026-01-01', to: '2026-02-01', by: 'day' as 'month'}), 'month or week'],
    ['an unknown policy value', () => mrrAt([], '2026-01-01', {pause: 'ignore' as 'churn'}), 'pause'],
    ['a negative number of days', () => mrrAt([], '2026-01-01', {pastDueDays: -1}), 'pastDueDays'],
  ])('%s is refused with exit 2', (_name, run, words) => {
    const message = bad(run)
    expect(message).toContain(words)
    expect(message).not.toContain('\n')
  })

  it('names the tenant and the event in the message', () => {
    expect(bad(() => mrrAt([tenant([state('2026-01-01', 'active', {termAmountMinor: -1, eventId: 77})])], '2026-02-01'))).toMatch(
      /^tenant Trattoria Roma, billing event 77: /,
    )
  })

  it('takes a date-time without a zone as UTC, and epoch milliseconds', () => {
    const t = tenant([state('2026-01-01T12:00', 'active')])
    expect(moves(t)[0]).toEqual(['new', 10_000, '2026-01-01'])
    const epoch = tenant([{...state('x', 'active'), at: Date.UTC(2026, 0, 3)}])
    expect(movements([epoch], '2026-01-01', '2026-02-01')[0].at).toBe('2026-01-03T00:00:00.000Z')
  })
})
