import {spawn, type ChildProcess} from 'node:child_process'
import {createServer as createNetServer, type AddressInfo} from 'node:net'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {webhookBody} from '../../src/lib/alerts/channels/webhook.js'
import {deliverPending, retryDelayMs, RETRY_MAX_MS, type DeliveryOptions} from '../../src/lib/alerts/delivery.js'
import type {NotificationPayload} from '../../src/lib/alerts/types.js'
import type {AlertSettings} from '../../src/lib/config/index.js'
import {insertReturningId} from '../../src/lib/db/control-db.js'
import {toIso} from '../../src/lib/db/values.js'
import {raiEventSchema} from '../../src/lib/webhook/events.js'
import {startWebhookServer, WEBHOOK_PATH} from '../../src/lib/webhook/server.js'
import {closedPort, firingPayload, HookReceiver, mailBody, mailHeader, MailReceiver, seedAlertBasics} from '../support/alert-receivers.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const SECRET = 'alert-webhook-secret-0123456789'
const SMTP_PASS = 'smtp-pass-s3cr3t-value'
const T0 = new Date('2026-12-02T10:00:00.000Z')
const later = (ms: number) => new Date(T0.getTime() + ms)

function settings(overrides: Partial<AlertSettings> = {}): AlertSettings {
  return {
    smtpUrl: null,
    emailFrom: 'raiops <alerts@example.com>',
    webhookSecret: SECRET,
    sendTimeoutMs: 5000,
    repeatIntervalMs: 4 * 3_600_000,
    hang: null,
    ...overrides,
  }
}

interface Outbox {
  db: TestControlDb['db']
  operatorId: number
  ruleId: number
  email: string
}

let keys = 0
/** A subscription and one pending outbox row for it; the row's id and key. */
async function queue(
  box: Outbox,
  channel: 'email' | 'webhook',
  target: string,
  options: {payload?: (key: string) => NotificationPayload; subscription?: number | null} = {},
): Promise<{id: number; key: string; subscription: number}> {
  const key = `firing:${box.ruleId}:${++keys}:${'ab'.repeat(32)}`
  const subscription =
    options.subscription ??
    (await insertReturningId(box.db, 'alert_subscriptions', {
      operator_id: box.operatorId,
      channel,
      target,
      send_resolved: true,
      enabled: true,
      created_by: 'test',
      created_at: T0,
      updated_at: T0,
    }))
  const id = await insertReturningId(box.db, 'alert_notifications', {
    key,
    subscription_id: subscription,
    channel,
    target,
    rule_id: box.ruleId,
    kind: 'firing',
    payload: JSON.stringify((options.payload ?? ((k) => firingPayload(k, T0, 2)))(key)),
    state: 'pending',
    attempts: 0,
    created_at: T0,
    next_attempt_at: T0,
  })
  return {id, key, subscription}
}

async function row(box: Outbox, id: number) {
  const r = (await box.db('alert_notifications').where({id}).first())!
  return {state: r.state, attempts: Number(r.attempts), lastError: r.last_error, nextAttemptAt: toIso(r.next_attempt_at), sentAt: toIso(r.sent_at)}
}

const deliver = (box: Outbox, options: DeliveryOptions, alerts: AlertSettings = settings()) =>
  deliverPending({db: box.db, now: () => options.now, alerts}, options)

describe.each(CONTROL_ENGINES)('alert delivery on a %s control database', (engine) => {
  let control: TestControlDb
  let box: Outbox
  let hooks: HookReceiver

  beforeAll(async () => {
    control = await createControlDb(engine)
    box = {db: control.db, ...(await seedAlertBasics(control.db, T0))}
    hooks = await new HookReceiver(SECRET).start()
  })
  afterAll(async () => {
    await hooks?.close()
    await control?.drop()
  })

  it('sends a due message once, signed, and records it; a second pass sends nothing', async () => {
    const {id, key} = await queue(box, 'webhook', `${hooks.url}/hook`)
    const first = await deliver(box, {now: T0})
    expect(first).toEqual({sent: 1, failed: 0, dropped: 0, deferred: 0, errors: []})
    expect(await row(box, id)).toMatchObject({state: 'sent', attempts: 1, lastError: null, sentAt: T0.toISOString()})
    const second = await deliver(box, {now: later(60_000)})
    expect(second.sent).toBe(0)
    const got = hooks.received.filter((r) => r.idempotencyKey === key)
    expect(got).toHaveLength(1)
    expect(got[0].signatureOk).toBe(true)
  })

  it('drops a message whose subscription was disabled or deleted, and sends nothing for it', async () => {
    const disabled = await queue(box, 'webhook', `${hooks.url}/disabled`)
    await box.db('alert_subscriptions').where({id: disabled.subscription}).update({enabled: false})
    const deleted = await queue(box, 'webhook', `${hooks.url}/deleted`)
    await box.db('alert_subscriptions').where({id: deleted.subscription}).delete()
    const report = await deliver(box, {now: T0})
    expect(report).toMatchObject({sent: 0, dropped: 2})
    expect(await row(box, disabled.id)).toMatchObject({state: 'dropped', lastError: 'its subscription is gone or disabled'})
    expect(await row(box, deleted.id)).toMatchObject({state: 'dropped', lastError: 'its subscription is gone or disabled'})
    expect(hooks.received.filter((r) => r.url === '/disabled' || r.url === '/deleted')).toHaveLength(0)
  })

  it('drops a message of an unknown channel, or with an unreadable payload, each saying why', async () => {
    const unknown = await queue(box, 'webhook', `${hooks.url}/unknown`)
    await box
      .db('alert_notifications')
      .where({id: unknown.id})
      .update({channel: 'pager' as 'email'})
    const unreadable = await queue(box, 'webhook', `${hooks.url}/unreadable`)
    await box.db('alert_notifications').where({id: unreadable.id}).update({payload: '{"title": '})
    const report = await deliver(box, {now: T0})
    expect(report).toMatchObject({sent: 0, dropped: 2})
    expect(await row(box, unknown.id)).toMatchObject({state: 'dropped', lastError: 'unknown channel "pager"'})
    expect(await row(box, unreadable.id)).toMatchObject({state: 'dropped', lastError: 'its payload is not readable JSON'})
    expect(hooks.received.filter((r) => r.url === '/unknown' || r.url === '/unreadable')).toHaveLength(0)
  })

  it('a target receives its messages in the order they were written, an older one waiting out its backoff first', async () => {
    const port = await closedPort()
    const target = `http://127.0.0.1:${port}/ordered`
    // The alert fires while the receiver is down: the message fails, and after hours of failures its next attempt is an hour away.
    const firing = await queue(box, 'webhook', target)
    expect(await deliver(box, {now: T0})).toMatchObject({sent: 0, failed: 1})
    await box
      .db('alert_notifications')
      .where({id: firing.id})
      .update({next_attempt_at: later(3_600_000)})
    // It resolves; its message is due at once.
    const resolved = await queue(box, 'webhook', target, {subscription: firing.subscription})
    await box
      .db('alert_notifications')
      .where({id: resolved.id})
      .update({next_attempt_at: later(600_000)})
    const back = new HookReceiver(SECRET)
    await back.startOn(port)
    try {
      expect(await deliver(box, {now: later(600_000)})).toMatchObject({sent: 2, failed: 0})
      expect(back.received.map((r) => r.idempotencyKey)).toEqual([firing.key, resolved.key])
      expect(await row(box, firing.id)).toMatchObject({state: 'sent', attempts: 2})
      expect(await row(box, resolved.id)).toMatchObject({state: 'sent', attempts: 1})
    } finally {
      await back.close()
    }
  })
})

describe('the webhook channel', () => {
  let control: TestControlDb
  let box: Outbox
  let hooks: HookReceiver

  beforeAll(async () => {
    control = await createControlDb('sqlite')
    box = {db: control.db, ...(await seedAlertBasics(control.db, T0))}
  })
  beforeEach(async () => {
    hooks = await new HookReceiver(SECRET).start()
    await box.db('alert_notifications').delete()
  })
  afterEach(async () => hooks?.close())
  afterAll(async () => control?.drop())

  it('posts a RAI audit event audit:serve accepts: id the key, the payload as new_values, Idempotency-Key, a valid signature', async () => {
    const {key} = await queue(box, 'webhook', `${hooks.url}/hook`)
    await deliver(box, {now: T0})
    const [got] = hooks.received
    expect(got.signatureOk).toBe(true)
    expect(got.idempotencyKey).toBe(key)
    const event = raiEventSchema.parse(JSON.parse(got.body))
    expect(event).toMatchObject({
      id: key,
      occurred_at: T0.toISOString(),
      actor: {type: 'raiops', id: 'alerts'},
      action: 'alert.firing',
      target: {type: 'alert_rule', id: 'rds-down'},
    })
    expect(event.new_values).toEqual(firingPayload(key, T0, 2))
  })

  it('cuts a message about very many alerts to what fits, with the counts', () => {
    const payload = firingPayload('k', T0, 2000)
    const body = webhookBody(payload)
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(60_000)
    const event = raiEventSchema.parse(JSON.parse(body))
    const values = event.new_values as {alerts: unknown[]; alertsTotal: number; alertsOmitted: number}
    expect(values.alertsTotal).toBe(2000)
    expect(values.alerts.length + values.alertsOmitted).toBe(2000)
    expect(values.alerts.length).toBeGreaterThan(10)
  })

  it('a receiver down (connection refused): the message stays pending with its error and a backoff; the next pass after it sends it', async () => {
    const port = await closedPort()
    const {id} = await queue(box, 'webhook', `http://127.0.0.1:${port}/hook`)
    const report = await deliver(box, {now: T0})
    expect(report).toMatchObject({sent: 0, failed: 1})
    expect(report.errors[0]).toMatch(/^webhook to http:\/\/127\.0\.0\.1:\d+\/hook: connection refused$/)
    const failed = await row(box, id)
    expect(failed).toMatchObject({state: 'pending', attempts: 1, lastError: 'connection refused', sentAt: null})
    expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThan(T0.getTime())
    // Not due yet: the same instant tries nothing.
    expect((await deliver(box, {now: T0})).failed).toBe(0)
    // The receiver is back on that port; the next run (an hour later) sends it.
    const back = new HookReceiver(SECRET)
    await back.startOn(port)
    try {
      expect(await deliver(box, {now: later(3_600_000)})).toMatchObject({sent: 1, failed: 0})
      expect(await row(box, id)).toMatchObject({state: 'sent', attempts: 2})
      expect(back.received).toHaveLength(1)
    } finally {
      await back.close()
    }
  })

  it('a receiver answering 500: pending with "HTTP 500", then sent once it answers 200', async () => {
    hooks.mode = 'fail'
    const {id, key} = await queue(box, 'webhook', `${hooks.url}/hook`)
    expect(await deliver(box, {now: T0})).toMatchObject({sent: 0, failed: 1})
    expect(await row(box, id)).toMatchObject({state: 'pending', attempts: 1, lastError: 'the receiver answered HTTP 500 Internal Server Error'})
    hooks.mode = 'ok'
    expect(await deliver(box, {now: later(3_600_000)})).toMatchObject({sent: 1})
    expect(await row(box, id)).toMatchObject({state: 'sent', attempts: 2})
    expect(hooks.received.map((r) => r.idempotencyKey)).toEqual([key, key])
  })

  it('a receiver that never answers costs its timeout and holds up no other target', async () => {
    const slow = await new HookReceiver(SECRET).start()
    slow.mode = 'hang'
    try {
      const stuck = await queue(box, 'webhook', `${slow.url}/slow`)
      const stuckToo = await queue(box, 'webhook', `${slow.url}/slow`)
      const fine = await queue(box, 'webhook', `${hooks.url}/fine`)
      const report = await deliver(box, {now: T0, timeoutMs: 300})
      expect(report).toMatchObject({sent: 1, failed: 2})
      expect(await row(box, fine.id)).toMatchObject({state: 'sent'})
      expect(await row(box, stuck.id)).toMatchObject({state: 'pending', attempts: 1, lastError: 'no answer within 300 ms'})
      // The slow target's second message waits for the next pass, untried.
      expect(await row(box, stuckToo.id)).toMatchObject({state: 'pending', attempts: 0})
      expect(slow.received).toHaveLength(1)
    } finally {
      await slow.close()
    }
  })

  it('a receiver that answers each message just within the timeout holds a pass at most DELIVERY_PASS_TIMEOUTS timeouts: the rest is deferred, untouched', async () => {
    const slow = await new HookReceiver(SECRET).start()
    slow.delayMs = 300
    try {
      // 20 answers of 300 ms each take longer than the pass's 6 × 800 ms.
      const ids: number[] = []
      for (let i = 0; i < 20; i++) ids.push((await queue(box, 'webhook', `${slow.url}/unhurried`)).id)
      const report = await deliver(box, {now: T0, timeoutMs: 800})
      const rows = await Promise.all(ids.map((id) => row(box, id)))
      const sent = rows.filter((r) => r.state === 'sent')
      const left = rows.filter((r) => r.state === 'pending')
      expect(sent.length).toBeGreaterThan(0)
      expect(left.length).toBeGreaterThan(0)
      expect(sent.length + left.length).toBe(20)
      // Sent in order; the rest were never tried.
      expect(rows.slice(0, sent.length).every((r) => r.state === 'sent')).toBe(true)
      expect(left.every((r) => r.attempts === 0 && r.lastError === null)).toBe(true)
      expect(report.deferred).toBe(left.length)
      expect(slow.received.filter((r) => r.url === '/unhurried')).toHaveLength(sent.length)
      // The next pass sends what was deferred (or defers it again).
      const next = await deliver(box, {now: later(60_000), timeoutMs: 800})
      expect(next.sent + next.deferred).toBeGreaterThanOrEqual(left.length)
    } finally {
      await slow.close()
    }
  })

  it('never puts a credential of the URL, the query or the secret in last_error, the report or the request line', async () => {
    hooks.mode = 'fail'
    const target = `http://hookuser:url-pass-9876@127.0.0.1:${new URL(hooks.url).port}/hook?token=query-token-4321`
    const {id} = await queue(box, 'webhook', target)
    const report = await deliver(box, {now: T0})
    const stored = await row(box, id)
    const text = JSON.stringify({report, stored})
    for (const secret of ['url-pass-9876', 'query-token-4321', SECRET]) expect(text).not.toContain(secret)
    expect(report.errors[0]).toContain('http://***@127.0.0.1:')
    expect(report.errors[0]).toContain('/hook?***')
    // The receiver gets the URL's user and password as basic auth.
    expect(hooks.received[0].authorization).toBe(`Basic ${Buffer.from('hookuser:url-pass-9876').toString('base64')}`)
  })

  it('without RAIOPS_ALERT_WEBHOOK_SECRET the message is not sent and says what to set', async () => {
    const {id} = await queue(box, 'webhook', `${hooks.url}/hook`)
    await deliver(box, {now: T0}, settings({webhookSecret: null}))
    expect((await row(box, id)).lastError).toMatch(/RAIOPS_ALERT_WEBHOOK_SECRET is not set/)
    expect(hooks.received).toHaveLength(0)
  })

  it('backs off exponentially with jitter, from a minute to at most an hour', () => {
    expect(retryDelayMs(1, () => 0)).toBe(60_000)
    expect(retryDelayMs(2, () => 0)).toBe(120_000)
    expect(retryDelayMs(1, () => 1)).toBe(48_000)
    expect(retryDelayMs(50, () => 0)).toBe(RETRY_MAX_MS)
  })
})

describe('the email channel, through a real SMTP server', () => {
  let control: TestControlDb
  let box: Outbox
  let smtp: MailReceiver

  beforeAll(async () => {
    control = await createControlDb('sqlite')
    box = {db: control.db, ...(await seedAlertBasics(control.db, T0))}
    smtp = await new MailReceiver('raiops', SMTP_PASS).start()
  })
  afterAll(async () => {
    await smtp?.close()
    await control?.drop()
  })

  it('sends the title as subject, a Message-ID from the key, the key in a header and each alert in the body; once', async () => {
    const {id, key} = await queue(box, 'email', 'oncall@example.com')
    const report = await deliver(box, {now: T0}, settings({smtpUrl: smtp.url()}))
    expect(report).toEqual({sent: 1, failed: 0, dropped: 0, deferred: 0, errors: []})
    expect(await row(box, id)).toMatchObject({state: 'sent', attempts: 1})
    expect(await deliver(box, {now: later(60_000)}, settings({smtpUrl: smtp.url()}))).toMatchObject({sent: 0})
    expect(smtp.received).toHaveLength(1)
    const [mail] = smtp.received
    expect(mail.to).toEqual(['oncall@example.com'])
    expect(mail.from).toBe('alerts@example.com')
    expect(mailHeader(mail.raw, 'Subject')).toBe('[FIRING:2] rds-down (critical)')
    expect(mailHeader(mail.raw, 'X-Raiops-Idempotency-Key')).toBe(key)
    expect(mailHeader(mail.raw, 'Message-ID')).toMatch(/^<[0-9a-f]{64}@raiops>$/)
    const body = mailBody(mail.raw)
    expect(body).toContain('2 alerts firing:')
    expect(body).toContain('- alertname=rds-down,rds=eu-1,severity=critical\n  state: firing, since 2026-12-02T10:00:00.000Z')
    expect(body).toContain('- alertname=rds-down,rds=eu-2,severity=critical')
    expect(body).toContain('summary: eu-2 has not answered its health probe')
    expect(body).toContain(`Idempotency key: ${key}`)
  })

  it('lists resolved alerts with when they resolved', async () => {
    const resolved = (key: string): NotificationPayload => {
      const firing = firingPayload(key, T0, 1)
      return {
        ...firing,
        kind: 'resolved',
        title: '[RESOLVED:1] rds-down (critical)',
        alerts: firing.alerts.map((a) => ({...a, state: 'resolved' as const, resolvedAt: later(600_000).toISOString()})),
      }
    }
    await queue(box, 'email', 'oncall@example.com', {payload: resolved})
    smtp.received.length = 0
    await deliver(box, {now: T0}, settings({smtpUrl: smtp.url()}))
    const [mail] = smtp.received
    expect(mailHeader(mail.raw, 'Subject')).toBe('[RESOLVED:1] rds-down (critical)')
    expect(mailBody(mail.raw)).toContain(
      `1 alert resolved:\n\n- alertname=rds-down,rds=eu-1,severity=critical\n  state: resolved, resolved at ${later(600_000).toISOString()}`,
    )
  })

  it('a wrong SMTP password, or the server down: pending with one line and no password in it', async () => {
    const wrong = await queue(box, 'email', 'oncall@example.com')
    const report = await deliver(box, {now: T0}, settings({smtpUrl: smtp.url('wrong-pass-5555')}))
    expect(report.failed).toBe(1)
    const stored = await row(box, wrong.id)
    expect(stored).toMatchObject({state: 'pending', attempts: 1})
    expect(stored.lastError).toMatch(/^smtp:\/\/127\.0\.0\.1:\d+: /)
    const port = await closedPort()
    const down = await deliver(box, {now: later(3_600_000)}, settings({smtpUrl: `smtp://raiops:${SMTP_PASS}@127.0.0.1:${port}`}))
    expect(down.failed).toBe(1)
    expect((await row(box, wrong.id)).lastError).toMatch(/ECONNREFUSED|refused/i)
    for (const text of [JSON.stringify(report), JSON.stringify(down), JSON.stringify(await row(box, wrong.id))]) {
      expect(text).not.toContain('wrong-pass-5555')
      expect(text).not.toContain(SMTP_PASS)
    }
    // Back with the right password: sent.
    expect(await deliver(box, {now: later(7_200_000)}, settings({smtpUrl: smtp.url()}))).toMatchObject({sent: 1})
  })

  it('an SMTP server that accepts the connection and never greets costs the timeout; the message stays pending', async () => {
    const silent = createNetServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const {id} = await queue(box, 'email', 'oncall@example.com')
      const url = `smtp://raiops:${SMTP_PASS}@127.0.0.1:${(silent.address() as AddressInfo).port}`
      const report = await deliver(box, {now: later(9_000_000), timeoutMs: 300}, settings({smtpUrl: url}))
      expect(report).toMatchObject({sent: 0, failed: 1})
      const stored = await row(box, id)
      expect(stored).toMatchObject({state: 'pending', attempts: 1})
      expect(stored.lastError).toMatch(/300 ms|timeout|greeting/i)
      expect(JSON.stringify({report, stored})).not.toContain(SMTP_PASS)
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})

describe("raiops as its own receiver: audit:serve's endpoint", () => {
  let control: TestControlDb
  let box: Outbox

  beforeAll(async () => {
    control = await createControlDb('sqlite')
    box = {db: control.db, ...(await seedAlertBasics(control.db, T0))}
  })
  afterAll(async () => control?.drop())

  it('stores the notification once as an audit entry, even when it is delivered twice with the same key', async () => {
    const server = await startWebhookServer({db: control.db, now: () => new Date()}, {secrets: [SECRET], toleranceS: 300, host: '127.0.0.1', port: 0})
    try {
      const {id, key} = await queue(box, 'webhook', `${server.url}${WEBHOOK_PATH}`)
      expect(await deliver(box, {now: T0})).toMatchObject({sent: 1, failed: 0})
      // As after a crash between sending and recording: the row is pending again and goes out again.
      await box.db('alert_notifications').where({id}).update({state: 'pending', sent_at: null})
      expect(await deliver(box, {now: later(60_000)})).toMatchObject({sent: 1, failed: 0})
      const entries = await control.db('audit_logs').where({action: 'alert.firing'}).select('actor', 'target_type', 'target_id', 'new_values')
      expect(entries).toHaveLength(1)
      expect(entries[0]).toMatchObject({actor: 'raiops:alerts', target_type: 'alert_rule', target_id: 'rds-down'})
      expect(JSON.parse(entries[0].new_values as string)).toMatchObject({kind: 'firing', title: '[FIRING:2] rds-down (critical)'})
      expect(await control.db('webhook_events').where({event_id: key}).count({n: '*'})).toEqual([{n: 1}])
    } finally {
      await server.close(2000)
    }
  })
})

/** deliverPending in a child process, its settings from the environment as a command has them. */
const DELIVER_SCRIPT = `
const {openControlDb, parseDatabaseUrl} = await import(process.env.ALERTS_TEST_CONTROL_DB_MODULE)
const {loadConfig} = await import(process.env.ALERTS_TEST_CONFIG_MODULE)
const {deliverPending} = await import(process.env.ALERTS_TEST_DELIVERY_MODULE)
const config = loadConfig(process.env)
const db = await openControlDb(parseDatabaseUrl(process.env.RAIOPS_DATABASE_URL, '/nonexistent'))
const now = new Date(process.env.ALERTS_TEST_NOW)
const report = await deliverPending({db, now: () => now, alerts: config.alerts}, {now})
process.stdout.write(JSON.stringify(report))
await db.destroy()
`
const moduleUrl = (path: string) => new URL(`../../${path}`, import.meta.url).href

describe('kill -9 between sending and recording', () => {
  let control: TestControlDb
  let box: Outbox
  let hooks: HookReceiver
  let child: ChildProcess | undefined

  beforeAll(async () => {
    control = await createControlDb('sqlite')
    box = {db: control.db, ...(await seedAlertBasics(control.db, T0))}
    hooks = await new HookReceiver(SECRET).start()
  })
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await hooks?.close()
    await control?.drop()
  })

  it('the next pass sends the message again with the same Idempotency-Key, once, and records it', async () => {
    const {id, key} = await queue(box, 'webhook', `${hooks.url}/hook`)
    child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', DELIVER_SCRIPT], {
      cwd: root,
      env: {
        ...process.env,
        RAIOPS_DATABASE_URL: control.url,
        RAIOPS_ALERT_WEBHOOK_SECRET: SECRET,
        RAIOPS_ALERT_HANG: 'after-send',
        ALERTS_TEST_NOW: T0.toISOString(),
        ALERTS_TEST_CONTROL_DB_MODULE: moduleUrl('src/lib/db/control-db.ts'),
        ALERTS_TEST_CONFIG_MODULE: moduleUrl('src/lib/config/index.ts'),
        ALERTS_TEST_DELIVERY_MODULE: moduleUrl('src/lib/alerts/delivery.ts'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child!.on('exit', (_code, signal) => resolve(signal)))
    while (!(stderr.includes('hanging at after-send') && hooks.received.length === 1)) {
      if (child.exitCode !== null) throw new Error(`the delivery process exited ${child.exitCode}: ${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    // Sent, not recorded.
    expect(await row(box, id)).toMatchObject({state: 'pending', attempts: 0, sentAt: null})

    expect(await deliver(box, {now: later(300_000)})).toMatchObject({sent: 1, failed: 0})
    expect(await row(box, id)).toMatchObject({state: 'sent', attempts: 1})
    expect(await deliver(box, {now: later(600_000)})).toMatchObject({sent: 0})
    expect(hooks.received.map((r) => r.idempotencyKey)).toEqual([key, key])
    expect(hooks.received.every((r) => r.signatureOk)).toBe(true)
    expect(hooks.received[0].body).toBe(hooks.received[1].body)
  })
})
