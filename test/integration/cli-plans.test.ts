import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {PlanArchiveResult, PlanEditResult} from '../../src/lib/billing/plan-changes.js'
import type {PlanListRow, PlanShow, PlanVersionView} from '../../src/lib/billing/plans.js'
import {queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'plans-admin-password-1'

describe('plan:* at the command line', () => {
  let home: TestDir
  let session: CliSession
  const tokens = new Map<string, string>()

  // In-process: what is tested is the output, the rows and the exit codes, not the process around them.
  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})
  const as = (role: string, args: string[]) => cli(args, {RAIOPS_TOKEN: tokens.get(role) as string})
  const json = <T>(result: CliResult): T => {
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as T
  }
  const rows = () => {
    const [plans] = queryControlDb<{n: number}>(session.env.RAIOPS_HOME, 'select count(*) as n from subscription_plans')
    const [audit] = queryControlDb<{n: number}>(session.env.RAIOPS_HOME, 'select count(*) as n from audit_logs')
    return {plans: plans.n, audit: audit.n}
  }

  beforeAll(async () => {
    home = createTestDir('raiops-plans-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: ADMIN_PASSWORD, env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin', 'support_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
  })

  afterAll(() => {
    home?.drop()
  })

  it('plan:create prints the plan; --json is the stored version in minor units', async () => {
    const created = await as('billing_admin', [
      'plan:create',
      'starter',
      '--name',
      'Starter',
      '--currency',
      'usd',
      '--interval',
      'month',
      '--price',
      '49.00',
      '--unit',
      'location',
      '--unit-price',
      '10',
      '--included-units',
      '1',
      '--trial-days',
      '14',
      '--feature',
      'pos',
      '--feature',
      'reports',
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr).toBe('')
    expect(created.stdout).toContain('created plan starter, version 1')
    expect(created.stdout).toMatch(/price:\s+49\.00 USD per month \(49\.00 USD a month\)/)
    expect(created.stdout).toMatch(/per unit:\s+10\.00 per location over 1/)

    const yearly = json<PlanVersionView>(
      await cli(['plan:create', 'team-yearly', '--name', 'Team yearly', '--currency', 'EUR', '--interval', 'year', '--price', '2000', '--json']),
    )
    expect(yearly).toMatchObject({code: 'team-yearly', currency: 'EUR', priceMinor: 200_000, price: '2000.00', monthlyMinor: 16_667, monthly: '166.67'})
    const yen = json<PlanVersionView>(
      await cli(['plan:create', 'tokyo', '--name', 'Tokyo', '--currency', 'JPY', '--interval', 'quarter', '--price', '4900', '--json']),
    )
    expect([yen.priceMinor, yen.price, yen.monthly]).toEqual([4900, '4900', '1633'])
  })

  it('bad input: one line on stderr, exit 2, nothing written', async () => {
    const before = rows()
    const cases: Array<[string[], RegExp]> = [
      [['plan:create', 'x', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '49.001'], /has more decimals than USD allows/],
      [['plan:create', 'x', '--name', 'X', '--currency', 'KWD', '--interval', 'month', '--price', '1.0000'], /KWD allows \(at most 3 decimals\)/],
      [['plan:create', 'x', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '-5'], /--price cannot be negative/],
      [['plan:create', 'x', '--name', 'X', '--currency', 'USX', '--interval', 'month', '--price', '5'], /unknown currency "USX"/],
      [['plan:create', 'x', '--name', 'X', '--currency', 'USD', '--interval', 'fortnight', '--price', '5'], /fortnight/],
      [['plan:create', 'x', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '1e3'], /must be a plain decimal number/],
      [['plan:create', 'starter', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '5'], /a plan "starter" already exists/],
      [['plan:create', 'Big Plan', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '5'], /not a lowercase slug/],
      [['plan:edit', 'nope', '--price', '5'], /no plan "nope"/],
      [['plan:edit', 'starter'], /nothing to change/],
      [['plan:edit', 'starter', '--price', '5', '--effective', '2001-01-01'], /before version 1 of "starter" applies/],
      [['plan:show', 'nope'], /no plan "nope"/],
      [['plan:archive', 'nope'], /no plan "nope"/],
    ]
    for (const [args, message] of cases) {
      const result = await cli(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stdout, args.join(' ')).toBe('')
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr, args.join(' ')).toMatch(message)
    }
    // Under --json the error is the JSON object on stdout.
    const asJson = await cli(['plan:create', 'x', '--name', 'X', '--currency', 'USD', '--interval', 'month', '--price', '1.999', '--json'])
    expect(asJson.code).toBe(2)
    expect(JSON.parse(asJson.stdout)).toMatchObject({error: {code: 'BAD_INPUT', exitCode: 2, message: expect.stringMatching(/more decimals/)}})
    expect(rows()).toEqual(before)
  })

  it('read_only and support_admin may not write plans (exit 5, nothing written); read_only may list and show them', async () => {
    const before = rows()
    for (const role of ['read_only', 'support_admin']) {
      for (const args of [
        ['plan:create', 'free', '--name', 'Free', '--currency', 'USD', '--interval', 'month', '--price', '0'],
        ['plan:edit', 'starter', '--price', '1'],
        ['plan:archive', 'starter'],
      ]) {
        const refused = await as(role, args)
        expect(refused.code, `${role} ${args[0]}`).toBe(5)
        expect(refused.stderr).toMatch(/billing\.edit/)
      }
    }
    expect(rows()).toEqual(before)
    const listed = json<PlanListRow[]>(await as('read_only', ['plan:list', '--json']))
    expect(listed.map((p) => p.code)).toEqual(['starter', 'team-yearly', 'tokyo'])
    expect(json<PlanShow>(await as('read_only', ['plan:show', 'starter', '--json'])).plan.code).toBe('starter')
    // support_admin has no billing.view.
    expect((await as('support_admin', ['plan:list'])).code).toBe(5)
  })

  it('plan:edit: --dry-run writes nothing; a price change is version 2 and says subscriptions keep theirs', async () => {
    const before = rows()
    const dry = await cli(['plan:edit', 'starter', '--price', '59.00', '--effective', '2099-01-01', '--dry-run'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('dry run: nothing is written')
    expect(dry.stdout).toContain('price: "49.00 USD" → "59.00 USD"  (new version)')
    expect(rows()).toEqual(before)

    const edited = json<PlanEditResult>(await cli(['plan:edit', 'starter', '--price', '59.00', '--effective', '2099-01-01', '--name', 'Starter+', '--json']))
    expect(edited.newVersion).toEqual({version: 2, effectiveFrom: '2099-01-01T00:00:00.000Z'})
    expect(edited.notes.join(' ')).toContain('existing subscriptions keep the version they are on (1)')
    expect(edited.plan).toMatchObject({version: 1, name: 'Starter+', priceMinor: 4900})
    expect(rows()).toEqual({plans: before.plans + 1, audit: before.audit + 2})

    const table = await cli(['plan:list', '--utc'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/starter\s+│ Starter\+\s+│ USD\s+│ month\s+│ 49\.00\s+│ 49\.00 /)
    expect(table.stdout).toContain('v2 2099-01-01')
    expect(table.stdout).toMatch(/team-yearly .*│ 2000\.00\s+│ 166\.67 /)

    const shown = await cli(['plan:show', 'starter'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('Versions')
    expect(shown.stdout).toMatch(/plan\.create\s+by as-billing-admin/)
    expect(shown.stdout).toMatch(/plan\.version\s+by ops@example\.com/)
    expect(shown.stdout).toContain('name: "Starter" → "Starter+"')
    expect(shown.stdout).not.toMatch(RAW_CONTROL)
  })

  it('plan:archive twice says so; plan:list --all shows it; nothing is ever deleted', async () => {
    const archived = await cli(['plan:archive', 'tokyo'])
    expect(archived.code, archived.stderr).toBe(0)
    expect(archived.stdout).toContain('archived plan tokyo')
    const again = json<PlanArchiveResult>(await cli(['plan:archive', 'tokyo', '--json']))
    expect(again.changed).toBe(false)
    expect((await cli(['plan:archive', 'tokyo'])).stdout).toContain('already archived')
    expect(json<PlanListRow[]>(await cli(['plan:list', '--json'])).map((p) => p.code)).not.toContain('tokyo')
    const csv = await cli(['plan:list', '--all', '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toBe('code,name,currency,interval,price,monthly,per unit,trial,version,next,archived')
    expect(csv.stdout).toMatch(/^tokyo,Tokyo,JPY,quarter,4900,1633,,0,1,,\d{4}-/m)
    expect(queryControlDb<{n: number}>(session.env.RAIOPS_HOME, "select count(*) as n from subscription_plans where code = 'tokyo'")[0].n).toBe(1)
    expect((await cli(['plan:unarchive', 'tokyo'])).stdout).toContain('plan tokyo is back in use')
    session.expectNoSecretInTranscript(ADMIN_PASSWORD)
  })
})
