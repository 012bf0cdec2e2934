import {createHash} from 'node:crypto'
import nodemailer from 'nodemailer'

import {rememberSecret, scrubText} from '../../redact/index.js'
import {formatLabels} from '../labels.js'
import type {NotificationPayload} from '../types.js'
import {SendError, type OutgoingMessage, type SendOptions} from './channel.js'

/** The Message-ID of a notification's email: the same for every attempt of one outbox row, so a mail system can drop a re-send. */
export function emailMessageId(key: string): string {
  return `<${createHash('sha256').update(key).digest('hex')}@raiops>`
}

const STATE_WORDS: Record<NotificationPayload['kind'], string> = {firing: 'firing', repeat: 'still firing', resolved: 'resolved'}

/** The plain-text body of a notification's email: the rule, then each alert with its labels, state, since and summary. */
export function emailText(payload: NotificationPayload): string {
  const lines: string[] = [payload.title, '']
  lines.push(`Rule: ${payload.rule.name} (${payload.rule.kind}), severity ${payload.rule.severity}`)
  if (payload.rule.description) lines.push(payload.rule.description)
  lines.push(`Evaluated at: ${payload.at}`, '')
  const count = payload.alerts.length
  lines.push(`${count} alert${count === 1 ? '' : 's'} ${STATE_WORDS[payload.kind]}:`, '')
  for (const alert of payload.alerts) {
    lines.push(`- ${formatLabels(alert.labels)}`)
    const since = alert.state === 'resolved' ? `resolved at ${alert.resolvedAt ?? payload.at}` : `since ${alert.firedAt ?? alert.activeAt ?? payload.at}`
    lines.push(`  state: ${alert.state}, ${since}${alert.state === 'resolved' && alert.firedAt ? ` (firing since ${alert.firedAt})` : ''}`)
    if (alert.summary) lines.push(`  summary: ${alert.summary}`)
    lines.push('')
  }
  lines.push(`Idempotency key: ${payload.key}`, 'Sent by raiops alerts:run. See the alerts with `raiops alerts:list`.', '')
  return lines.join('\n')
}

interface SmtpServer {
  host: string
  port: number
  secure: boolean
  auth?: {user: string; pass: string}
  /** smtp://host:port, for a line of text: never the user or password. */
  name: string
}

function smtpServer(text: string): SmtpServer {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new SendError('RAIOPS_SMTP_URL is not a URL')
  }
  const secure = url.protocol === 'smtps:'
  if (!secure && url.protocol !== 'smtp:') throw new SendError('RAIOPS_SMTP_URL must start with smtp:// or smtps://')
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const server: SmtpServer = {host, port, secure, name: `${url.protocol}//${url.host}`}
  if (url.username !== '' || url.password !== '') {
    const pass = decodeURIComponent(url.password)
    rememberSecret(pass)
    server.auth = {user: decodeURIComponent(url.username), pass}
  }
  return server
}

/**
 * Sends a notification by email over SMTP (RAIOPS_SMTP_URL, from
 * RAIOPS_ALERT_EMAIL_FROM): the title as its subject, a plain-text body, a
 * Message-ID derived from the key and the key itself in
 * `X-Raiops-Idempotency-Key`. Accepted when the server accepted the message
 * for the recipient; every SMTP timeout is bounded by the message's timeout.
 */
export async function sendEmail(message: OutgoingMessage, options: SendOptions): Promise<void> {
  const {smtpUrl, emailFrom} = options.settings
  if (!smtpUrl) throw new SendError('RAIOPS_SMTP_URL is not set: set it to the SMTP server alert emails go through')
  if (!emailFrom) throw new SendError('RAIOPS_ALERT_EMAIL_FROM is not set: set it to the address alert emails come from')
  const server = smtpServer(smtpUrl)
  const {timeoutMs, signal} = options
  const transport = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: server.secure,
    auth: server.auth,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    logger: false,
    debug: false,
  })
  const stopped = new Promise<never>((_resolve, reject) => {
    const stop = () =>
      reject(
        new SendError(
          signal.reason instanceof Error && signal.reason.name === 'DeadlineError' ? `no answer from ${server.name} within ${timeoutMs} ms` : 'stopped',
        ),
      )
    if (signal.aborted) stop()
    else signal.addEventListener('abort', stop, {once: true})
  })
  // Settled after the message, it must not be an unhandled rejection.
  stopped.catch(() => {})
  try {
    const info = (await Promise.race([
      transport.sendMail({
        from: emailFrom,
        to: message.target,
        subject: message.payload.title,
        text: emailText(message.payload),
        messageId: emailMessageId(message.key),
        headers: {'X-Raiops-Idempotency-Key': message.key},
      }),
      stopped,
    ])) as {accepted?: unknown[]; rejected?: unknown[]}
    if ((info.accepted ?? []).length === 0) throw new SendError(`${server.name} did not accept the recipient`)
  } catch (error) {
    if (error instanceof SendError) throw error
    const text = scrubText(String((error as Error).message ?? error).split('\n')[0]).slice(0, 300)
    throw new SendError(`${server.name}: ${text}`)
  } finally {
    transport.close()
  }
}
