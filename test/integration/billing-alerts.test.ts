import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {billingAlerts, type BillingAlertsResult} from '../../src/lib/billing/alerts.js'
import {billingStatuses, effectiveBillingStatus} from '../../src/lib/billing/billing-status.js'
import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {UserError} from '../../src/lib/errors/index.js'
import {collectStatus, visibleSections} from '../../src/lib/status/index.js'
import {billingSection} from '../../src/lib/status/sections/billing.js'
import type {HealthSignal} from '../../src/lib/tenant/health-score.js'
import {rescoreUnread} from '../../src/lib/tenant/refresh.js'
import {NOW, seedAlertsFixture, seedTrialEnding, type AlertsFixture} from '../support/billing-alerts-fixture.js'
import type {CliResult} from '../support/cli.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const at = (date: Date) => ({db: undefined as never, now: () => date})

/** Rows in every billing table: unchanged counts mean nothing was written. */
async function billingRows(control: TestControlDb): Promise<number[]> {
  const counts = await Promise.all(['billing_events', 'payments', 'tenant_billing', 'audit_logs'].map((t) => control.db(t).count({n: '*'})))
  return counts.map(([row]) => Number(row.n))
}

describe.each(CONTROL_ENGINES)('billing alerts on %s', (engine) => {
  let control: TestControlDb
  let fixture: AlertsFixture
  const ctx = (now = NOW) => ({...at(now), db: control.db})
  const summary = (result: BillingAlertsResult) => result.alerts.map((a) => [a.kind, a.tenantName, a.at, a.amountMinor])

  beforeAll(async () => {
    control = await createControlDb(engine)
    fixture = await seedAlertsFixture(control.db)
  })

  afterAll(async () => {
    await control?.drop()
  })

  it('finds one alert of each kind, worst first, and none of the near misses', async () => {
    const before = await billingRows(control)
    const result = await billingAlerts(ctx(), {})
    expect(summary(result)).toEqual([
      // May's period ended June 1: unpaid 7 days later (Late Payer Cafe paid on June 7, the last grace day).
      ['overdue', 'Overdue Bistro', '2026-06-08T00:00:00.000Z', 10_000],
      // A failed payment 5 days ago (Retry Ok Pizzeria's was followed by a succeeded one; Overdue Bistro's is older than 30 days).
      ['failed-payment', 'Failed Card Bar', '2026-06-10T09:00:00.000Z', 10_000],
      // 100.00 → 70.00 is 30 % (Trimming Spa's 100.00 → 81.00 is 19 %).
      ['contraction', 'Shrinking Salon', '2026-06-05T00:00:00.000Z', 3000],
      // Ends in 5 days (Trial Later Grill's in 8).
      ['trial-ending', 'Trial Soon Deli', '2026-06-20T12:00:00.000Z', 10_000],
    ])
    expect(result.counts).toEqual({overdue: 1, 'failed-payment': 1, contraction: 1, 'trial-ending': 1})
    expect(result.settings).toEqual({graceDays: 7, trialDays: 7, since: '2026-05-16T12:00:00.000Z', minContractionPercent: 20})
    const [overdue, failed, contraction, trial] = result.alerts
    expect(overdue).toMatchObject({tenantId: fixture.tenants['Overdue Bistro'], currency: 'USD', amount: '100.00'})
    expect(overdue.detail).toContain('period 2026-05-01 to 2026-06-01 of pro unpaid 7 day(s) after its end')
    expect(overdue.action).toContain('billing:payment')
    expect(failed.detail).toMatch(/^payment #\d+ for the period starting 2026-06-10 failed/)
    expect(contraction.detail).toMatch(/^contraction: MRR 100\.00 → 70\.00 \(−30 %\)/)
    expect(trial.detail).toBe('trial of pro ends in 5 day(s); the first term costs 100.00')
    // Read-only.
    expect(await billingRows(control)).toEqual(before)
  })

  it('the thresholds move the near misses in: --trial-days 8, --since 60d, --min-contraction 19', async () => {
    const kinds = async (input: Parameters<typeof billingAlerts>[1]) => (await billingAlerts(ctx(), input)).alerts.map((a) => `${a.kind}:${a.tenantName}`)
    expect(await kinds({trialDays: 8})).toContain('trial-ending:Trial Later Grill')
    expect(await kinds({since: '60d'})).toContain('failed-payment:Overdue Bistro')
    expect(await kinds({since: '2026-05-01'})).toContain('failed-payment:Overdue Bistro')
    expect(await kinds({minContractionPercent: 19})).toContain('contraction:Trimming Spa')
    // The grace days decide when a period is overdue: with 15, May's is not yet (June 16).
    expect(await kinds({graceDays: 15})).not.toContain('overdue:Overdue Bistro')
    expect(await kinds({graceDays: 14})).toContain('overdue:Overdue Bistro')
    // Before June 8, nothing is overdue; before the failure, nothing failed.
    expect((await billingAlerts(ctx(new Date('2026-06-07T00:00:00Z')), {})).counts).toEqual({
      overdue: 0,
      'failed-payment': 0,
      contraction: 1,
      'trial-ending': 0,
    })
  })

  it('refuses bad input before reading anything', async () => {
    for (const input of [
      {trialDays: -1},
      {trialDays: 1.5},
      {since: 'yesterday'},
      {since: '2027-01-01'},
      {minContractionPercent: 0},
      {minContractionPercent: 101},
    ]) {
      await expect(billingAlerts(ctx(), input), JSON.stringify(input)).rejects.toBeInstanceOf(UserError)
    }
  })

  it('the status overview has a billing section: subscriptions by status, MRR per currency, alerts by kind; warn on overdue or failed', async () => {
    const overview = await collectStatus(ctx(), {sections: [billingSection]})
    const [billing] = overview.sections
    expect(billing).toMatchObject({key: 'billing', state: 'warn', summary: '8 subscription(s): 2 trialing, 5 active, 1 past due'})
    expect(billing.data).toMatchObject({
      subscriptions: 8,
      byStatus: {trialing: 2, active: 5, past_due: 1, paused: 0, canceled: 0},
      mrr: [{currency: 'USD', mrrMinor: 55_100, mrr: '551.00', customers: 6}],
      alerts: {overdue: 1, 'failed-payment': 1, contraction: 1, 'trial-ending': 1},
    })
    expect(billing.facts).toEqual([
      {label: 'MRR USD', value: '551.00 (6 paying)'},
      {
        label: 'alerts',
        value: '1 overdue periods, 1 failed payments, 1 large contractions, 1 trials ending — run `raiops billing:alerts`',
        tone: 'warn',
      },
    ])
    // June 7: only the contraction: ok.
    const earlier = await collectStatus(ctx(new Date('2026-06-07T00:00:00Z')), {sections: [billingSection]})
    expect(earlier.sections[0]).toMatchObject({state: 'ok'})
    expect(earlier.sections[0].facts.at(-1)).toEqual({label: 'alerts', value: '1 large contractions — run `raiops billing:alerts`', tone: 'ok'})
    // Before any subscription: never run, saying what fills it.
    const empty = await collectStatus(ctx(new Date('2026-01-01T00:00:00Z')), {sections: [billingSection]})
    expect(empty.sections[0]).toMatchObject({state: 'never', summary: 'never run: no subscription yet (raiops billing:set TENANT --plan CODE)'})
    // Shown only to a caller holding billing.view.
    expect(visibleSections(['rds.view']).map((s) => s.key)).not.toContain('billing')
    expect(visibleSections(['rds.view', 'billing.view']).map((s) => s.key)).toContain('billing')
  })

  it('the health score counts the subscription, read with one query for the RDS', async () => {
    const queries: string[] = []
    const onQuery = (q: {sql: string}) => queries.push(q.sql)
    control.db.on('query', onQuery)
    const statuses = await billingStatuses(control.db, {rdsId: fixture.rdsId}, NOW)
    control.db.removeListener('query', onQuery)
    expect(queries.filter((q) => /tenant_billing/.test(q))).toHaveLength(1)
    expect(queries, queries.join('\n')).toHaveLength(1)
    const byName = Object.fromEntries(Object.entries(fixture.tenants).map(([name, id]) => [name, statuses.find((s) => s.tenantId === id)?.status ?? null]))
    expect(byName).toEqual({
      // Stored active on May 2; May's period unpaid since, past its grace days now.
      'Overdue Bistro': 'past_due',
      'Late Payer Cafe': 'active',
      'Trial Soon Deli': 'trialing',
      'Trial Later Grill': 'trialing',
      'Failed Card Bar': 'active',
      'Retry Ok Pizzeria': 'active',
      'Shrinking Salon': 'active',
      'Trimming Spa': 'active',
      'Unbilled Diner': null,
    })

    await rescoreUnread(control.db, fixture.rdsId, 'healthy', NOW)
    const rows = await control.db('tenant_master').where({rds_instance_id: fixture.rdsId}).select('name', 'health_score', 'health_signals')
    const billing = Object.fromEntries(
      rows.map((r) => [r.name, (JSON.parse(r.health_signals ?? '[]') as HealthSignal[]).find((s) => s.name === 'billing')]),
    ) as Record<string, HealthSignal>
    expect(billing['Overdue Bistro']).toEqual({name: 'billing', weight: 10, points: 2.5, detail: 'subscription past due'})
    expect(billing['Trial Soon Deli']).toEqual({name: 'billing', weight: 10, points: 10, detail: 'subscription trialing'})
    expect(billing['Unbilled Diner']).toEqual({name: 'billing', weight: 10, points: 5, detail: 'no subscription'})
    for (const r of rows) {
      const signals = JSON.parse(r.health_signals ?? '[]') as HealthSignal[]
      expect(Number(r.health_score)).toBe(Math.round(signals.reduce((sum, s) => sum + s.points, 0)))
    }
  })

  it('brings a stored status to now: a trial long over and unpaid is past due, a paused one stays paused', () => {
    const trial = {status: 'trialing', next_billing_at: '2026-06-20T12:00:00Z', paid_through: null, trial_until: '2026-06-20T12:00:00Z', interval_months: 1}
    expect(effectiveBillingStatus(trial, NOW)).toBe('trialing')
    expect(effectiveBillingStatus(trial, new Date(Date.parse('2026-07-27T12:00:00Z') - 1))).toBe('active')
    expect(effectiveBillingStatus(trial, new Date('2026-07-27T12:00:00Z'))).toBe('past_due')
    const paidAhead = {status: 'active', next_billing_at: '2026-06-01T00:00:00Z', paid_through: '2026-06-01T00:00:00Z', trial_until: null, interval_months: 1}
    expect(effectiveBillingStatus(paidAhead, new Date(Date.parse('2026-07-08T00:00:00Z') - 1))).toBe('active')
    expect(effectiveBillingStatus(paidAhead, new Date('2026-07-08T00:00:00Z'))).toBe('past_due')
    expect(effectiveBillingStatus({...paidAhead, status: 'paused'}, new Date('2027-01-01T00:00:00Z'))).toBe('paused')
    expect(effectiveBillingStatus({...paidAhead, status: 'none'}, NOW)).toBeNull()
  })
})

describe('billing:alerts at the command line', () => {
  let home: TestDir
  let session: CliSession
  let supportToken: string

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})

  beforeAll(async () => {
    home = createTestDir('raiops-billing-alerts-')
    const raiopsHome = join(home.path, 'raiops')
    session = await initialisedHome({home: raiopsHome, password: 'billing-alerts-admin-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const created = await cli(['token:create', '--name', 'as-support', '--role', 'support_admin', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    supportToken = (JSON.parse(created.stdout) as {token: string}).token
    const db = await openControlDb(parseDatabaseUrl(`sqlite://${join(raiopsHome, 'raiops.sqlite')}`, raiopsHome))
    try {
      await seedTrialEnding(db, new Date(), 3)
    } finally {
      await db.destroy()
    }
  })

  afterAll(() => {
    home?.drop()
  })

  it('exits 4 with alerts, shows them as a table, CSV or JSON; 0 when there are none', async () => {
    const table = await cli(['billing:alerts'])
    expect(table.code, table.stderr).toBe(4)
    expect(table.stdout).toMatch(/trial-ending.*Trial Soon Deli.*100\.00 USD/)
    expect(table.stderr).toMatch(/^billing alerts at .*: 1 trial-ending \(overdue 7 day\(s\) after a period's end; trials ending within 7 day\(s\);/)

    const json = await cli(['billing:alerts', '--json'])
    expect(json.code).toBe(4)
    const result = JSON.parse(json.stdout) as BillingAlertsResult
    expect(result.counts).toEqual({overdue: 0, 'failed-payment': 0, contraction: 0, 'trial-ending': 1})
    expect(result.alerts[0]).toMatchObject({kind: 'trial-ending', tenantName: 'Trial Soon Deli', amountMinor: 10_000, amount: '100.00', currency: 'USD'})

    const csv = await cli(['billing:alerts', '--format', 'csv'])
    expect(csv.code).toBe(4)
    const [header, row] = csv.stdout.trim().split('\n')
    expect(header).toBe('kind,tenant id,tenant,since,amount,currency,detail,action')
    expect(row).toMatch(/^trial-ending,\d+,Trial Soon Deli,\d{4}-\d{2}-\d{2}T[\d:.]+Z,100\.00,USD,/)

    // A trial ending in 3 days is not within 2.
    const none = await cli(['billing:alerts', '--trial-days', '2'])
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toBe('')
    const noneJson = await cli(['billing:alerts', '--trial-days', '2', '--json'])
    expect(noneJson.code).toBe(0)
    expect((JSON.parse(noneJson.stdout) as BillingAlertsResult).alerts).toEqual([])
  })

  it('bad input: one line, exit 2', async () => {
    for (const args of [['--trial-days=-1'], ['--since', 'last tuesday'], ['--since', '2999-01-01'], ['--min-contraction', '0'], ['--format', 'xml']]) {
      const result = await cli(['billing:alerts', ...args])
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr.trim().split('\n').length, result.stderr).toBeLessThanOrEqual(2)
    }
  })

  it('status shows the billing section to a role with billing.view, not to support_admin; support_admin may not run billing:alerts', async () => {
    const status = await cli(['status', '--json'])
    const overview = JSON.parse(status.stdout) as {sections: Array<{key: string; state: string; summary: string}>}
    expect(overview.sections.find((s) => s.key === 'billing')).toMatchObject({state: 'ok', summary: '1 subscription(s): 1 trialing'})
    const text = await cli(['status'])
    expect(text.stdout).toMatch(/^Billing\s+\[ok\] 1 subscription\(s\): 1 trialing$/m)
    expect(text.stdout).toMatch(/alerts:\s+1 trials ending — run `raiops billing:alerts`/)

    const support = await cli(['status', '--json'], {RAIOPS_TOKEN: supportToken})
    expect((JSON.parse(support.stdout) as {sections: Array<{key: string}>}).sections.map((s) => s.key)).not.toContain('billing')
    const refused = await cli(['billing:alerts'], {RAIOPS_TOKEN: supportToken})
    expect(refused.code).toBe(5)
  })
})
