import {request as httpRequest, type IncomingMessage} from 'node:http'
import {request as httpsRequest} from 'node:https'

import {AUDIT_LIMITS} from '../../audit/limits.js'
import {rememberSecret} from '../../redact/index.js'
import {signBody} from '../../webhook/signature.js'
import type {NotificationPayload} from '../types.js'
import {SendError, type OutgoingMessage, type SendOptions} from './channel.js'

/**
 * The largest body posted: audit:serve takes 64 KiB and stores new_values in a
 * TEXT column of 65,535 bytes, so a message about very many alerts keeps as
 * many as fit and says how many it left out.
 */
export const MAX_WEBHOOK_BODY_BYTES = 60_000

/** What the body's new_values hold: the notification, its alerts cut to fit when they must be. */
export type WebhookValues = NotificationPayload & {
  /** How many alerts the message is about, when some were left out to keep it under MAX_WEBHOOK_BODY_BYTES. */
  alertsTotal?: number
  alertsOmitted?: number
}

/** A notification as a RAI audit event (lib/webhook/events.ts raiEventSchema), so that raiops' own audit:serve stores it, once per key. */
export interface WebhookEvent {
  id: string
  occurred_at: string
  actor: {type: 'raiops'; id: 'alerts'}
  action: `alert.${NotificationPayload['kind']}`
  target: {type: 'alert_rule'; id: string}
  new_values: WebhookValues
}

function eventOf(payload: NotificationPayload, values: WebhookValues): WebhookEvent {
  return {
    id: payload.key,
    occurred_at: payload.at,
    actor: {type: 'raiops', id: 'alerts'},
    action: `alert.${payload.kind}`,
    // The event's target id is at most 64 characters; the rule's whole name is in new_values.
    target: {type: 'alert_rule', id: [...payload.rule.name].slice(0, 64).join('')},
    new_values: values,
  }
}

/** The body posted for a notification: its event as JSON, every alert in it unless they do not fit; then as many as fit, with the counts. */
export function webhookBody(payload: NotificationPayload, maxBytes = MAX_WEBHOOK_BODY_BYTES): string {
  const whole = JSON.stringify(eventOf(payload, payload))
  if (Buffer.byteLength(whole) <= maxBytes && Buffer.byteLength(JSON.stringify(payload)) <= AUDIT_LIMITS.valueBytes) return whole
  const total = payload.alerts.length
  const cut = (kept: number) =>
    JSON.stringify(eventOf(payload, {...payload, alerts: payload.alerts.slice(0, kept), alertsTotal: total, alertsOmitted: total - kept}))
  // The most alerts that fit: a binary search over how many are kept.
  let low = 0
  let high = total
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (Buffer.byteLength(cut(mid)) <= maxBytes) low = mid
    else high = mid - 1
  }
  return cut(low)
}

/** One line for a failed request: what happened, never the URL's credentials (the caller names the target, masked). */
function describeNetworkError(error: NodeJS.ErrnoException, timeoutMs: number, signal: AbortSignal): string {
  if (signal.aborted) return signal.reason instanceof Error && signal.reason.name === 'DeadlineError' ? `no answer within ${timeoutMs} ms` : 'stopped'
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ECONNRESET':
      return 'connection reset by the receiver'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'ETIMEDOUT':
      return 'connection timed out'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable'
    default:
      return error.code ? `request failed (${error.code})` : 'request failed'
  }
}

/**
 * Posts a notification, signed with RAIOPS_ALERT_WEBHOOK_SECRET as audit:serve
 * checks it (`X-Raiops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`),
 * with `Idempotency-Key: <key>`. A 2xx answer is accepted; any other status,
 * a refused connection or no answer before the signal aborts is a SendError.
 * Redirects are not followed. One connection per message, closed after it.
 */
export async function sendWebhook(message: OutgoingMessage, options: SendOptions): Promise<void> {
  const secret = options.settings.webhookSecret
  if (!secret) throw new SendError('RAIOPS_ALERT_WEBHOOK_SECRET is not set: set it to sign alert webhooks')
  rememberSecret(secret)
  let url: URL
  try {
    url = new URL(message.target)
  } catch {
    throw new SendError('the target is not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SendError('the target is not an http(s) URL')
  // The query is never put in a line (targets are shown masked); a password is remembered so no driver's message can carry it.
  if (url.password) rememberSecret(decodeURIComponent(url.password))
  const body = webhookBody(message.payload)
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-raiops-signature': signBody(secret, body),
    'idempotency-key': message.key,
    'user-agent': 'raiops-alerts',
  }
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  const {signal, timeoutMs} = options
  await new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(new SendError(describeNetworkError({name: 'AbortError', message: ''}, timeoutMs, signal)))
      return
    }
    const req = request(url, {method: 'POST', headers, agent: false, signal}, (response: IncomingMessage) => {
      // The answer's status is the verdict; its body is read away so the connection closes cleanly.
      response.on('error', () => {})
      response.resume()
      const status = response.statusCode ?? 0
      if (status >= 200 && status < 300) resolve()
      else reject(new SendError(`the receiver answered HTTP ${status}${response.statusMessage ? ` ${response.statusMessage.slice(0, 80)}` : ''}`))
    })
    req.on('error', (error: NodeJS.ErrnoException) => reject(new SendError(describeNetworkError(error, timeoutMs, signal))))
    req.end(body)
  })
}
