import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadSubscriptions} from '../../src/lib/alerts/outbox.js'
import {listSubscriptions, subscribe, unsubscribe, type SubscriptionView} from '../../src/lib/alerts/subscriptions.js'
import type {Principal} from '../../src/lib/auth/types.js'
import {insertReturningId, openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {seedAlertBasics} from '../support/alert-receivers.js'
import {TEST_AUDIT} from '../support/context.js'
import {createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {type CliSession, initialisedHome} from '../support/session.js'

const T0 = new Date('2026-12-02T10:00:00.000Z')

const operatorPrincipal = (id: number, email: string, permissions: string[]): Principal => ({
  kind: 'operator',
  id,
  email,
  name: email,
  role: 'custom',
  permissions,
  expiresAt: '2099-01-01T00:00:00.000Z',
})

describe('the subscription service', () => {
  let control: TestControlDb
  let db: Knex
  let oncall: {id: number; email: string}
  let viewer: {id: number; email: string}

  const ctx = (principal: Principal) => ({db, audit: TEST_AUDIT, now: () => T0, principal: async () => principal})
  const counts = async () => ({
    subscriptions: Number((await db('alert_subscriptions').count({n: '*'}))[0].n),
    audit: Number((await db('audit_logs').count({n: '*'}))[0].n),
  })

  beforeAll(async () => {
    control = await createControlDb('sqlite')
    db = control.db
    const basics = await seedAlertBasics(db, T0)
    oncall = {id: basics.operatorId, email: basics.email}
    const viewerId = await insertReturningId(db, 'operators', {
      name: 'Viewer',
      email: 'viewer@example.com',
      password_hash: 'x',
      role: 'read_only',
      is_active: true,
      created_at: T0,
      updated_at: T0,
    })
    viewer = {id: viewerId, email: 'viewer@example.com'}
  })
  afterAll(async () => control?.drop())

  it('an operator who may only view alerts subscribes themselves by email, and no one else, nowhere else', async () => {
    const self = operatorPrincipal(viewer.id, viewer.email, ['alerts.view'])
    const mine = await subscribe(ctx(self), {channel: 'email', severities: ['critical'], target: 'VIEWER@example.com'})
    expect(mine).toMatchObject({
      operator: viewer.email,
      channel: 'email',
      target: null,
      severities: ['critical'],
      rules: null,
      matchers: [],
      sendResolved: true,
    })
    const before = await counts()
    await expect(subscribe(ctx(self), {channel: 'email', operator: oncall.email})).rejects.toMatchObject({exitCode: 5})
    await expect(subscribe(ctx(self), {channel: 'email', target: 'elsewhere@example.com'})).rejects.toMatchObject({exitCode: 5})
    await expect(subscribe(ctx(self), {channel: 'webhook', target: 'https://hooks.example.com/x'})).rejects.toMatchObject({exitCode: 5})
    expect(await counts()).toEqual(before)
    // Their own, removed by themselves; someone else's they may not remove.
    const other = await subscribe(ctx(operatorPrincipal(oncall.id, oncall.email, ['alerts.view', 'alerts.manage-subscriptions'])), {channel: 'email'})
    await expect(unsubscribe(ctx(self), {id: other.id})).rejects.toMatchObject({exitCode: 5})
    expect((await unsubscribe(ctx(self), {id: mine.id})).id).toBe(mine.id)
  })

  it('refuses bad input with exit 2 and writes nothing', async () => {
    const admin = operatorPrincipal(oncall.id, oncall.email, ['alerts.view', 'alerts.manage-subscriptions'])
    const before = await counts()
    const bad: Array<[Parameters<typeof subscribe>[1], RegExp]> = [
      [{channel: 'webhook'}, /--target is required for a webhook/],
      [{channel: 'webhook', target: 'ftp://files.example.com/x'}, /--target must be an http:\/\/ or https:\/\/ URL/],
      [{channel: 'webhook', target: 'not a url'}, /--target must be an http:\/\/ or https:\/\/ URL/],
      [{channel: 'email', target: 'not-an-email'}, /--target must be an email address/],
      [{channel: 'email', severities: ['critical,fatal']}, /--severity must be one of critical, warning, info, not "fatal"/],
      [{channel: 'email', rules: ['rds-down', 'no-such-rule']}, /no alert rule named "no-such-rule"/],
      [{channel: 'email', matchers: ['rds~eu-2']}, /--matcher must be name=value/],
      [{channel: 'email', matchers: ['rds=~(']}, /invalid regular expression/],
      [{channel: 'email', operator: 'nobody@example.com'}, /no operator "nobody@example.com"/],
    ]
    for (const [input, message] of bad) await expect(subscribe(ctx(admin), input), JSON.stringify(input)).rejects.toMatchObject({exitCode: 2, message})
    // A token or raiops itself is no operator: it names one.
    const token: Principal = {
      kind: 'token',
      id: 1,
      name: 'cron',
      role: 'system_admin',
      permissions: ['alerts.view', 'alerts.manage-subscriptions'],
      expiresAt: null,
    }
    await expect(subscribe(ctx(token), {channel: 'email'})).rejects.toMatchObject({exitCode: 2, message: /--operator is required/})
    expect(await counts()).toEqual(before)
  })

  it('writes the subscription and its audit entry together, a webhook URL masked in both', async () => {
    const admin = operatorPrincipal(oncall.id, oncall.email, ['alerts.view', 'alerts.manage-subscriptions'])
    const view = await subscribe(ctx(admin), {
      channel: 'webhook',
      target: 'https://hook:url-pass-1@hooks.example.com/in?token=query-tok-2',
      rules: ['rds-down'],
      matchers: ['rds=eu-2', 'tenant=~"Acme.*"'],
      sendResolved: false,
      operator: viewer.email,
    })
    expect(view).toMatchObject({
      operator: viewer.email,
      target: 'https://***@hooks.example.com/in?***',
      rules: ['rds-down'],
      matchers: ['rds=eu-2', 'tenant=~Acme.*'],
      sendResolved: false,
    })
    const entry = (await db('audit_logs')
      .where({action: 'alerts.subscribe', target_id: String(view.id)})
      .first())!
    expect(entry.new_values).toContain('https://***@hooks.example.com/in?***')
    expect(JSON.stringify(entry)).not.toMatch(/url-pass-1|query-tok-2/)
    // Stored whole: it is where the messages go.
    expect((await db('alert_subscriptions').where({id: view.id}).first())!.target).toBe('https://hook:url-pass-1@hooks.example.com/in?token=query-tok-2')
  })

  it('the engine loads the enabled subscriptions of active operators, targets resolved, matchers parsed', async () => {
    await db('alert_subscriptions').delete()
    const admin = operatorPrincipal(oncall.id, oncall.email, ['alerts.view', 'alerts.manage-subscriptions'])
    const email = await subscribe(ctx(admin), {channel: 'email', severities: ['critical', 'warning'], matchers: ['rds!=eu-9']})
    const hook = await subscribe(ctx(admin), {channel: 'webhook', target: 'http://127.0.0.1:9/in', rules: ['rds-down'], sendResolved: false})
    const disabled = await subscribe(ctx(admin), {channel: 'email', target: 'other@example.com'})
    await db('alert_subscriptions').where({id: disabled.id}).update({enabled: false})
    const ofViewer = await subscribe(ctx(admin), {channel: 'email', operator: viewer.email})
    await db('operators').where({id: viewer.id}).update({is_active: false})
    try {
      const active = await loadSubscriptions(db)
      expect(active).toEqual([
        {
          id: email.id,
          channel: 'email',
          target: oncall.email,
          severities: new Set(['critical', 'warning']),
          rules: null,
          matchers: [{name: 'rds', op: '!=', value: 'eu-9', text: 'rds!=eu-9'}],
          sendResolved: true,
        },
        {
          id: hook.id,
          channel: 'webhook',
          target: 'http://127.0.0.1:9/in',
          severities: null,
          rules: new Set(['rds-down']),
          matchers: [],
          sendResolved: false,
        },
      ])
      expect(active.map((s) => s.id)).not.toContain(ofViewer.id)
    } finally {
      await db('operators').where({id: viewer.id}).update({is_active: true})
    }
    expect((await listSubscriptions({db}, {operator: viewer.email})).map((s) => s.id)).toEqual([ofViewer.id])
  })
})

describe('alerts:subscribe, alerts:subscriptions, alerts:unsubscribe', () => {
  let dir: TestDir
  let session: CliSession
  let db: Knex
  let readOnlyToken = ''

  const count = async () => Number((await db('alert_subscriptions').count({n: '*'}))[0].n)

  beforeAll(async () => {
    dir = createTestDir('raiops-alert-subs-')
    const home = join(dir.path, 'raiops')
    session = await initialisedHome({home, password: 'alerts-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const created = await session.run(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    readOnlyToken = (JSON.parse(created.stdout) as {token: string}).token
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(home, 'raiops.sqlite')}`, home))
    // `raiops init` seeded the default rules, rds-down among them.
    expect(await db('alert_rules').where({name: 'rds-down'}).first('kind')).toEqual({kind: 'rds_down'})
  })
  afterAll(async () => {
    await db?.destroy()
    dir?.drop()
  })

  it('subscribes the signed-in operator by email, with filters, and lists it', async () => {
    const made = await session.run([
      'alerts:subscribe',
      '--channel',
      'email',
      '--severity',
      'critical,warning',
      '--rule',
      'rds-down',
      '--matcher',
      'rds=eu-2',
      '--json',
    ])
    expect(made.code, made.stderr).toBe(0)
    const view = JSON.parse(made.stdout) as SubscriptionView
    expect(view).toMatchObject({
      operator: 'ops@example.com',
      channel: 'email',
      target: null,
      severities: ['critical', 'warning'],
      rules: ['rds-down'],
      matchers: ['rds=eu-2'],
    })
    const human = await session.run(['alerts:subscribe', '--channel', 'email', '--no-resolved'])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/^subscription \d+ created: ops@example\.com, email to ops@example\.com \(severity any; rules any; not resolved\)\n$/)
    const listed = await session.run(['alerts:subscriptions', '--json'])
    expect((JSON.parse(listed.stdout) as SubscriptionView[]).map((s) => s.id)).toContain(view.id)
    const table = await session.run(['alerts:subscriptions', '--wide'])
    expect(table.stdout).toMatch(/id\W+operator\W+channel\W+target/)
    expect(table.stdout).toContain('(their email)')
    expect((await db('audit_logs').where({action: 'alerts.subscribe'}).count({n: '*'}))[0].n).toBe(2)
  })

  it('a webhook with credentials in its URL: never shown, logged or audited whole', async () => {
    const target = 'http://hook:url-pass-77@127.0.0.1:9/api/webhooks/rai/audit?token=query-tok-88'
    const made = await session.run(['alerts:subscribe', '--channel', 'webhook', '--target', target, '--json'])
    expect(made.code, made.stderr).toBe(0)
    expect((JSON.parse(made.stdout) as SubscriptionView).target).toBe('http://***@127.0.0.1:9/api/webhooks/rai/audit?***')
    await session.run(['alerts:subscriptions'])
    await session.run(['alerts:subscriptions', '--format', 'csv'])
    const audit = await session.run(['audit:list', '--action', 'alerts.subscribe', '--json'])
    expect(audit.code, audit.stderr).toBe(0)
    session.expectNoSecretInTranscript('url-pass-77', 'query-tok-88')
    const rows = JSON.stringify(await db('audit_logs').select())
    expect(rows).not.toContain('url-pass-77')
    expect(rows).not.toContain('query-tok-88')
  })

  it('bad input: one line, exit 2, nothing written', async () => {
    const before = await count()
    for (const args of [
      ['--channel', 'webhook'],
      ['--channel', 'webhook', '--target', 'mailto:x@example.com'],
      ['--channel', 'email', '--target', 'not-an-email'],
      ['--channel', 'email', '--rule', 'no-such-rule'],
      ['--channel', 'email', '--matcher', 'rds'],
      ['--channel', 'email', '--severity', 'urgent'],
      ['--channel', 'sms'],
    ]) {
      const result = await session.run(['alerts:subscribe', ...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
    }
    expect(await count()).toBe(before)
  })

  it('a token names the operator, and a read-only one may subscribe no one', async () => {
    const before = await count()
    const noOperator = await session.run(['alerts:subscribe', '--channel', 'email'], {env: {RAIOPS_TOKEN: readOnlyToken}})
    expect(noOperator.code).toBe(2)
    expect(noOperator.stderr).toContain('--operator is required')
    const refused = await session.run(['alerts:subscribe', '--channel', 'email', '--operator', 'ops@example.com'], {env: {RAIOPS_TOKEN: readOnlyToken}})
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('alerts.manage-subscriptions')
    expect(await count()).toBe(before)
    const listed = await session.run(['alerts:subscriptions', '--json'], {env: {RAIOPS_TOKEN: readOnlyToken}})
    expect(listed.code, listed.stderr).toBe(0)
  })

  it('alerts:unsubscribe removes one, audited; an unknown or malformed id is exit 2', async () => {
    const [first] = (await db('alert_subscriptions').orderBy('id').select('id')) as Array<{id: number}>
    const removed = await session.run(['alerts:unsubscribe', String(first.id)])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout).toMatch(new RegExp(`^subscription ${first.id} removed: `))
    expect(await db('alert_subscriptions').where({id: first.id}).first()).toBeUndefined()
    expect((await db('audit_logs').where({action: 'alerts.unsubscribe'}).count({n: '*'}))[0].n).toBe(1)
    expect((await session.run(['alerts:unsubscribe', String(first.id)])).code).toBe(2)
    expect((await session.run(['alerts:unsubscribe', 'abc'])).code).toBe(2)
  })
})
