import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BillingExplanation, BillingReport} from '../../src/lib/billing/report.js'
import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {addEvent, addPayment, addPlan, addRds, addTenant, payMonthly} from '../support/billing.js'
import type {CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const AT = new Date('2025-11-01T00:00:00.000Z')
const RANGE = ['--from', '2026-01-01', '--to', '2026-07-01']

describe('billing:report and billing:explain at the command line', () => {
  let home: TestDir
  let session: CliSession
  const tokens = new Map<string, string>()
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})
  const as = (role: string, args: string[]) => cli(args, {RAIOPS_TOKEN: tokens.get(role) as string})
  const json = <T>(result: CliResult): T => {
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as T
  }

  beforeAll(async () => {
    home = createTestDir('raiops-billing-report-')
    const raiopsHome = join(home.path, 'raiops')
    session = await initialisedHome({home: raiopsHome, password: 'report-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
    // The ledger of the integration test: 4 yearly seats (2,000.00), basic → pro then canceled, and a EUR tenant.
    const db = await openControlDb(parseDatabaseUrl(`sqlite://${join(raiopsHome, 'raiops.sqlite')}`, raiopsHome))
    try {
      const us = await addRds(db, 'us-1', AT)
      const eu = await addRds(db, 'eu-1', AT)
      const seats = await addPlan(
        db,
        {code: 'team-yearly', name: 'Team yearly', currency: 'USD', interval: 'year', price: '0', unit: 'user', unitPrice: '500'},
        AT,
      )
      const basic = await addPlan(db, {code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', price: '50'}, AT)
      const pro = await addPlan(db, {code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', price: '100'}, AT)
      const euro = await addPlan(db, {code: 'euro-monthly', name: 'Euro monthly', currency: 'EUR', interval: 'month', price: '100'}, AT)
      const yearly = await addTenant(db, {name: 'Yearly Four', rdsId: us, remote: 1}, AT)
      const switcher = await addTenant(db, {name: 'Basic to Pro', rdsId: us, remote: 2}, AT)
      const cafe = await addTenant(db, {name: 'Euro Cafe', rdsId: eu, remote: 3}, AT)
      await addEvent(db, {tenantId: yearly, type: 'set', effectiveAt: '2026-01-10T00:00:00.000Z', changes: {planId: seats, quantity: 4, status: 'active'}})
      await addPayment(db, {
        tenantId: yearly,
        amountMinor: 200_000,
        currency: 'USD',
        periodStart: '2026-01-10T00:00:00.000Z',
        periodEnd: '2027-01-10T00:00:00.000Z',
      })
      await addEvent(db, {tenantId: switcher, type: 'set', effectiveAt: '2025-12-01T00:00:00.000Z', changes: {planId: basic, quantity: 1, status: 'active'}})
      await addEvent(db, {tenantId: switcher, type: 'set', effectiveAt: '2026-02-01T00:00:00.000Z', changes: {planId: pro}})
      await addEvent(db, {tenantId: switcher, type: 'cancel', effectiveAt: '2026-04-10T12:00:00.000Z', changes: {status: 'canceled'}})
      await payMonthly(db, switcher, (month) => (month < '2026-02' ? 5000 : 10_000), 'USD', '2025-12', 5)
      await addEvent(db, {tenantId: cafe, type: 'set', effectiveAt: '2026-01-01T00:00:00.000Z', changes: {planId: euro, quantity: 1, status: 'active'}})
      await payMonthly(db, cafe, 10_000, 'EUR', '2026-01', 7)
    } finally {
      await db.destroy()
    }
    writeFileSync(join(home.path, 'rates.json'), '{"EUR": [{"from": "2025-12-01", "rate": "1.08"}, {"from": "2026-02-01", "rate": "1.10"}]}\n')
    writeFileSync(join(home.path, 'rates-usd-only.json'), '{"GBP": "1.25"}\n')
  })

  afterAll(() => {
    home?.drop()
  })

  it('a terminal gets the policies, a table per currency and a bar chart that fits 80 columns', async () => {
    const shown = await cli(['billing:report', ...RANGE], {COLUMNS: '80'})
    expect(shown.code, shown.stderr).toBe(0)
    const out = shown.stdout
    expect(out).toMatch(/^Revenue report 2026-01-01 to 2026-07-01 \(exclusive\) by month/)
    expect(out).toMatch(
      /\nPolicies {2}limitedDiscounts ignore · pastDueDays 30 · pause contraction · churnAt\n {10}period-end · mergeMinutes 60 · graceDays 7\n/,
    )
    expect(out).toMatch(/\nRules {5}termNormalisation: term \/ months · trials: excluded · refunds: ignored\n {10}· currencies: never summed\n/)
    for (const line of out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80)
    expect(out).toContain('EUR: MRR 100.00, ARR 1,200.00 at 2026-07-01')
    expect(out).toContain('USD: MRR 166.67, ARR 2,000.04 at 2026-07-01')
    const bars = out.split('\n').filter((line) => /^2026-0\d #+\s+[\d,.]+$/.test(line))
    expect(bars).toHaveLength(12)
    for (const line of bars) expect(line.length).toBeLessThanOrEqual(80)
    // 80 columns: the period, a bar of up to 64 #, the amount; the largest MRR (USD February) fills the bar, the others in proportion.
    expect(bars[7]).toBe(`2026-02 ${'#'.repeat(64)} 266.67`)
    expect(bars[11]).toBe(`2026-06 ${'#'.repeat(40).padEnd(64)} 166.67`)
  })

  it('--json is the typed report: the roll-forward holds in each currency, never summed, policies from settings and flags', async () => {
    const report = json<BillingReport>(await cli(['billing:report', ...RANGE, '--json'], {RAIOPS_BILLING_MERGE_MINUTES: '0'}))
    expect(report.currencies.map((c) => c.currency)).toEqual(['EUR', 'USD'])
    for (const c of report.currencies)
      for (const p of c.periods)
        expect(p.mrrEndMinor - p.mrrStartMinor).toBe(p.newMinor + p.expansionMinor + p.reactivationMinor - p.contractionMinor - p.churnMinor)
    const usd = report.currencies[1].periods
    expect(usd[0].newMinor).toBe(16_667)
    expect(usd.map((p) => p.churnMinor)).toEqual([0, 0, 0, 0, 10_000, 0])
    expect(report.policies).toMatchObject({mergeMinutes: 0, churnAt: 'period-end'})
    const flagged = json<BillingReport>(
      await cli(['billing:report', ...RANGE, '--json', '--churn-at', 'cancellation'], {RAIOPS_BILLING_CHURN_AT: 'period-end'}),
    )
    expect(flagged.policies.churnAt).toBe('cancellation')
    expect(flagged.currencies[1].periods.map((p) => p.churnMinor)).toEqual([0, 0, 0, 10_000, 0, 0])
    expect(flagged.definitions.find((d) => d.key === 'churnAt')?.text).toMatch(/at the moment of cancellation/)
  })

  it('--convert-to USD --rates FILE adds a converted view with FX impact on its own line', async () => {
    const converted = json<BillingReport>(await cli(['billing:report', ...RANGE, '--convert-to', 'USD', '--rates', join(home.path, 'rates.json'), '--json']))
    expect(converted.converted!.periods[0]).toMatchObject({newMinor: 16_667 + 10_800, fxImpactMinor: 200, mrrEndMinor: 21_667 + 11_000})
    const table = await cli(['billing:report', ...RANGE, '--convert-to', 'USD', '--rates', join(home.path, 'rates.json')])
    expect(table.stdout).toContain('All currencies in USD, at stated rates (FX impact is not a movement)')
    expect(table.stdout).toMatch(/2026-01\s+│\s+50\.00\s+│\s+274\.67\s+│\s+2\.00\s+│\s+326\.67/)
  })

  it('--format csv --output DIR writes the three exports; --export picks one for stdout', async () => {
    const dir = join(home.path, 'exports')
    const written = await as('billing_admin', ['billing:report', ...RANGE, '--format', 'csv', '--output', dir])
    expect(written.code, written.stderr).toBe(0)
    expect(written.stdout).toBe('')
    const read = (name: string) => readFileSync(join(dir, name), 'utf8').trim().split('\n')
    expect(read('mrr-by-tenant.csv')[0]).toBe('period,currency,tenant_id,tenant,rds,plan,mrr_start,mrr_end,change')
    expect(read('mrr-by-tenant.csv')).toContainEqual(expect.stringMatching(/^2026-01,USD,\d+,Yearly Four,us-1,team-yearly,0\.00,166\.67,166\.67$/))
    expect(read('mrr-summary.csv')).toHaveLength(1 + 12)
    expect(read('mrr-movements.csv')).toHaveLength(1 + 4)
    const movements = await cli(['billing:report', ...RANGE, '--format', 'csv', '--export', 'movements'])
    expect(movements.code, movements.stderr).toBe(0)
    expect(movements.stdout.split('\n')[0]).toBe('at,currency,tenant_id,tenant,rds,type,amount,mrr_before,mrr_after,plan,cause,events,reason')
    expect(movements.stdout).toMatch(/\nchurn|,churn,100\.00,100\.00,0\.00,pro,cancellation,/)
    const summary = await cli(['billing:report', ...RANGE, '--format', 'csv'])
    expect(summary.stdout.split('\n')[0]).toMatch(/^period,start,end,currency,converted,mrr_start,new/)
  })

  it('read_only may report and explain, but not export: exit 5, nothing written', async () => {
    expect((await as('read_only', ['billing:report', ...RANGE])).code).toBe(0)
    expect((await as('read_only', ['billing:explain', 'Euro Cafe'])).code).toBe(0)
    const dir = join(home.path, 'refused')
    for (const args of [
      ['--format', 'csv', '--output', dir],
      ['--format', 'csv'],
      ['--format', 'csv', '--export', 'tenants'],
      // JSON holds the same per-tenant MRR and movement log as the exports.
      ['--format', 'json'],
      ['--json'],
    ]) {
      const refused = await as('read_only', ['billing:report', ...RANGE, ...args])
      expect(refused.code, args.join(' ')).toBe(5)
      // Under --json the refusal itself is the JSON document on stdout; no report either way.
      if (args.includes('--json')) expect(JSON.parse(refused.stdout)).toMatchObject({error: {exitCode: 5, message: expect.stringMatching(/reports\.export/)}})
      else {
        expect(refused.stdout).toBe('')
        expect(refused.stderr).toMatch(/reports\.export/)
      }
    }
    expect(existsSync(dir)).toBe(false)
  })

  it('bad input: one line on stderr, exit 2, nothing written', async () => {
    const dir = join(home.path, 'never')
    const cases: Array<[string[], RegExp]> = [
      [['--from', '2026-07-01', '--to', '2026-01-01'], /--to \(2026-01-01\) must be after --from \(2026-07-01\)/],
      [['--from', '2026-13-01', '--to', '2026-07-01'], /--from must be a date/],
      [['--from', '2026-01-01', '--to', 'tomorrow'], /--to must be a date/],
      [[...RANGE, '--currency', 'EURO'], /unknown currency "EURO"/],
      [[...RANGE, '--convert-to', 'USD', '--rates', join(home.path, 'rates-usd-only.json')], /no exchange rate for EUR to USD/],
      [[...RANGE, '--convert-to', 'USD', '--rates', join(home.path, 'missing.json')], /cannot read the rates file/],
      [[...RANGE, '--convert-to', 'USD'], /needs --rates FILE/],
      [[...RANGE, '--output', dir], /--output DIR writes the three CSV exports/],
      [[...RANGE, '--format', 'csv', '--output', dir, '--convert-to', 'XYZ', '--rates', join(home.path, 'rates.json')], /unknown currency "XYZ"/],
    ]
    for (const [args, message] of cases) {
      const result = await cli(['billing:report', ...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stdout, args.join(' ')).toBe('')
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr, args.join(' ')).toMatch(message)
    }
    expect(existsSync(dir)).toBe(false)
    const explainBad = await cli(['billing:explain', 'Euro Cafe', '--from', '2026-05-01', '--to', '2026-02-01'])
    expect([explainBad.code, explainBad.stderr.trimEnd().split('\n').length]).toEqual([2, 1])
  })

  it('billing:explain TENANT: every movement with the event behind it and the arithmetic', async () => {
    const shown = await cli(['billing:explain', 'Yearly Four'], {COLUMNS: '160'})
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('USD: MRR 166.67 now (paying)')
    expect(shown.stdout).toMatch(/2,000\.00 \/ 12 months = 166\.67/)
    expect(shown.stdout).toMatch(/│ new\s+│ 166\.67\s+│ 0\.00 → 166\.67/)
    const explained = json<BillingExplanation>(await cli(['billing:explain', 'Basic to Pro', '--from', '2026-01-01', '--json']))
    expect(explained.currencies[0].movements.map((m) => [m.type, m.amountMinor])).toEqual([
      ['expansion', 5000],
      ['churn', 10_000],
    ])
    const unknown = await cli(['billing:explain', 'Nobody'])
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringMatching(/Nobody/)])
  })
})
