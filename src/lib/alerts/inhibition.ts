import type {Knex} from 'knex'

import type {AlertSilenceRow} from '../db/tables.js'
import {matchesAll, parseLabels, parseMatcher, type Matcher} from './labels.js'
import type {Labels} from './types.js'

/**
 * What keeps an instance from being told: an active silence whose matchers
 * all match its labels (`silence:<id>`), or a firing `rds_down` instance for
 * the same RDS when the instance's rule is about that RDS's health or syncs
 * (`inhibited:<instance id>`). A muted transition is recorded, not notified.
 */

export interface ActiveSilence {
  id: number
  matchers: Matcher[]
}

/** The kind whose firing instances inhibit others, and the kinds they inhibit, by the `rds` label. */
export const INHIBITING_KIND = 'rds_down'
export const INHIBITED_KINDS: ReadonlySet<string> = new Set(['rds_degraded', 'sync_stale', 'sync_failing'])
export const INHIBITION_LABEL = 'rds'

/**
 * The silences in force at `now` (starts_at ≤ now < ends_at, not lifted). One
 * query. A silence whose stored matchers no longer parse matches nothing.
 */
export async function loadActiveSilences(db: Knex, now: Date): Promise<ActiveSilence[]> {
  const rows: Array<Pick<AlertSilenceRow, 'id' | 'matchers'>> = await db('alert_silences')
    .where('starts_at', '<=', now)
    .andWhere('ends_at', '>', now)
    .whereNull('expired_at')
    .orderBy('id')
    .select('id', 'matchers')
  return rows.flatMap((row) => {
    const matchers = silenceMatchers(row)
    return matchers === null ? [] : [{id: Number(row.id), matchers}]
  })
}

/** The matchers of a stored silence (a JSON array of matcher texts); null when they no longer parse: it silences nothing. */
export function silenceMatchers(row: Pick<AlertSilenceRow, 'matchers'>): Matcher[] | null {
  try {
    const texts: unknown = JSON.parse(row.matchers)
    if (!Array.isArray(texts) || texts.length === 0) return null
    return texts.map((t) => parseMatcher(String(t)))
  } catch {
    return null
  }
}

/** The id of the first silence that matches, or null. */
export function silenceOf(silences: readonly ActiveSilence[], labels: Labels): number | null {
  return silences.find((silence) => matchesAll(silence.matchers, labels))?.id ?? null
}

/** `silence:<id>` of the first silence that matches, or null. */
export function silencedBy(silences: readonly ActiveSilence[], labels: Labels): string | null {
  const id = silenceOf(silences, labels)
  return id === null ? null : `silence:${id}`
}

/** The RDS names an `rds_down` instance fires for now, each with that instance's id. */
export interface Inhibitors {
  byRds: ReadonlyMap<string, number>
}

export function inhibitors(firing: Iterable<{kind: string; labels: Labels; id: number}>): Inhibitors {
  const byRds = new Map<string, number>()
  for (const instance of firing) {
    const rds = instance.labels[INHIBITION_LABEL]
    if (instance.kind === INHIBITING_KIND && rds !== undefined && !byRds.has(rds)) byRds.set(rds, instance.id)
  }
  return {byRds}
}

/** The stored `rds_down` instances firing now, as inhibitors (one query): what `alerts:list` and `status` mute by. */
export async function loadInhibitors(db: Knex): Promise<Inhibitors> {
  const rows: Array<{id: number; labels: string}> = await db('alert_instances as i')
    .join('alert_rules as r', 'r.id', 'i.rule_id')
    .where('r.kind', INHIBITING_KIND)
    .andWhere('i.state', 'firing')
    .orderBy('i.id')
    .select('i.id', 'i.labels')
  return inhibitors(rows.map((row) => ({kind: INHIBITING_KIND, id: Number(row.id), labels: parseLabels(row.labels)})))
}

/** The id of the `rds_down` instance firing for this instance's RDS when its rule's kind is one it inhibits, or null. */
export function inhibitorOf(found: Inhibitors, kind: string, labels: Labels): number | null {
  if (!INHIBITED_KINDS.has(kind)) return null
  const rds = labels[INHIBITION_LABEL]
  return (rds === undefined ? undefined : found.byRds.get(rds)) ?? null
}

/** `inhibited:<instance id>` when an `rds_down` instance fires for this instance's RDS and its rule's kind is one it inhibits. */
export function inhibitedBy(found: Inhibitors, kind: string, labels: Labels): string | null {
  const source = inhibitorOf(found, kind, labels)
  return source === null ? null : `inhibited:${source}`
}
