import {setTimeout as sleep} from 'node:timers/promises'

import type {OpsContext} from '../context.js'
import {ConnectionError, messageOf} from '../errors/index.js'
import {auditFilter, type AuditFilterInput} from './query.js'
import {listAudit, type AuditView} from './read.js'

export type TailEvent =
  | {type: 'entry'; entry: AuditView}
  /** A poll failed; the next try is in `retryInMs`. */
  | {type: 'disconnected'; attempt: number; error: string; retryInMs: number}
  /** A poll succeeded again after `failures` failed ones. */
  | {type: 'reconnected'; failures: number}

export interface TailOptions {
  /** Which entries: the audit:list filter flags, without --limit. */
  filter: Omit<AuditFilterInput, 'limit'>
  /** Entries shown before following (the last N). */
  last: number
  follow: boolean
  intervalMs: number
  /** Failed polls in a row tolerated before giving up. */
  maxRetries: number
  signal?: AbortSignal
}

/** The longest wait between two reconnection attempts. */
const MAX_BACKOFF_MS = 30_000
/** Entries read per poll at most; a longer backlog is read over the next polls without waiting. */
const POLL_LIMIT = 1000

/** Waits `ms`, or less when the signal aborts. */
const pause = (ms: number, signal?: AbortSignal): Promise<void> => sleep(ms, undefined, {signal}).catch(() => undefined)

/**
 * The last `last` entries matching the filter, oldest first; then, following,
 * every new entry as it lands, by polling for ids above the last one seen (the
 * primary key: each poll is an index range). A failed poll is retried with a
 * doubling back-off (reported as events); after `maxRetries` failures in a row
 * it throws. Ends when the signal aborts.
 */
export async function* tailAudit(ctx: Pick<OpsContext, 'db' | 'now'>, options: TailOptions): AsyncGenerator<TailEvent> {
  const {db} = ctx
  // Every read below sets its own limit.
  const filter = await auditFilter(ctx, {...options.filter, limit: 1})
  // The newest entry of all first, matching or not: the last N are read up to it, and following starts after it,
  // so an entry landing in between is printed once, not lost.
  const [{top}] = await db('audit_logs').max({top: 'id'})
  let lastId = Number(top ?? 0)
  const recent = options.last === 0 ? [] : await listAudit(ctx, {...filter, upToId: lastId, limit: options.last})
  for (const entry of recent.reverse()) yield {type: 'entry', entry}
  if (!options.follow) return
  let failures = 0
  let backlog = false
  while (!options.signal?.aborted) {
    if (!backlog) await pause(failures > 0 ? Math.min(options.intervalMs * 2 ** failures, MAX_BACKOFF_MS) : options.intervalMs, options.signal)
    if (options.signal?.aborted) return
    let entries: AuditView[]
    try {
      entries = await listAudit(ctx, {...filter, afterId: lastId, ascending: true, limit: POLL_LIMIT})
    } catch (error) {
      failures++
      if (failures > options.maxRetries) {
        throw new ConnectionError(`the control database did not answer ${failures} polls in a row: ${messageOf(error)}`, {
          hint: 'check that it is running; a supervisor restarting this command is what --max-retries is for',
        })
      }
      yield {
        type: 'disconnected',
        attempt: failures,
        error: messageOf(error),
        retryInMs: Math.min(options.intervalMs * 2 ** failures, MAX_BACKOFF_MS),
      }
      backlog = false
      continue
    }
    if (failures > 0) yield {type: 'reconnected', failures}
    failures = 0
    for (const entry of entries) {
      lastId = entry.id
      yield {type: 'entry', entry}
    }
    backlog = entries.length === POLL_LIMIT
  }
}
