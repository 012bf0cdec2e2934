import Database from 'better-sqlite3'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BillingShow, PaymentResult} from '../../src/lib/billing/payments.js'
import type {SubscriptionChangeResult} from '../../src/lib/billing/subscriptions.js'
import {queryControlDb, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'billing-admin-password-1'
const REGISTERED = Date.parse('2026-01-01T00:00:00Z')

describe('billing:* at the command line', () => {
  let home: TestDir
  let session: CliSession
  const tokens = new Map<string, string>()

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env})
  const as = (role: string, args: string[]) => cli(args, {RAIOPS_TOKEN: tokens.get(role) as string})
  const json = <T>(result: CliResult): T => {
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as T
  }
  /** Rows of the ledger and the audit trail: unchanged counts mean nothing was written. */
  const rows = () =>
    Object.fromEntries(
      ['billing_events', 'tenant_billing', 'payments', 'audit_logs'].map((table) => [
        table,
        queryControlDb<{n: number}>(session.env.RAIOPS_HOME, `select count(*) as n from ${table}`)[0].n,
      ]),
    )
  /** Runs a command that must be refused with `code`, writing nothing; returns its stderr. */
  const refused = async (role: string, args: string[], code: number): Promise<string> => {
    const before = rows()
    const result = await as(role, args)
    expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(code)
    expect(rows()).toEqual(before)
    return result.stderr
  }

  beforeAll(async () => {
    home = createTestDir('raiops-billing-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: ADMIN_PASSWORD, env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin', 'support_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
    // Two tenants registered on 2026-01-01 (what sync:tenants would have brought in).
    const db = new Database(join(session.env.RAIOPS_HOME, 'raiops.sqlite'))
    try {
      db.prepare(
        "insert into rds_instances (name, engine, rai_database, is_master, is_active, state, health_status, created_at, updated_at) values ('main', 'sqlite', '/tmp/rai.sqlite', 1, 1, 'online', 'unknown', ?, ?)",
      ).run(REGISTERED, REGISTERED)
      for (const [remote, name, locations] of [
        [1, 'Harbor Bakery', 3],
        [2, 'Dune Cafe', 1],
      ] as const)
        db.prepare(
          "insert into tenant_master (rds_instance_id, remote_tenant_id, name, cached_user_count, cached_location_count, created_at, updated_at) select id, ?, ?, 5, ?, ?, ? from rds_instances where name = 'main'",
        ).run(remote, name, locations, REGISTERED, REGISTERED)
    } finally {
      db.close()
    }
    for (const args of [
      [
        'plan:create',
        'starter',
        '--name',
        'Starter',
        '--currency',
        'USD',
        '--interval',
        'month',
        '--price',
        '49.00',
        '--unit',
        'location',
        '--unit-price',
        '10.00',
        '--included-units',
        '1',
      ],
      ['plan:create', 'euro', '--name', 'Euro', '--currency', 'EUR', '--interval', 'year', '--price', '600.00'],
    ]) {
      const created = await as('billing_admin', args)
      expect(created.code, created.stderr).toBe(0)
    }
  })

  afterAll(() => {
    home?.drop()
  })

  it('billing:set puts a tenant on a plan, following its locations; --json is the event and the subscription', async () => {
    const set = await as('billing_admin', ['billing:set', 'Harbor Bakery', '--plan', 'starter', '--quantity-from', 'locations', '--reason', 'signed'])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toMatch(/^set for Harbor Bakery \(#1\): event \d+, effective /)
    expect(set.stdout).toMatch(/quantity:\s+3 \(the tenant's locations when last set\)/)
    expect(set.stdout).toMatch(/MRR:\s+69\.00 USD/)
    const changed = json<SubscriptionChangeResult>(
      await as('billing_admin', ['billing:set', 'main:1', '--plan', 'starter', '--quantity', '5', '--discount', '10%', '--reason', 'two more', '--json']),
    )
    expect(changed.subscription).toMatchObject({status: 'active', quantity: 5, quantityMode: 'fixed', discount: {percentBp: 1000}, mrrMinor: 8010, version: 2})
    expect(changed.event).toMatchObject({type: 'set', mrrMinor: 8010, mrrDeltaMinor: 1110, reason: 'two more'})
  })

  it('billing:payment pays the oldest unpaid period; billing:refund returns part of it; billing:show shows it all', async () => {
    const paid = json<PaymentResult>(
      await as('billing_admin', [
        'billing:payment',
        '1',
        '--amount',
        '69.00',
        '--currency',
        'usd',
        '--method',
        'card',
        '--reference',
        'ch_1',
        '--status',
        'succeeded',
        '--date',
        '1h',
        '--json',
      ]),
    )
    // The first period is billed as the subscription was when it started (3 locations, no discount: 69.00); no proration.
    expect(paid.payment).toMatchObject({amountMinor: 6900, status: 'succeeded', currency: 'USD'})
    expect(paid.payment.periodStart).not.toBeNull()
    const refund = await as('billing_admin', ['billing:refund', String(paid.payment.id), '--amount', '10.00', '--reason', 'goodwill'])
    expect(refund.code, refund.stderr).toBe(0)
    expect(refund.stdout).toContain(`recorded refund of payment ${paid.payment.id}`)
    const shown = json<BillingShow>(await as('read_only', ['billing:show', 'Harbor Bakery', '--json']))
    expect(shown.subscription).toMatchObject({status: 'active', mrrMinor: 8010, balanceMinor: 1000, paidThrough: paid.payment.periodEnd})
    expect(shown.payments.map((p) => [p.status, p.amountMinor, p.refundOf])).toEqual([
      ['succeeded', 6900, null],
      ['refunded', 1000, paid.payment.id],
    ])
    const text = await as('billing_admin', ['billing:show', 'Harbor Bakery'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/status:\s+active/)
    expect(text.stdout).toMatch(/balance:\s+10\.00 USD due for the current period/)
    expect(text.stdout).toContain('Billing periods')
  })

  it('pause, resume and cancel', async () => {
    for (const [args, status] of [
      [['billing:pause', 'Harbor Bakery'], 'paused'],
      [['billing:resume', 'Harbor Bakery', '--reason', 'back'], 'active'],
      [['billing:cancel', 'Harbor Bakery', '--reason', 'closed'], 'canceled'],
    ] as const) {
      const result = json<SubscriptionChangeResult>(await as('billing_admin', [...args, '--json']))
      expect(result.subscription.status).toBe(status)
    }
    expect(await refused('billing_admin', ['billing:resume', 'Harbor Bakery'], 2)).toMatch(/cannot be resumed/)
  })

  it('refuses bad input with exit 2, writing nothing', async () => {
    await as('billing_admin', ['billing:set', 'Dune Cafe', '--plan', 'starter', '--reason', 'start'])
    const payment = ['billing:payment', 'Dune Cafe', '--currency', 'USD', '--method', 'card', '--reference', 'r', '--status', 'succeeded', '--date', '1h']
    expect(await refused('billing_admin', [...payment, '--amount', '49.001'], 2)).toMatch(/more decimals than USD allows/)
    expect(await refused('billing_admin', [...payment, '--amount', '-49.00'], 2)).toMatch(/cannot be negative/)
    expect(await refused('billing_admin', [...payment.map((a) => (a === 'USD' ? 'XYZ' : a)), '--amount', '49.00'], 2)).toMatch(/XYZ/)
    // A refund through billing:payment would be bounded by nothing: refused, pointing at billing:refund.
    expect(await refused('billing_admin', [...payment.map((a) => (a === 'succeeded' ? 'refunded' : a)), '--amount', '99999.00'], 2)).toMatch(
      /not refunds.*billing:refund/,
    )
    const set = ['billing:set', 'Dune Cafe', '--plan', 'starter', '--reason', 'x']
    expect(await refused('billing_admin', [...set, '--discount', '150%'], 2)).toMatch(/over 100 %/)
    expect(await refused('billing_admin', [...set, '--discount', '49.01'], 2)).toMatch(/larger than the price of a term/)
    expect(await refused('billing_admin', [...set, '--effective', '2025-06-01'], 2)).toMatch(/before the tenant existed/)
    expect(await refused('billing_admin', [...set, '--quantity', '2', '--quantity-from', 'users'], 2)).toMatch(/quantity/)
    expect(await refused('billing_admin', ['billing:set', 'Dune Cafe', '--plan', 'starter'], 2)).toMatch(/reason/)
    // A payment id that is not a whole number above 0.
    expect(await refused('billing_admin', ['billing:refund', 'abc', '--reason', 'x'], 2)).toMatch(/"abc" is not a payment id/)
    expect(await refused('billing_admin', ['billing:refund', '0', '--reason', 'x'], 2)).toMatch(/"0" is not a payment id/)
    // Over the largest amount (10^12 minor units) or more than 5 years ahead: one line, exit 2.
    for (const [args, says] of [
      [[...payment, '--amount', '10000000000.01'], /--amount "10000000000\.01" is too large/],
      [[...set, '--effective', '2099-01-01'], /--effective 2099-01-01 is more than 5 years ahead/],
    ] as const) {
      const stderr = await refused('billing_admin', [...args], 2)
      expect(stderr.trimEnd().split('\n'), stderr).toHaveLength(1)
      expect(stderr).toMatch(says)
    }
  })

  it('a plan in another currency than the payments: refused with why, unless --force-currency', async () => {
    const pay = await as('billing_admin', [
      'billing:payment',
      'Dune Cafe',
      '--amount',
      '49.00',
      '--currency',
      'USD',
      '--method',
      'card',
      '--reference',
      'd1',
      '--status',
      'succeeded',
      '--date',
      '1h',
    ])
    expect(pay.code, pay.stderr).toBe(0)
    const why = await refused('billing_admin', ['billing:set', 'Dune Cafe', '--plan', 'euro', '--reason', 'move'], 2)
    expect(why).toMatch(/plan "euro" is in EUR but Dune Cafe has paid in USD/)
    expect(why).toMatch(/--force-currency/)
    const forced = json<SubscriptionChangeResult>(
      await as('billing_admin', ['billing:set', 'Dune Cafe', '--plan', 'euro', '--reason', 'move', '--force-currency', '--json']),
    )
    expect(forced.subscription).toMatchObject({currency: 'EUR', mrrMinor: 5000})
  })

  it('support_admin and read_only may run no billing write (exit 5, nothing written); read_only may show', async () => {
    const paymentId = String(
      queryControlDb<{id: number}>(session.env.RAIOPS_HOME, "select id from payments where status = 'succeeded' order by id limit 1")[0].id,
    )
    const writes = [
      ['billing:set', 'Dune Cafe', '--plan', 'starter', '--reason', 'x'],
      ['billing:cancel', 'Dune Cafe', '--reason', 'x'],
      ['billing:pause', 'Dune Cafe'],
      ['billing:resume', 'Dune Cafe'],
      [
        'billing:payment',
        'Dune Cafe',
        '--amount',
        '1.00',
        '--currency',
        'EUR',
        '--method',
        'card',
        '--reference',
        'x',
        '--status',
        'succeeded',
        '--date',
        '1h',
      ],
      ['billing:refund', paymentId, '--reason', 'x'],
    ]
    for (const role of ['support_admin', 'read_only']) for (const args of writes) expect(await refused(role, args, 5)).toMatch(/billing\.edit/)
    await refused('support_admin', ['billing:show', 'Dune Cafe'], 5)
    expect((await as('read_only', ['billing:show', 'Dune Cafe'])).code).toBe(0)
  })
})
