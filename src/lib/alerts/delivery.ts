import type {AlertSettings} from '../config/index.js'
import type {OpsContext} from '../context.js'
import {toBool} from '../db/values.js'
import {DeadlineError, withDeadline} from '../deadline.js'
import {scrubText} from '../redact/index.js'
import {SendError, type SendFn} from './channels/channel.js'
import {sendEmail} from './channels/email.js'
import {displayTarget, type Channel} from './channels/target.js'
import {sendWebhook} from './channels/webhook.js'
import type {NotificationPayload} from './types.js'

/** What one delivery pass did with the outbox. */
export interface DeliveryReport {
  /** Messages sent in this pass. */
  sent: number
  /** Messages that could not be sent (receiver down, slow, refused): still pending, retried by the next run. */
  failed: number
  /** Messages given up on (their subscription is gone or disabled, their channel unknown, their payload unreadable). */
  dropped: number
  /** Messages not started before the pass's deadline (DELIVERY_PASS_TIMEOUTS send timeouts): still pending, for the next run. */
  deferred: number
  /** One line per failure: the channel, the target, the error (no secret). */
  errors: string[]
}

export interface DeliveryOptions {
  now: Date
  /** Per message (default ctx.alerts.sendTimeoutMs, RAIOPS_ALERT_SEND_TIMEOUT_MS, else 10 s). */
  timeoutMs?: number
  signal?: AbortSignal
}

/** How many due messages one pass reads (the oldest first); the rest wait for the next pass. */
export const DELIVERY_BATCH = 500
/** How many targets are sent to at once. */
export const DELIVERY_CONCURRENCY = 4
export const DEFAULT_SEND_TIMEOUT_MS = 10_000
/**
 * A pass starts no message after this many send timeouts (60 s at the default
 * 10 s): a receiver that answers each message just within the timeout cannot
 * hold a run for DELIVERY_BATCH timeouts. What was not started stays pending.
 */
export const DELIVERY_PASS_TIMEOUTS = 6
/** The first retry's wait after a failed send, doubled at each failure up to RETRY_MAX_MS. */
export const RETRY_MIN_MS = 60_000
export const RETRY_MAX_MS = 3_600_000

const CHANNELS: Record<Channel, SendFn> = {email: sendEmail, webhook: sendWebhook}

/**
 * The wait before the next attempt of a message that failed `attempts` times
 * (1 after the first failure): RETRY_MIN_MS·2^(attempts−1), capped at
 * RETRY_MAX_MS, less up to a fifth at random so that messages that failed
 * together do not all come back together.
 */
export function retryDelayMs(attempts: number, random = Math.random): number {
  const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(30, Math.max(0, attempts - 1)))
  return Math.round(base * (1 - random() / 5))
}

interface DueRow {
  id: number | string
  key: string
  channel: string
  target: string
  payload: string
  attempts: number | string
  subscription_id: number | string | null
  subscription_found: number | string | null
  subscription_enabled: unknown
}

interface Due {
  id: number
  key: string
  channel: Channel
  target: string
  payload: NotificationPayload
  attempts: number
}

type Outcome = {kind: 'sent'} | {kind: 'failed'; error: string}

/** The test seam (RAIOPS_ALERT_HANG=after-send): says so on stderr and waits, a channel having accepted the message and nothing recorded yet, for a test to kill -9 the process. A stop ends the wait. */
async function hangAfterSend(signal: AbortSignal | undefined): Promise<void> {
  process.stderr.write('hanging at after-send\n')
  await new Promise<void>((resolve) => {
    const alive = setInterval(() => {}, 1 << 30)
    const end = () => {
      clearInterval(alive)
      resolve()
    }
    if (signal?.aborted) end()
    else signal?.addEventListener('abort', end, {once: true})
  })
}

/** One line for a failure, with no secret: the channel's own line, else the error's first line scrubbed of every secret this process knows. */
function failureLine(error: unknown): string {
  if (error instanceof SendError) return scrubText(error.message)
  if (error instanceof DeadlineError) return error.message
  return scrubText(String((error as Error)?.message ?? error).split('\n')[0]).slice(0, 300)
}

/**
 * Sends the outbox's pending messages that are due (alert_notifications,
 * state `pending`, next_attempt_at ≤ now; at most DELIVERY_BATCH, oldest
 * first), with the older messages to the same targets still waiting out their
 * backoff, so that each target receives its messages in the order they were
 * written (two queries), each marked `sent` only after its channel
 * accepted it, so a crash between the two re-sends it with the same
 * idempotency key. A message that fails stays pending with its attempts, its
 * error (one line, no secret) and a later next_attempt_at (exponential
 * backoff); a message whose subscription is gone or disabled is `dropped`.
 * Targets are sent to concurrently (DELIVERY_CONCURRENCY), each target's
 * messages in order; a target that fails is not tried again in this pass, so a
 * slow one costs at most one timeout, and no message is started after
 * DELIVERY_PASS_TIMEOUTS timeouts (those left are `deferred`). Two passes must not run at once: the
 * caller holds the `alerts` lease (alerts:run).
 */
export async function deliverPending(ctx: Pick<OpsContext, 'db' | 'now' | 'alerts'>, options: DeliveryOptions): Promise<DeliveryReport> {
  const settings: Partial<AlertSettings> = ctx.alerts ?? {}
  const timeoutMs = options.timeoutMs ?? settings.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
  const {now, signal} = options
  const report: DeliveryReport = {sent: 0, failed: 0, dropped: 0, deferred: 0, errors: []}
  const passDeadline = performance.now() + timeoutMs * DELIVERY_PASS_TIMEOUTS

  const pending = () =>
    ctx
      .db('alert_notifications as n')
      .leftJoin('alert_subscriptions as s', 's.id', 'n.subscription_id')
      .where('n.state', 'pending')
      .select(
        'n.id',
        'n.key',
        'n.channel',
        'n.target',
        'n.payload',
        'n.attempts',
        'n.subscription_id',
        's.id as subscription_found',
        's.enabled as subscription_enabled',
      )
  const due = (await pending()
    .andWhere('n.next_attempt_at', '<=', now)
    .orderBy([{column: 'n.next_attempt_at'}, {column: 'n.id'}])
    .limit(DELIVERY_BATCH)) as DueRow[]
  // A target receives its messages in the order they were written: an older message still waiting out its
  // backoff goes first (else a resolved message could reach the receiver before the firing one it resolves).
  const targets = [...new Set(due.map((row) => row.target))]
  const older =
    targets.length === 0
      ? []
      : ((await pending().andWhere('n.next_attempt_at', '>', now).whereIn('n.target', targets).orderBy('n.id').limit(DELIVERY_BATCH)) as DueRow[])
  // When that read was cut short, a due message past the last one it read may have an older one unread: it waits.
  const lastOlder = older.length === DELIVERY_BATCH ? Number(older[older.length - 1].id) : Infinity
  const rows = [...older, ...due.filter((row) => Number(row.id) <= lastOlder)].sort((a, b) => Number(a.id) - Number(b.id))

  // Each message given up on, by why.
  const drop = new Map<string, number[]>()
  const dropFor = (id: number, reason: string) => {
    const list = drop.get(reason)
    if (list) list.push(id)
    else drop.set(reason, [id])
  }
  const byTarget = new Map<string, Due[]>()
  for (const row of rows) {
    const id = Number(row.id)
    const gone = row.subscription_id === null || row.subscription_found === null || !toBool(row.subscription_enabled)
    if (gone) {
      dropFor(id, 'its subscription is gone or disabled')
      continue
    }
    if (row.channel !== 'email' && row.channel !== 'webhook') {
      dropFor(id, `unknown channel "${String(row.channel).slice(0, 40)}"`)
      continue
    }
    let payload: NotificationPayload
    try {
      payload = JSON.parse(row.payload) as NotificationPayload
    } catch {
      dropFor(id, 'its payload is not readable JSON')
      continue
    }
    const due: Due = {id, key: row.key, channel: row.channel, target: row.target, payload, attempts: Number(row.attempts)}
    const group = `${due.channel} ${due.target}`
    const list = byTarget.get(group)
    if (list) list.push(due)
    else byTarget.set(group, [due])
  }
  for (const [reason, ids] of drop) {
    report.dropped += await ctx.db('alert_notifications').whereIn('id', ids).andWhere('state', 'pending').update({state: 'dropped', last_error: reason})
  }

  const record = async (message: Due, outcome: Outcome): Promise<void> => {
    const where = ctx.db('alert_notifications').where({id: message.id, state: 'pending'})
    if (outcome.kind === 'sent') {
      await where.update({state: 'sent', sent_at: now, attempts: message.attempts + 1, last_error: null})
      report.sent++
      return
    }
    report.failed++
    report.errors.push(`${message.channel} to ${displayTarget(message.channel, message.target)}: ${outcome.error}`)
    const attempts = message.attempts + 1
    await where.update({attempts, last_error: outcome.error, next_attempt_at: new Date(now.getTime() + retryDelayMs(attempts))})
  }

  const sendOne = (message: Due): Promise<Outcome> =>
    withDeadline<Outcome>(
      async (messageSignal) => {
        try {
          await CHANNELS[message.channel](
            {key: message.key, target: message.target, payload: message.payload},
            {
              settings: {smtpUrl: settings.smtpUrl ?? null, emailFrom: settings.emailFrom ?? null, webhookSecret: settings.webhookSecret ?? null},
              timeoutMs,
              signal: messageSignal,
            },
          )
          return {kind: 'sent'}
        } catch (error) {
          return {kind: 'failed', error: failureLine(error)}
        }
      },
      {
        deadlineMs: timeoutMs,
        onDeadline: () => ({kind: 'failed', error: `no answer within ${timeoutMs} ms`}),
        signal,
        onAbort: () => ({kind: 'failed', error: 'stopped before the receiver answered'}),
      },
    )

  const sendTarget = async (messages: Due[]): Promise<void> => {
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]
      if (signal?.aborted) {
        report.failed += messages.length - i
        return
      }
      if (performance.now() >= passDeadline) {
        // The pass's time is up: this target's other messages wait for the next run, untouched.
        report.deferred += messages.length - i
        return
      }
      const outcome = await sendOne(message)
      if (outcome.kind === 'sent' && settings.hang === 'after-send') await hangAfterSend(signal)
      await record(message, outcome)
      if (outcome.kind === 'failed' && i + 1 < messages.length) {
        // The target failed: its other messages wait for the next pass, untouched, rather than each costing a timeout now.
        const left = messages.length - i - 1
        report.failed += left
        report.errors.push(
          `${message.channel} to ${displayTarget(message.channel, message.target)}: ${left} more message${left === 1 ? '' : 's'} not tried after that`,
        )
        return
      }
    }
  }

  const groups = [...byTarget.values()]
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < groups.length) await sendTarget(groups[next++])
  }
  await Promise.all(Array.from({length: Math.min(DELIVERY_CONCURRENCY, groups.length)}, worker))
  return report
}
