import Database from 'better-sqlite3'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {TenantShow} from '../../src/lib/tenant/show.js'
import {queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const SECTIONS = ['Registry', 'Live on main', 'Users', 'Routing (master main)', 'Health score', 'Billing', 'Recent audit', 'Impersonations']

describe('tenant:show', () => {
  let home: TestDir
  let main: RaiFixture
  let far: RaiFixture
  let farProxy: FaultProxy
  let session: CliSession
  const tokens = new Map<string, string>()

  // In-process: what is tested is the output, the rows and the exit codes, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)
  const as = (role: string, args: string[]) => cli(args, {env: {RAIOPS_TOKEN: tokens.get(role) as string}})
  const json = (result: CliResult): TenantShow => {
    expect(result.stdout.trim().startsWith('{'), result.stderr).toBe(true)
    return JSON.parse(result.stdout) as TenantShow
  }
  const control = () => new Database(join(session.env.RAIOPS_HOME, 'raiops.sqlite'))
  const idOf = (rds: string, remote: number) =>
    queryControlDb<{id: number}>(
      session.env.RAIOPS_HOME,
      `select t.id from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = '${rds}' and t.remote_tenant_id = ${remote}`,
    )[0].id

  beforeAll(async () => {
    home = createTestDir('raiops-tenant-show-')
    ;[main, far] = await Promise.all([
      createRaiFixture({
        engine: 'sqlite',
        master: true,
        tenants: 4,
        usersPerTenant: 4,
        tenantNames: ['Harbor Bakery', 'Harbor Bakery', 'Solo Café', 'Evil \u001b[2J\u202e Corp'],
      }),
      createRaiFixture({engine: 'mysql', tenants: 2, usersPerTenant: 3}),
    ])
    farProxy = await startFaultProxy({targetHost: far.host ?? '127.0.0.1', targetPort: far.port ?? 3306})
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'tenant-show-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const steps = [
      ['rds:add', '--name', 'main', '--engine', 'sqlite', '--file', main.database, '--master', '--app-url', 'https://eu.rai.example', '--no-test'],
      [
        'rds:add',
        '--name',
        'far',
        '--host',
        '127.0.0.1',
        '--port',
        String(farProxy.port),
        '--username',
        far.user ?? 'root',
        '--rai-database',
        far.database,
        '--no-test',
        '--no-input',
      ],
      ['sync:tenants'],
      ['tenant:impersonate', 'main:3', '--reason', 'customer cannot see the March invoices', '--ticket', 'SUP-77'],
    ]
    for (const args of steps) {
      const result = await cli(args)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
    }
    for (const role of ['read_only', 'support_admin', 'billing_admin']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
    // Tenant 3 is billed (billing commands come later: the rows are written directly).
    const db = control()
    const plan = db
      .prepare(
        `insert into subscription_plans (code, name, price_cents, currency, interval, is_active, created_at, updated_at) values ('pro', 'Pro', 4900, 'EUR', 'month', 1, ?, ?)`,
      )
      .run(Date.now(), Date.now())
    db.prepare(
      `insert into tenant_billing (tenant_master_id, plan_id, status, mrr_cents, currency, billing_email, created_at, updated_at) values (?, ?, 'active', 4900, 'EUR', 'invoices@solo-cafe.example', ?, ?)`,
    ).run(idOf('main', 3), plan.lastInsertRowid, Date.now(), Date.now())
    db.close()
  })

  afterAll(async () => {
    await farProxy?.close()
    await Promise.all([main?.drop(), far?.drop()])
    home?.drop()
  })

  it('shows every section for people, reading the RDS live (by name, accents and case aside)', async () => {
    const result = await cli(['tenant:show', 'solo café'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    let at = -1
    for (const section of SECTIONS) {
      const found = result.stdout.indexOf(section)
      expect(found, section).toBeGreaterThan(at)
      at = found
    }
    for (const signal of ['status', 'activeShare', 'users', 'locations', 'recency', 'rds', 'freshness'])
      expect(result.stdout).toMatch(new RegExp(`\\b${signal}\\b`))
    expect(result.stdout).toContain('every user is routed, every entry has its user')
    expect(result.stdout).toContain('Pro (pro)')
    expect(result.stdout).toContain('invoices@solo-cafe.example')
    expect(result.stdout).toContain('SUP-77')
    expect(result.stdout).not.toMatch(RAW_CONTROL)
  })

  it('a name from the fleet with terminal escapes is shown escaped', async () => {
    const result = await cli(['tenant:show', 'main:4'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).not.toMatch(RAW_CONTROL)
    expect(result.stdout).toContain('Evil \\u001b[2J\\u202e Corp')
  })

  it('--json: the whole result, the statements counted, the impersonation without its token', async () => {
    const shown = json(await cli(['tenant:show', 'main:3', '--json']))
    expect(shown.tenant).toMatchObject({remoteTenantId: 3, name: 'Solo Café', rds: {name: 'main', master: true}})
    expect(shown.live).toMatchObject({status: 'ok', queries: {rds: 5, master: 1}, users: {total: expect.any(Number)}, routing: {status: 'ok'}})
    expect(shown.billing).toMatchObject({status: 'active', plan: {code: 'pro', name: 'Pro'}, mrrCents: 4900, billingEmail: 'invoices@solo-cafe.example'})
    expect(shown.impersonations).toEqual([expect.objectContaining({ticket: 'SUP-77', reason: 'customer cannot see the March invoices', usedAt: null})])
    expect(Object.keys(shown.impersonations[0])).not.toContain('jti')
    const jti = queryControlDb<{jti: string}>(session.env.RAIOPS_HOME, 'select jti from impersonations')[0].jti
    // The link's id is in its audit entry (as audit:list shows it), not in the impersonations listed; the token is nowhere.
    expect(JSON.stringify(shown.impersonations)).not.toContain(jti)
    expect(shown.audit?.map((e) => e.action)).toContain('tenant.impersonate')
    expect(shown.health.source).toBe('live')
    expect(shown.partial).toBe(false)
  })

  it('a name two tenants share lists the candidates; an unknown tenant says what was looked for (exit 2)', async () => {
    const ambiguous = await cli(['tenant:show', 'Harbor Bakery'])
    expect(ambiguous.code).toBe(2)
    expect(ambiguous.stdout).toBe('')
    expect(ambiguous.stderr).toContain('2 tenants are named "Harbor Bakery"')
    expect(ambiguous.stderr).toContain(`main:1 (id ${idOf('main', 1)})`)
    expect(ambiguous.stderr).toContain(`main:2 (id ${idOf('main', 2)})`)
    for (const [ref, message] of [
      ['Nobody Inc', 'no tenant named "Nobody Inc"'],
      ['987654', 'no tenant with id 987654'],
      ['main:99', 'RDS "main" has no tenant 99'],
    ]) {
      const unknown = await cli(['tenant:show', ref])
      expect(unknown.code, ref).toBe(2)
      expect(unknown.stderr).toContain(message)
    }
    const badTimeout = await cli(['tenant:show', 'main:3', '--timeout', '0'])
    expect(badTimeout.code).toBe(2)
    expect(badTimeout.stderr).toContain('--timeout must be a number of seconds above 0')
  })

  it('masks emails without pii.view; leaves out audit without audit.view and billing without billing.view', async () => {
    const readOnly = json(await as('read_only', ['tenant:show', 'main:3', '--json']))
    const contact = readOnly.tenant.primaryContactEmail ?? ''
    expect(contact).toMatch(/^.\*\*\*@/)
    expect(readOnly.live?.tenant?.primaryContactEmail).toBe(contact)
    expect(readOnly.billing?.billingEmail).toBe('i***@solo-cafe.example')
    expect(readOnly.audit).not.toBeNull()
    const admin = json(await cli(['tenant:show', 'main:3', '--json']))
    expect(admin.tenant.primaryContactEmail).not.toBe(contact)
    expect(admin.tenant.primaryContactEmail?.endsWith(contact.slice(contact.indexOf('@')))).toBe(true)

    const support = await as('support_admin', ['tenant:show', 'main:3'])
    expect(support.code, support.stderr).toBe(0)
    expect(support.stdout).toContain('not shown: needs billing.view')
    expect(json(await as('support_admin', ['tenant:show', 'main:3', '--json']))).toMatchObject({billing: null, hidden: [{section: 'billing'}]})
    const billing = json(await as('billing_admin', ['tenant:show', 'main:3', '--json']))
    expect(billing).toMatchObject({audit: null, hidden: [{section: 'audit', permission: 'audit.view'}], billing: {plan: {code: 'pro'}}})
  })

  it("without pii.view, a user's email is masked in the tenant's audit entries too (the target and the command line of a user:suspend)", async () => {
    const user = new Database(main.database, {readonly: true})
      .prepare('select email from users where tenant_id = 2 and is_ghost = 0 order by id limit 1')
      .get() as {email: string}
    const suspended = await cli(['user:suspend', user.email, '--tenant', 'main:2', '--reason', 'access review: left the company', '--yes'])
    expect(suspended.code, suspended.stderr).toBe(0)
    const admin = json(await cli(['tenant:show', 'main:2', '--json']))
    expect(JSON.stringify(admin.audit)).toContain(user.email)
    const masked = `${user.email[0]}***@${user.email.slice(user.email.indexOf('@') + 1)}`
    for (const role of ['read_only', 'support_admin']) {
      const asJson = await as(role, ['tenant:show', 'main:2', '--json'])
      expect(asJson.code, asJson.stderr).toBe(0)
      expect(asJson.stdout).not.toContain(user.email)
      expect((JSON.parse(asJson.stdout) as TenantShow).audit?.map((e) => e.targetId)).toContain(masked)
      const text = await as(role, ['tenant:show', 'main:2', '--wide'])
      expect(text.stdout + text.stderr).not.toContain(user.email)
    }
    await cli(['user:reactivate', user.email, '--tenant', 'main:2', '--reason', 'access review: still with us', '--yes'])
  })

  it('its RDS refusing or silent: the cached data, the cause, exit 3; --no-live still exits 0', async () => {
    await farProxy.setMode('refuse')
    try {
      const refused = await cli(['tenant:show', 'far:1'])
      expect(refused.code).toBe(3)
      expect(refused.stdout).toContain('Registry')
      expect(refused.stdout).toMatch(/live data unavailable: far: connection refused/)
      expect(refused.stderr).toMatch(/^Warning: live data unavailable, showing the cached data: far: connection refused/)
      const asJson = json(await cli(['tenant:show', 'far:1', '--json']))
      expect(asJson).toMatchObject({partial: true, live: {status: 'unavailable'}, tenant: {remoteTenantId: 1, users: 3}})
      expect((asJson as TenantShow & {warnings?: string[]}).warnings?.[0]).toMatch(/connection refused/)

      const cached = await cli(['tenant:show', 'far:1', '--no-live'])
      expect(cached.code, cached.stderr).toBe(0)
      expect(cached.stdout).toContain('live data not read (--no-live)')
      expect(cached.stderr).toBe('')

      await farProxy.setMode('blackhole')
      const silent = await cli(['tenant:show', 'far:2', '--timeout', '1'])
      expect(silent.code).toBe(3)
      expect(silent.stdout).toMatch(/live data unavailable: far: .*timed out/)
    } finally {
      await farProxy.setMode('pass')
    }
    const back = await cli(['tenant:show', 'far:2', '--json'])
    expect(back.code, back.stderr).toBe(0)
    expect(json(back)).toMatchObject({partial: false, live: {status: 'ok', routing: {status: 'ok', entries: 0}}})
  })
})
