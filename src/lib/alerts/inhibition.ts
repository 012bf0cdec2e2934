import type {Knex} from 'knex'

import type {AlertSilenceRow} from '../db/tables.js'
import {matchesAll, parseMatcher, type Matcher} from './labels.js'
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
  const rows: AlertSilenceRow[] = await db('alert_silences').where('starts_at', '<=', now).andWhere('ends_at', '>', now).whereNull('expired_at').orderBy('id')
  const silences: ActiveSilence[] = []
  for (const row of rows) {
    try {
      const texts: unknown = JSON.parse(row.matchers)
      if (!Array.isArray(texts) || texts.length === 0) continue
      silences.push({id: Number(row.id), matchers: texts.map((t) => parseMatcher(String(t)))})
    } catch {
      // unreadable: it silences nothing
    }
  }
  return silences
}

/** `silence:<id>` of the first silence that matches, or null. */
export function silencedBy(silences: readonly ActiveSilence[], labels: Labels): string | null {
  for (const silence of silences) if (matchesAll(silence.matchers, labels)) return `silence:${silence.id}`
  return null
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

/** `inhibited:<instance id>` when an `rds_down` instance fires for this instance's RDS and its rule's kind is one it inhibits. */
export function inhibitedBy(found: Inhibitors, kind: string, labels: Labels): string | null {
  if (!INHIBITED_KINDS.has(kind)) return null
  const rds = labels[INHIBITION_LABEL]
  const source = rds === undefined ? undefined : found.byRds.get(rds)
  return source === undefined ? null : `inhibited:${source}`
}
