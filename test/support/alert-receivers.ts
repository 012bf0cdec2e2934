import type {Knex} from 'knex'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {SMTPServer} from 'smtp-server'

import type {NotificationPayload} from '../../src/lib/alerts/types.js'
import {seedRoles} from '../../src/lib/auth/seed.js'
import {insertReturningId} from '../../src/lib/db/control-db.js'
import {checkSignature} from '../../src/lib/webhook/signature.js'

/** What a webhook receiver got: the raw body, whether its signature held, its idempotency key. */
export interface ReceivedHook {
  body: string
  signatureOk: boolean
  idempotencyKey: string | undefined
  authorization: string | undefined
  url: string
}

/**
 * A real HTTP receiver on loopback that checks every request's signature with
 * `secret`. `mode` decides its answer: 200, 500, or `hang` (reads the request,
 * never answers).
 */
export class HookReceiver {
  readonly received: ReceivedHook[] = []
  mode: 'ok' | 'fail' | 'hang' = 'ok'
  /** How long it waits before it answers. */
  delayMs = 0
  private server!: Server
  url = ''

  constructor(private readonly secret: string) {}

  /** Listens on `port` (0: any free one). */
  async startOn(port: number): Promise<this> {
    this.server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        const body = Buffer.concat(chunks)
        const signature = checkSignature(request.headers['x-raiops-signature'] as string | undefined, body, [this.secret], 300)
        this.received.push({
          body: body.toString('utf8'),
          signatureOk: signature.ok,
          idempotencyKey: request.headers['idempotency-key'] as string | undefined,
          authorization: request.headers.authorization,
          url: request.url ?? '',
        })
        if (this.mode === 'hang') return
        if (!signature.ok) {
          response.writeHead(401).end()
          return
        }
        const answer = () => response.writeHead(this.mode === 'ok' ? 200 : 500, {'content-type': 'application/json'}).end('{}')
        if (this.delayMs > 0) setTimeout(answer, this.delayMs)
        else answer()
      })
    })
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  start(): Promise<this> {
    return this.startOn(0)
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** A loopback port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export interface ReceivedMail {
  from: string
  to: string[]
  raw: string
}

/** A real SMTP server on loopback (no TLS) that wants `user`/`pass` and keeps every message it accepted. */
export class MailReceiver {
  readonly received: ReceivedMail[] = []
  port = 0
  private server: SMTPServer

  constructor(
    readonly user: string,
    readonly pass: string,
  ) {
    this.server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.user && auth.password === this.pass) callback(null, {user: auth.username})
        else callback(new Error('Invalid username or password'))
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        stream.on('data', (chunk: Buffer) => chunks.push(chunk))
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          })
          callback()
        })
      },
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()))
    this.port = (this.server.server.address() as AddressInfo).port
    return this
  }

  url(pass = this.pass): string {
    return `smtp://${encodeURIComponent(this.user)}:${encodeURIComponent(pass)}@127.0.0.1:${this.port}`
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** The header `name` of a raw message (unfolded), or undefined. */
export function mailHeader(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ')
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
  return line?.slice(name.length + 1).trim()
}

/** The roles, an operator, a rule: what an outbox row hangs from. */
export async function seedAlertBasics(db: Knex, now: Date): Promise<{operatorId: number; ruleId: number; email: string}> {
  await db.transaction(async (tx) => void (await seedRoles(tx, now)))
  const email = 'oncall@example.com'
  const operatorId = await insertReturningId(db, 'operators', {
    name: 'On Call',
    email,
    password_hash: 'x',
    role: 'system_admin',
    is_active: true,
    created_at: now,
    updated_at: now,
  })
  const ruleId = await insertReturningId(db, 'alert_rules', {
    name: 'rds-down',
    kind: 'rds_down',
    params: '{}',
    for_ms: 300_000,
    keep_firing_for_ms: 0,
    severity: 'critical',
    labels: '{}',
    no_data: 'ok',
    on_error: 'error',
    description: 'An RDS does not answer its health probe.',
    enabled: true,
    builtin: true,
    created_by: 'test',
    created_at: now,
    updated_at: now,
  })
  return {operatorId, ruleId, email}
}

/** A firing notification about `count` RDS down. */
export function firingPayload(key: string, at: Date, count = 1): NotificationPayload {
  const alerts = Array.from({length: count}, (_, i) => ({
    labels: {alertname: 'rds-down', severity: 'critical', rds: `eu-${i + 1}`},
    state: 'firing' as const,
    summary: `eu-${i + 1} has not answered its health probe since ${at.toISOString()}`,
    activeAt: at.toISOString(),
    firedAt: at.toISOString(),
    resolvedAt: null,
  }))
  return {
    key,
    kind: 'firing',
    rule: {name: 'rds-down', kind: 'rds_down', severity: 'critical', description: 'An RDS does not answer its health probe.'},
    at: at.toISOString(),
    alerts,
    title: `[FIRING:${count}] rds-down (critical)`,
  }
}

/** The body of a raw single-part message, its quoted-printable encoding undone. */
export function mailBody(raw: string): string {
  const at = raw.search(/\r?\n\r?\n/)
  const body = raw.slice(at).replace(/^\r?\n\r?\n/, '')
  if (!/^content-transfer-encoding:\s*quoted-printable/im.test(raw.slice(0, at))) return body
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
  return Buffer.from(bytes, 'latin1').toString('utf8').replace(/\r\n/g, '\n')
}
