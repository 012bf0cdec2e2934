import type {Knex} from 'knex'

import {foldLedger} from '../../src/lib/billing/ledger.js'
import {ledgerEvent, ledgerPayment, loadLedgerPlans} from '../../src/lib/billing/timelines.js'

/**
 * A small billing ledger written straight into the schema's shape
 * (subscription_plans, billing_events with their changes JSON, payments for
 * their periods, tenant_billing as the ledger derives it at the tenant's last
 * change), with one of each billing alert and its near miss, at NOW with the
 * default settings (7 grace days, trials within 7 days, 30 days back, 20 %).
 */

export const NOW = new Date('2026-06-15T12:00:00.000Z')

const iso = (text: string) => new Date(text)

export interface AlertsFixture {
  rdsId: number
  /** tenant_master id by name. */
  tenants: Record<TenantName, number>
  plans: Record<'pro' | 'basic' | 'trim', number>
}

export type TenantName =
  | 'Overdue Bistro'
  | 'Late Payer Cafe'
  | 'Trial Soon Deli'
  | 'Trial Later Grill'
  | 'Failed Card Bar'
  | 'Retry Ok Pizzeria'
  | 'Shrinking Salon'
  | 'Trimming Spa'
  | 'Unbilled Diner'

interface Payment {
  amount: number
  paidAt: string
  periodStart: string
  status?: 'succeeded' | 'failed'
}

interface Event {
  type: 'set'
  at: string
  plan: 'pro' | 'basic' | 'trim'
  trialUntil?: string
}

/** What each tenant's ledger holds; `writtenAt` is its last change (when tenant_billing was derived). */
const LEDGERS: Record<TenantName, {events: Event[]; payments: Payment[]; writtenAt: string} | null> = {
  // The period of May is unpaid 7 days after its end (June 8): overdue. Its failed attempt is older than 30 days.
  'Overdue Bistro': {
    events: [{type: 'set', at: '2026-04-01T00:00:00Z', plan: 'pro'}],
    payments: [
      {amount: 10_000, paidAt: '2026-04-02T10:00:00Z', periodStart: '2026-04-01T00:00:00Z'},
      {amount: 10_000, paidAt: '2026-05-02T10:00:00Z', periodStart: '2026-05-01T00:00:00Z', status: 'failed'},
    ],
    writtenAt: '2026-05-02T10:00:00Z',
  },
  // The same, paid on the last grace day (June 7): not overdue.
  'Late Payer Cafe': {
    events: [{type: 'set', at: '2026-04-01T00:00:00Z', plan: 'pro'}],
    payments: [
      {amount: 10_000, paidAt: '2026-04-02T10:00:00Z', periodStart: '2026-04-01T00:00:00Z'},
      {amount: 10_000, paidAt: '2026-06-07T18:00:00Z', periodStart: '2026-05-01T00:00:00Z'},
    ],
    writtenAt: '2026-06-07T18:00:00Z',
  },
  // A trial ending in 5 days; and one ending in 8 days (7 + 1).
  'Trial Soon Deli': {
    events: [{type: 'set', at: '2026-06-01T00:00:00Z', plan: 'pro', trialUntil: '2026-06-20T12:00:00Z'}],
    payments: [],
    writtenAt: '2026-06-01T00:00:00Z',
  },
  'Trial Later Grill': {
    events: [{type: 'set', at: '2026-06-01T00:00:00Z', plan: 'pro', trialUntil: '2026-06-23T12:00:00Z'}],
    payments: [],
    writtenAt: '2026-06-01T00:00:00Z',
  },
  // A failed payment 5 days ago, nothing since; and one followed by a succeeded one the next day.
  'Failed Card Bar': {
    events: [{type: 'set', at: '2026-05-10T00:00:00Z', plan: 'pro'}],
    payments: [
      {amount: 10_000, paidAt: '2026-05-10T08:00:00Z', periodStart: '2026-05-10T00:00:00Z'},
      {amount: 10_000, paidAt: '2026-06-10T09:00:00Z', periodStart: '2026-06-10T00:00:00Z', status: 'failed'},
    ],
    writtenAt: '2026-06-10T09:00:00Z',
  },
  'Retry Ok Pizzeria': {
    events: [{type: 'set', at: '2026-05-10T00:00:00Z', plan: 'pro'}],
    payments: [
      {amount: 10_000, paidAt: '2026-05-10T08:00:00Z', periodStart: '2026-05-10T00:00:00Z'},
      {amount: 10_000, paidAt: '2026-06-10T09:00:00Z', periodStart: '2026-06-10T00:00:00Z', status: 'failed'},
      {amount: 10_000, paidAt: '2026-06-11T09:00:00Z', periodStart: '2026-06-10T00:00:00Z'},
    ],
    writtenAt: '2026-06-11T09:00:00Z',
  },
  // 100.00 → 70.00 on June 5 (a 30 % contraction); 100.00 → 81.00 (19 %).
  'Shrinking Salon': {
    events: [
      {type: 'set', at: '2026-04-01T00:00:00Z', plan: 'pro'},
      {type: 'set', at: '2026-06-05T00:00:00Z', plan: 'basic'},
    ],
    payments: ['04', '05', '06'].map((m) => ({amount: 10_000, paidAt: `2026-${m}-01T09:00:00Z`, periodStart: `2026-${m}-01T00:00:00Z`})),
    writtenAt: '2026-06-05T00:00:00Z',
  },
  'Trimming Spa': {
    events: [
      {type: 'set', at: '2026-04-01T00:00:00Z', plan: 'pro'},
      {type: 'set', at: '2026-06-05T00:00:00Z', plan: 'trim'},
    ],
    payments: ['04', '05', '06'].map((m) => ({amount: 10_000, paidAt: `2026-${m}-01T09:00:00Z`, periodStart: `2026-${m}-01T00:00:00Z`})),
    writtenAt: '2026-06-05T00:00:00Z',
  },
  // No subscription at all.
  'Unbilled Diner': null,
}

export const TENANT_NAMES = Object.keys(LEDGERS) as TenantName[]

/** Inserts the fixture into a migrated control database. */
export async function seedAlertsFixture(db: Knex): Promise<AlertsFixture> {
  const fixture = await seedAlertsFixtureBase(db, TENANT_NAMES)
  const {tenants, plans} = fixture
  for (const name of TENANT_NAMES) {
    const ledger = LEDGERS[name]
    if (!ledger) continue
    const tenantId = tenants[name]
    for (const event of ledger.events) {
      const changes = {
        planId: plans[event.plan],
        quantity: 1,
        quantityMode: 'fixed',
        status: 'active',
        ...(event.trialUntil ? {trialUntil: event.trialUntil} : {}),
      }
      await db('billing_events').insert({
        tenant_master_id: tenantId,
        type: event.type,
        plan_id: plans[event.plan],
        mrr_cents: 0,
        mrr_delta_cents: 0,
        effective_at: iso(event.at),
        currency: 'USD',
        changes: JSON.stringify(changes),
        actor: 'test@localhost',
        recorded_at: iso(event.at),
        created_at: iso(event.at),
      })
    }
    for (const p of ledger.payments) {
      const start = iso(p.periodStart)
      const end = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, start.getUTCDate()))
      await db('payments').insert({
        tenant_master_id: tenantId,
        amount_cents: p.amount,
        currency: 'USD',
        paid_at: iso(p.paidAt),
        method: 'card',
        reference: `ref-${name}-${p.paidAt}`,
        status: p.status ?? 'succeeded',
        period_start: start,
        period_end: end,
        recorded_by: 'test@localhost',
        created_at: iso(p.paidAt),
        updated_at: iso(p.paidAt),
      })
    }
    await deriveTenantBilling(db, tenantId, iso(ledger.writtenAt))
  }
  return fixture
}

/** The RDS, the plans and the tenants named, without any billing. */
async function seedAlertsFixtureBase(db: Knex, names: readonly TenantName[]): Promise<AlertsFixture> {
  const created = iso('2026-01-01T00:00:00Z')
  await db('rds_instances').insert({name: 'billing-rds', engine: 'sqlite', rai_database: '/tmp/rai-billing.sqlite', created_at: created, updated_at: created})
  const rdsId = Number((await db('rds_instances').where({name: 'billing-rds'}).first('id'))!.id)
  const plans = {} as AlertsFixture['plans']
  for (const [code, price] of [
    ['pro', 10_000],
    ['basic', 7000],
    ['trim', 8100],
  ] as const) {
    await db('subscription_plans').insert({
      code,
      name: code,
      price_cents: price,
      currency: 'USD',
      interval: 'month',
      interval_months: 1,
      version: 1,
      effective_from: created,
      included_units: 0,
      trial_days: 0,
      features: '[]',
      is_active: true,
      created_at: created,
      updated_at: created,
    })
    plans[code] = Number((await db('subscription_plans').where({code}).first('id'))!.id)
  }
  const tenants = {} as AlertsFixture['tenants']
  for (const [index, name] of names.entries()) {
    await db('tenant_master').insert({
      rds_instance_id: rdsId,
      remote_tenant_id: index + 1,
      name,
      status: 'active',
      cached_user_count: 3,
      cached_location_count: 1,
      search_text: name.toLowerCase(),
      created_at: created,
      updated_at: created,
    })
    tenants[name] = Number(
      (await db('tenant_master')
        .where({rds_instance_id: rdsId, remote_tenant_id: index + 1})
        .first('id'))!.id,
    )
  }
  return {rdsId, tenants, plans}
}

/** tenant_billing as the ledger derives it when a change is written at `at` (as lib/billing's writers store it). */
async function deriveTenantBilling(db: Knex, tenantId: number, at: Date): Promise<void> {
  const events = (await db('billing_events').where({tenant_master_id: tenantId}).select('*')).map(ledgerEvent)
  const payments = (await db('payments').where({tenant_master_id: tenantId}).select('*')).map(ledgerPayment)
  const ledger = foldLedger(events, payments, await loadLedgerPlans(db), {until: at.getTime(), graceDays: 7})
  const date = (ms: number | null) => (ms === null ? null : new Date(ms))
  await db('tenant_billing').insert({
    tenant_master_id: tenantId,
    plan_id: ledger.terms.planId,
    status: ledger.status ?? 'canceled',
    mrr_cents: ledger.mrrMinor,
    currency: ledger.plan?.currency ?? 'USD',
    quantity: ledger.terms.quantity,
    quantity_mode: ledger.terms.quantityMode,
    trial_until: date(ledger.terms.trialUntil),
    started_at: date(Math.min(...events.map((e) => e.effectiveAt))),
    next_billing_at: date(ledger.nextBillingAt),
    paid_through: date(ledger.paidThrough),
    version: events.length + payments.length,
    created_at: at,
    updated_at: at,
  })
}

/**
 * One tenant on `plan` in a trial that started a day before `now` and ends
 * `endsInDays` after it (for tests that run at the real time, as the CLI does).
 */
export async function seedTrialEnding(db: Knex, now: Date, endsInDays: number): Promise<number> {
  const fixture = await seedAlertsFixtureBase(db, ['Trial Soon Deli'])
  const tenantId = fixture.tenants['Trial Soon Deli']
  const start = new Date(now.getTime() - 86_400_000)
  const trialUntil = new Date(now.getTime() + endsInDays * 86_400_000)
  const changes = {planId: fixture.plans.pro, quantity: 1, quantityMode: 'fixed', status: 'active', trialUntil: trialUntil.toISOString()}
  await db('billing_events').insert({
    tenant_master_id: tenantId,
    type: 'set',
    plan_id: fixture.plans.pro,
    mrr_cents: 0,
    mrr_delta_cents: 0,
    effective_at: start,
    currency: 'USD',
    changes: JSON.stringify(changes),
    actor: 'test@localhost',
    recorded_at: start,
    created_at: start,
  })
  await deriveTenantBilling(db, tenantId, start)
  return tenantId
}
