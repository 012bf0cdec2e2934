import type {Knex} from 'knex'

import type {Db} from '../db/control-db.js'
import type {AlertInstanceRow, AlertRuleRow} from '../db/tables.js'
import {toIso, toIsoRequired} from '../db/values.js'
import {UserError} from '../errors/index.js'
import {parseTimeFlag} from '../time/parse-time.js'
import {type ActiveSilence, type Inhibitors, inhibitorOf, loadActiveSilences, loadInhibitors, silenceOf} from './inhibition.js'
import {matchesAll, parseLabels, parseMatcher, parseMatchers} from './labels.js'
import {SEVERITIES, type AlertInstance, type AlertState, type Labels, type Severity} from './types.js'

/** The states of an alert an operator has to know about: `alerts:list` shows them, `alerts:ack` acknowledges them. */
export const LIVE_STATES: readonly AlertState[] = ['pending', 'firing', 'unknown']

/** One alert as `alerts:list` shows it: the instance, its rule's kind, and since when it has been in its state. */
export interface AlertListItem extends AlertInstance {
  kind: string
  /** When it entered its state: became active (pending), fired (firing), resolved, or was last changed (inactive, unknown). */
  since: string
}

export interface ListAlertsInput {
  /** Also the resolved and inactive ones changed since `since` (default: the last 24 h). */
  all?: boolean
  /** With `all`: an ISO time or a duration back from now (`24h`). */
  since?: string
  rule?: string
  severity?: Severity
  /** Label matchers (`rds=eu-2`), every one must match. */
  matchers?: readonly string[]
  /** At most this many (default 500). */
  limit?: number
}

type InstanceWithRule = AlertInstanceRow & {rule_name: string; rule_kind: string; rule_severity: AlertRuleRow['severity']}

function sinceOf(row: AlertInstanceRow): string {
  const at = row.state === 'pending' ? row.active_at : row.state === 'firing' ? row.fired_at : row.state === 'resolved' ? row.resolved_at : null
  return toIso(at) ?? toIsoRequired(row.updated_at)
}

function severityOf(value: string): Severity {
  return (SEVERITIES as readonly string[]).includes(value) ? (value as Severity) : 'warning'
}

/** An instance row (joined with its rule) as services return it, muted as `silences` and `inhibitors` say. */
export function instanceView(row: InstanceWithRule, silences: readonly ActiveSilence[], inhibitors: Inhibitors): AlertListItem {
  const labels = parseLabels(row.labels)
  return {
    id: Number(row.id),
    ruleId: Number(row.rule_id),
    rule: row.rule_name,
    kind: row.rule_kind,
    severity: severityOf(labels.severity ?? row.rule_severity),
    labels,
    state: row.state,
    since: sinceOf(row),
    summary: row.summary,
    value: row.value === null || row.value === undefined ? null : Number(row.value),
    activeAt: toIso(row.active_at),
    firedAt: toIso(row.fired_at),
    lastTrueAt: toIso(row.last_true_at),
    lastEvalAt: toIsoRequired(row.last_eval_at),
    lastNotifiedAt: toIso(row.last_notified_at),
    resolvedAt: toIso(row.resolved_at),
    acked: row.acked_by === null ? null : {by: row.acked_by, at: toIso(row.acked_at) ?? toIsoRequired(row.updated_at)},
    silencedBy: silenceOf(silences, labels),
    inhibitedBy: row.state === 'firing' || row.state === 'pending' || row.state === 'unknown' ? inhibitorOf(inhibitors, row.rule_kind, labels) : null,
  }
}

function instancesQuery(db: Db): Knex.QueryBuilder {
  return db('alert_instances as i')
    .join('alert_rules as r', 'r.id', 'i.rule_id')
    .select('i.*', 'r.name as rule_name', 'r.kind as rule_kind', 'r.severity as rule_severity')
}

const STATE_ORDER = "CASE i.state WHEN 'firing' THEN 0 WHEN 'unknown' THEN 1 WHEN 'pending' THEN 2 WHEN 'resolved' THEN 3 ELSE 4 END"
const SEVERITY_ORDER = "CASE r.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"

export function checkLimit(limit: number | undefined, fallback: number, max: number): number {
  const value = limit ?? fallback
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new UserError(`--limit must be a whole number from 1 to ${max}, not ${value}`)
  return value
}

/**
 * `alerts:list`: the alerts an operator has to know about (pending, firing,
 * unknown), firing first, then by severity and newest; with `all` also those
 * resolved or gone inactive since `since`. Each says whether a silence or an
 * inhibiting RDS-down alert mutes it now, and who acknowledged it. Three
 * queries, however many alerts: the instances with their rules, the silences
 * in force, the firing RDS-down instances.
 */
export async function listAlerts(ctx: {db: Knex; now(): Date}, input: ListAlertsInput = {}): Promise<AlertListItem[]> {
  const now = ctx.now()
  const matchers = parseMatchers(input.matchers ?? [], '--matcher')
  const limit = checkLimit(input.limit, 500, 100_000)
  const since = input.all ? parseTimeFlag(input.since ?? '24h', '--since', now) : null
  let query = instancesQuery(ctx.db)
  query = since
    ? query.where(
        (w) =>
          void w.whereIn('i.state', LIVE_STATES).orWhere((old) => void old.whereIn('i.state', ['resolved', 'inactive']).andWhere('i.updated_at', '>=', since)),
      )
    : query.whereIn('i.state', LIVE_STATES)
  if (input.rule !== undefined) query = query.where('r.name', input.rule)
  if (input.severity !== undefined) query = query.where('r.severity', input.severity)
  // Label matchers are applied here, so the limit counts what is shown; the cap keeps the read bounded.
  const rows = (await query.orderByRaw(`${STATE_ORDER}, ${SEVERITY_ORDER}, i.id desc`).limit(matchers.length > 0 ? 100_000 : limit)) as InstanceWithRule[]
  const [silences, inhibitors] = await Promise.all([loadActiveSilences(ctx.db, now), loadInhibitors(ctx.db)])
  return rows
    .filter((row) => matchers.length === 0 || matchesAll(matchers, parseLabels(row.labels)))
    .slice(0, limit)
    .map((row) => instanceView(row, silences, inhibitors))
}

/** One instance by id, with its mute flags (alerts:ack's result). */
export async function readAlert(ctx: {db: Db; now(): Date}, id: number): Promise<AlertListItem | undefined> {
  const row = (await instancesQuery(ctx.db).where('i.id', id).first()) as InstanceWithRule | undefined
  if (row === undefined) return undefined
  const now = ctx.now()
  const [silences, inhibitors] = await Promise.all([loadActiveSilences(ctx.db, now), loadInhibitors(ctx.db)])
  return instanceView(row, silences, inhibitors)
}

/** One change of an alert's state as `alerts:history` shows it. */
export interface AlertTransitionView {
  id: number
  at: string
  instanceId: number
  rule: string
  severity: Severity
  labels: Labels
  from: AlertState
  to: AlertState
  summary: string | null
  /** `silence:<id>` or `inhibited:<instance id>` when the change was recorded but not notified. */
  mutedBy: string | null
  runId: number | null
}

export interface AlertHistoryInput {
  rule?: string
  matchers?: readonly string[]
  /** An ISO time or a duration back from now (`24h`). */
  since?: string
  /** At most this many (default 100). */
  limit?: number
}

const HISTORY_BATCH = 1000

/**
 * `alerts:history`: the changes of state, newest first, of one rule, of the
 * alerts whose labels match, since a time. Read in batches of a thousand
 * (newest first, by id) until `limit` match, so a matcher that few changes
 * satisfy still finds them.
 */
export async function alertHistory(ctx: {db: Knex; now(): Date}, input: AlertHistoryInput = {}): Promise<AlertTransitionView[]> {
  const now = ctx.now()
  const matchers = (input.matchers ?? []).map((m) => parseMatcher(m, '--matcher'))
  const limit = checkLimit(input.limit, 100, 100_000)
  const since = input.since === undefined ? null : parseTimeFlag(input.since, '--since', now)
  const out: AlertTransitionView[] = []
  let before: number | null = null
  for (;;) {
    let query = ctx
      .db('alert_transitions as t')
      .leftJoin('alert_rules as r', 'r.id', 't.rule_id')
      .select('t.*', 'r.name as rule_name', 'r.severity as rule_severity')
      .orderBy('t.id', 'desc')
      .limit(HISTORY_BATCH)
    if (before !== null) query = query.where('t.id', '<', before)
    if (input.rule !== undefined) query = query.where('r.name', input.rule)
    if (since !== null) query = query.where('t.at', '>=', since)
    const rows = await query
    for (const row of rows) {
      const labels = parseLabels(row.labels)
      if (matchers.length > 0 && !matchesAll(matchers, labels)) continue
      out.push({
        id: Number(row.id),
        at: toIsoRequired(row.at),
        instanceId: Number(row.instance_id),
        rule: row.rule_name ?? labels.alertname ?? `rule ${row.rule_id}`,
        severity: severityOf(labels.severity ?? row.rule_severity ?? 'warning'),
        labels,
        from: row.from_state,
        to: row.to_state,
        summary: row.summary,
        mutedBy: row.muted_by,
        runId: row.run_id === null ? null : Number(row.run_id),
      })
      if (out.length === limit) return out
    }
    if (rows.length < HISTORY_BATCH) return out
    before = Number(rows[rows.length - 1].id)
  }
}
