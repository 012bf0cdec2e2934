import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {AuditEntryError} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {ConfigError, messageOf, UserError} from '../errors/index.js'
import {rememberSecret} from '../redact/index.js'
import {escapeControl} from '../text/escape.js'
import {raiEventSchema, storeRaiEvent} from './events.js'
import {checkSignature, SIGNATURE_HEADER} from './signature.js'

export const WEBHOOK_PATH = '/api/webhooks/rai/audit'
export const MAX_BODY_BYTES = 64 * 1024

export interface WebhookServerOptions {
  secrets: readonly string[]
  toleranceS: number
  host: string
  port: number
  /** Told of every request once answered (for the access log). */
  onRequest?: (entry: RequestLog) => void
}

export interface RequestLog {
  method: string
  path: string
  status: number
  ms: number
  eventId?: string
  /** Why the request was refused, or what was stored. */
  detail: string
}

/**
 * A request as one line of the access log. Every field is escaped: an event id or
 * a reason holding a newline or an escape sequence cannot forge a line or reach
 * the terminal.
 */
export function accessLogLine(at: Date, entry: RequestLog): string {
  const eventId = entry.eventId === undefined ? '' : ` ${escapeControl(entry.eventId)}`
  return `${at.toISOString()} ${entry.status} ${escapeControl(entry.method)} ${escapeControl(entry.path)}${eventId} ${entry.ms} ms: ${escapeControl(entry.detail)}`
}

export interface WebhookServer {
  url: string
  /** Stops accepting, lets in-flight requests finish (at most `timeoutMs`), then closes. */
  close(timeoutMs?: number): Promise<void>
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new HttpError(413, `the body is over ${limit} bytes`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new HttpError(413, `the body is over ${limit} bytes`))
        request.resume()
        return
      }
      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

function send(response: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)})
  response.end(text)
}

/**
 * The receiver for audit events pushed by the RAI application. Every request is
 * checked in this order: path and method, content type, size, signature (on the
 * raw body), JSON, schema, and whether every engine can store it as it is (sizes,
 * nesting, ranges, control characters); only then is the event stored. Anything
 * refused gets a 4xx with a one-line reason and stores nothing; a 503 (retry)
 * means the control database could not be written.
 */
export async function startWebhookServer(ctx: Pick<OpsContext, 'db' | 'now'>, options: WebhookServerOptions): Promise<WebhookServer> {
  if (options.secrets.length === 0) {
    throw new ConfigError('RAIOPS_WEBHOOK_SECRETS is not set', {
      hint: 'set it to the secret the RAI application signs with (comma-separated during a rotation)',
    })
  }
  for (const secret of options.secrets) rememberSecret(secret)
  const now = () => ctx.now()
  const inFlight = new Set<Promise<void>>()

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const started = performance.now()
    const path = (request.url ?? '/').split('?')[0]
    const log: RequestLog = {method: request.method ?? '?', path, status: 500, ms: 0, detail: ''}
    try {
      if (path === '/healthz') {
        if (request.method !== 'GET') throw new HttpError(405, 'use GET')
        await ctx.db.raw('select 1')
        log.status = 200
        log.detail = 'ok'
        send(response, 200, {ok: true})
        return
      }
      if (path !== WEBHOOK_PATH) throw new HttpError(404, 'not found')
      if (request.method !== 'POST') throw new HttpError(405, 'use POST')
      const type = String(request.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase()
      if (type !== 'application/json') throw new HttpError(415, 'the content type must be application/json')
      const body = await readBody(request, MAX_BODY_BYTES)
      const signature = checkSignature(
        request.headers[SIGNATURE_HEADER] as string | undefined,
        body,
        options.secrets,
        options.toleranceS,
        Math.floor(now().getTime() / 1000),
      )
      if (!signature.ok) throw new HttpError(401, signature.reason)
      let json: unknown
      try {
        json = JSON.parse(body.toString('utf8'))
      } catch {
        throw new HttpError(400, 'the body is not valid JSON')
      }
      const parsed = raiEventSchema.safeParse(json)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        throw new HttpError(422, `invalid event: ${issue.path.join('.') || 'body'}: ${issue.message}`)
      }
      log.eventId = parsed.data.id
      // An event no engine can store (its values outgrow their column once redacted) is refused for good,
      // its transaction rolled back: a 503 would have the sender retry it forever.
      const stored = await storeRaiEvent(ctx, {event: parsed.data, from: {ip: request.socket.remoteAddress ?? null}}).catch((error: unknown) => {
        throw error instanceof AuditEntryError ? new HttpError(422, `invalid event: ${error.message}`) : error
      })
      log.status = 200
      if (stored.status === 'duplicate') {
        log.detail = 'duplicate, already stored'
        send(response, 200, {ok: true, duplicate: true})
      } else {
        log.detail = `stored as audit entry ${stored.auditId}`
        send(response, 200, {ok: true, duplicate: false, audit_id: stored.auditId})
      }
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 503
      const message = error instanceof HttpError ? error.message : 'the event could not be stored now; retry'
      log.status = status
      log.detail = error instanceof HttpError ? message : `${message} (${messageOf(error)})`
      if (!response.headersSent) {
        // A body left unread would keep the connection busy: close it after refusing.
        if (!request.complete) response.setHeader('connection', 'close')
        send(response, status, {ok: false, error: message})
      }
    } finally {
      log.ms = Math.round((performance.now() - started) * 10) / 10
      options.onRequest?.(log)
    }
  }

  const server = createServer((request, response) => {
    const work = handle(request, response)
    inFlight.add(work)
    void work.finally(() => inFlight.delete(work))
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException) => {
      reject(
        new UserError(`cannot listen on ${options.host}:${options.port} (${error.code ?? error.message})`, {
          hint: 'choose another --port, or stop what holds it',
        }),
      )
    }
    server.once('error', refused)
    server.listen({host: options.host, port: options.port}, () => {
      server.removeListener('error', refused)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${host}:${address.port}`,
    async close(timeoutMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      // Idle keep-alive connections would hold close() open; busy ones finish their request first.
      server.closeIdleConnections()
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.allSettled([...inFlight]).then(() => {
          server.closeIdleConnections()
          return closed
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            server.closeAllConnections()
            resolve()
          }, timeoutMs)
        }),
      ])
      clearTimeout(timer)
    },
  }
}
