import type {Knex} from 'knex'

import {appendAudit} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import {insertReturningId} from '../db/control-db.js'
import type {AlertSilenceRow} from '../db/tables.js'
import {toIso, toIsoRequired} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {escapeControl} from '../text/escape.js'
import {isDuration, parseDuration} from '../time/duration.js'
import {parseTimeFlag} from '../time/parse-time.js'
import {silenceMatchers} from './inhibition.js'
import {matches, matchesAll, parseMatchers, type Matcher} from './labels.js'
import {parseLabels} from './labels.js'
import {checkLimit, LIVE_STATES} from './query.js'

/** The longest a silence may last: one that outlives what it was for hides the next outage. */
export const MAX_SILENCE_MS = 30 * 86_400_000
export const MAX_SILENCE_REASON = 500
export const MAX_SILENCE_MATCHERS = 20

export interface CreateSilenceInput {
  /** Label matchers (`rds=eu-2`, `alertname=~sync-.*`): an alert is silenced when every one matches. */
  matchers: readonly string[]
  reason: string
  /** How long, from now (`2h`); or `until`. */
  for?: string
  /** Until when: an ISO time (`2026-12-01T18:00:00Z`). */
  until?: string
}

export interface SilenceView {
  id: number
  matchers: string[]
  reason: string
  createdBy: string
  startsAt: string
  endsAt: string
  expiredAt: string | null
  /** `active` (in force now), `expired` (ended, or lifted with alerts:unsilence). */
  state: 'active' | 'expired'
  /** How many live alerts (pending, firing, unknown) it matches now. */
  matchingNow: number
}

export function parseSilenceId(raw: string | number): number {
  const text = String(raw).trim()
  const id = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id) || id < 1)
    throw new UserError(`not a silence id: ${JSON.stringify(String(raw)).slice(0, 60)}`, {
      hint: 'a silence id is a positive number: see `raiops alerts:silences`',
    })
  return id
}

/**
 * The matchers of a new silence: at least one, and at least one that does not
 * match an empty label (Alertmanager's rule), so that no silence mutes every
 * alert (`alertname=~.*`, `rds!=x` alone).
 */
export function checkSilenceMatchers(texts: readonly string[]): Matcher[] {
  if (texts.length === 0) throw new UserError('a silence needs at least one --matcher, such as --matcher rds=eu-2')
  if (texts.length > MAX_SILENCE_MATCHERS) throw new UserError(`a silence takes at most ${MAX_SILENCE_MATCHERS} matchers`)
  const matchers = parseMatchers(texts, '--matcher')
  if (matchers.every((m) => matches(m, {})))
    throw new UserError(`the matchers ${matchers.map((m) => m.text).join(', ')} would silence every alert`, {
      hint: 'add a matcher that names what to silence, such as --matcher rds=eu-2 or --matcher alertname=rds-down',
    })
  return matchers
}

function checkReason(reason: string): string {
  const text = reason.trim()
  if (text === '') throw new UserError('a silence needs a --reason saying why, such as --reason "eu-2 maintenance until 18:00"')
  if (escapeControl(text) !== text) throw new UserError('--reason must be one line of text')
  if (text.length > MAX_SILENCE_REASON) throw new UserError(`--reason must be at most ${MAX_SILENCE_REASON} characters`)
  return text
}

function endOf(input: CreateSilenceInput, now: Date): Date {
  if ((input.for === undefined) === (input.until === undefined))
    throw new UserError('give how long the silence lasts: --for 2h, or --until 2026-12-01T18:00:00Z')
  if (input.for !== undefined) return new Date(now.getTime() + parseDuration(input.for, '--for', MAX_SILENCE_MS))
  const text = input.until as string
  if (isDuration(text)) throw new UserError(`--until takes a time (2026-12-01T18:00:00Z); for a duration use --for ${text.trim()}`)
  const end = parseTimeFlag(text, '--until', now)
  if (end.getTime() <= now.getTime()) throw new UserError(`--until must be in the future, not ${end.toISOString()}`)
  if (end.getTime() - now.getTime() > MAX_SILENCE_MS) throw new UserError(`--until must be at most 30 days ahead, not ${end.toISOString()}`)
  return end
}

async function liveLabels(db: Knex | Knex.Transaction) {
  const rows = await db('alert_instances').whereIn('state', LIVE_STATES).select('labels')
  return rows.map((r) => parseLabels(r.labels))
}

function silenceView(row: AlertSilenceRow, now: Date, live: ReadonlyArray<Record<string, string>>): SilenceView {
  const matchers = silenceMatchers(row)
  const ends = toIsoRequired(row.ends_at)
  const expiredAt = toIso(row.expired_at)
  const active = expiredAt === null && Date.parse(ends) > now.getTime() && Date.parse(toIsoRequired(row.starts_at)) <= now.getTime()
  return {
    id: Number(row.id),
    matchers: matchers?.map((m) => m.text) ?? [],
    reason: row.reason,
    createdBy: row.created_by,
    startsAt: toIsoRequired(row.starts_at),
    endsAt: ends,
    expiredAt,
    state: active ? 'active' : 'expired',
    matchingNow: active && matchers !== null ? live.filter((labels) => matchesAll(matchers, labels)).length : 0,
  }
}

/**
 * `alerts:silence`: mutes, from now until its end, every alert whose labels all
 * the matchers match: its transitions are still recorded, none is notified
 * (nor its resolution). Audited (`alert.silence`) in the same transaction.
 */
export async function createSilence(ctx: ChangeContext, input: CreateSilenceInput): Promise<SilenceView> {
  const now = ctx.now()
  const matchers = checkSilenceMatchers(input.matchers)
  const reason = checkReason(input.reason)
  const endsAt = endOf(input, now)
  const texts = matchers.map((m) => m.text)
  const id = await ctx.db.transaction(async (tx) => {
    const id = await insertReturningId(tx, 'alert_silences', {
      matchers: JSON.stringify(texts),
      reason,
      created_by: ctx.audit.actor,
      starts_at: now,
      ends_at: endsAt,
      expired_at: null,
      created_at: now,
    })
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'alert.silence',
        targetType: 'alert_silence',
        targetId: id,
        newValues: {matchers: texts, reason, starts_at: now.toISOString(), ends_at: endsAt.toISOString()},
      },
      now,
    )
    return id
  })
  return showSilence(ctx, id)
}

async function readSilence(db: Knex | Knex.Transaction, id: number): Promise<AlertSilenceRow> {
  const row = await db('alert_silences').where({id}).first()
  if (row === undefined) throw new NotFoundError(`no silence ${id}`, {hint: 'see `raiops alerts:silences --all`'})
  return row
}

export async function showSilence(ctx: {db: Knex; now(): Date}, id: number): Promise<SilenceView> {
  const now = ctx.now()
  const row = await readSilence(ctx.db, id)
  return silenceView(row, now, await liveLabels(ctx.db))
}

/** `alerts:silences`: the silences in force (with `all`, every silence, newest first, at most `limit`), each with how many live alerts it matches. Two queries. */
export async function listSilences(ctx: {db: Knex; now(): Date}, input: {all?: boolean; limit?: number} = {}): Promise<SilenceView[]> {
  const now = ctx.now()
  const limit = checkLimit(input.limit, 100, 10_000)
  let query = ctx.db('alert_silences').orderBy('id', 'desc').limit(limit)
  if (!input.all) query = query.where('starts_at', '<=', now).andWhere('ends_at', '>', now).whereNull('expired_at')
  const [rows, live] = await Promise.all([query, liveLabels(ctx.db)])
  return rows.map((row) => silenceView(row, now, live))
}

/**
 * `alerts:unsilence`: lifts a silence before its end (expired_at = now); the
 * alerts it muted are notified by the next run that finds them firing.
 * Audited (`alert.unsilence`). A silence already over: exit 2.
 */
export async function expireSilence(ctx: ChangeContext, input: {id: number}): Promise<SilenceView> {
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    const row = await readSilence(tx, input.id)
    const view = silenceView(row, now, [])
    if (view.state !== 'active')
      throw new UserError(`silence ${input.id} is over already (${view.expiredAt ? `lifted ${view.expiredAt}` : `ended ${view.endsAt}`})`)
    const updated = await tx('alert_silences').where({id: input.id}).whereNull('expired_at').update({expired_at: now})
    if (Number(updated) !== 1) throw new UserError(`silence ${input.id} was lifted meanwhile`)
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'alert.unsilence',
        targetType: 'alert_silence',
        targetId: input.id,
        oldValues: {ends_at: view.endsAt},
        newValues: {expired_at: now.toISOString()},
      },
      now,
    )
  })
  return showSilence(ctx, input.id)
}
