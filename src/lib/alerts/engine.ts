import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {insertReturningId} from '../db/control-db.js'
import {describeDriverError} from '../db/driver-errors.js'
import type {AlertInstanceRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {acquireLease, LEASE_TTL_MS} from '../lease/lease.js'
import {redactSecretShapes} from '../redact/index.js'
import {deliverPending, type DeliveryReport} from './delivery.js'
import {inhibitedBy, inhibitors, loadActiveSilences, silencedBy} from './inhibition.js'
import type {ActiveSample, EvaluationTime} from './kind.js'
import {RULE_KINDS, type RuleKindRegistry} from './kinds/index.js'
import {fingerprint, parseLabels} from './labels.js'
import {loadSubscriptions, outboxRows, type NotificationKind, type NotifiedInstance, type OutboxRow} from './outbox.js'
import {loadEnabledRules} from './rules.js'
import {step, type InstanceState, type StepResult} from './state.js'
import {insertBatched, loadInstances, updateByIds, updateCase, chunks} from './store.js'
import {DEFAULT_INTERVAL_MS, DEFAULT_REPEAT_INTERVAL_MS, type AlertRule, type AlertState, type Labels, type Severity} from './types.js'

/**
 * The alert engine: every enabled rule evaluated by its kind, each instance
 * moved through its state machine (./state.ts), and the instances, their
 * transitions and the outbox written in ONE transaction, so a run that dies
 * part-way leaves every stored state as the run before left it. Delivery
 * (./delivery.ts) comes after the commit, from the outbox.
 */

/** The lease `alerts:run` holds: two runs never overlap. */
export const ALERTS_LEASE = 'alerts'

/** The label a synthetic instance carries when a rule had no data or failed to evaluate. */
export const ALERTSTATE_LABEL = 'alertstate'

export interface EvaluateOptions {
  /** The evaluation time. */
  now: Date
  /** The interval cron runs at; a gap is more than twice it. Default 5 min. */
  intervalMs?: number
  kinds?: RuleKindRegistry
  /** The alert_runs row the transitions and messages name; null for none. */
  runId?: number | null
  /** How long a firing alert waits before it is told again. Default 4 h. */
  repeatIntervalMs?: number
  /** The previous finished run's evaluation time; read from alert_runs when not given. */
  previousAt?: Date | null
  /** Checked between rules and before the commit: an abort rolls the evaluation back (it throws the abort's reason). */
  signal?: AbortSignal
  /** The test seam (RAIOPS_ALERT_HANG=mid-evaluation): hangs inside the transaction, after its first writes, before the commit. */
  hang?: 'mid-evaluation' | null
}

export interface TransitionView {
  rule: string
  labels: Labels
  from: AlertState
  to: AlertState
  mutedBy: string | null
}

export interface EvaluationResult {
  at: string
  previousAt: string | null
  /** More than twice the interval since the previous run: states not seen active became unknown. */
  gap: boolean
  rules: {evaluated: number; errors: Array<{rule: string; error: string}>; noData: string[]}
  transitions: TransitionView[]
  /** Instances firing after the run, and pending. */
  firing: number
  pending: number
  /** Firing instances that are not muted (silenced or inhibited), by severity: what --fail-on looks at. */
  firingUnmuted: Record<Severity, number>
  /** Outbox rows written. */
  queued: number
}

export interface RunOptions {
  now?: Date
  intervalMs?: number
  kinds?: RuleKindRegistry
  /** Send the outbox after the evaluation (default true). */
  deliver?: boolean
  signal?: AbortSignal
  repeatIntervalMs?: number
  /** Per message, for delivery. */
  deliveryTimeoutMs?: number
  /** The test seam (RAIOPS_ALERT_HANG=mid-evaluation), see EvaluateOptions. */
  hang?: 'mid-evaluation' | null
  /** Adds the rules a run must find (the default rules, seeded idempotently); called under the lease before evaluating. */
  seed?: (db: Knex, now: Date) => Promise<unknown>
}

export interface AlertRunResult {
  runId: number
  at: string
  gap: boolean
  rules: EvaluationResult['rules']
  transitions: TransitionView[]
  firing: number
  pending: number
  firingUnmuted: Record<Severity, number>
  /** `deferred`: not started before the delivery pass's deadline (still pending). */
  notifications: {queued: number; sent: number; failed: number; deferred: number; pendingAfter: number}
  deliveryErrors: string[]
  status: 'ok' | 'partial'
}

/** What a rule's evaluation made of it, after its NoData and Error policies. */
type RulePlan =
  | {mode: 'keep'}
  /** `active`: what holds now, by fingerprint; `othersFalse`: instances not in it are not active (else only synthetic ones are). */
  | {mode: 'evaluate'; active: Map<string, {labels: Labels; summary: string; value: number | null}>; othersFalse: boolean}

/** The evaluation time of the last run that finished (ok or partial), other than `exceptRunId`. */
/** Whether the run at `now` comes after a gap: more than twice the interval since the last run that evaluated. */
export function isGap(previousAt: Date | null, now: Date, intervalMs: number): boolean {
  return previousAt !== null && now.getTime() - previousAt.getTime() > 2 * intervalMs
}

export async function previousRunAt(db: Knex, exceptRunId: number | null = null): Promise<Date | null> {
  let query = db('alert_runs').whereNotNull('finished_at').whereIn('status', ['ok', 'partial'])
  if (exceptRunId !== null) query = query.whereNot('id', exceptRunId)
  const row = await query.orderBy('started_at', 'desc').first('started_at')
  const iso = row === undefined ? null : toIso(row.started_at)
  return iso === null ? null : new Date(iso)
}

function oneLine(error: unknown): string {
  const text = redactSecretShapes(describeDriverError(error)).split('\n')[0].trim()
  return text.length > 300 ? `${text.slice(0, 299)}…` : text || 'evaluation failed'
}

/** An instance's labels: the rule's, the sample's, then alertname and severity, which nothing overrides. */
export function instanceLabels(rule: AlertRule, sample: Labels): Labels {
  const labels: Record<string, string> = {}
  for (const name in rule.labels) labels[name] = rule.labels[name]
  for (const name in sample) labels[name] = sample[name]
  labels.alertname = rule.name
  labels.severity = rule.severity
  return labels
}

async function evaluateRule(ctx: Pick<OpsContext, 'db'>, rule: AlertRule, kinds: RuleKindRegistry, at: EvaluationTime) {
  const kind = kinds.get(rule.kind)
  if (kind === undefined) return {error: `unknown rule kind "${rule.kind}"`}
  const params = kind.params.safeParse(rule.params)
  if (!params.success) {
    const issue = params.error.issues[0]
    return {error: `its parameters no longer parse: ${issue.path.join('.') || 'params'}: ${issue.message}`}
  }
  try {
    return {evaluation: await kind.evaluate(ctx, params.data, at)}
  } catch (error) {
    return {error: oneLine(error)}
  }
}

function synthetic(rule: AlertRule, state: 'nodata' | 'error', summary: string): RulePlan {
  const labels = {...instanceLabels(rule, {}), [ALERTSTATE_LABEL]: state}
  return {mode: 'evaluate', active: new Map([[fingerprint(labels), {labels, summary, value: null}]]), othersFalse: state === 'nodata'}
}

/** What an instance's summary keeps: one line, bounded (the TEXT columns of MySQL hold 65,535 bytes). */
export const MAX_SUMMARY_LENGTH = 1000
function summaryOf(text: string): string {
  const line = text.split('\n')[0]
  return line.length > MAX_SUMMARY_LENGTH ? `${line.slice(0, MAX_SUMMARY_LENGTH - 1)}…` : line
}

function samplesPlan(rule: AlertRule, samples: readonly ActiveSample[]): RulePlan {
  const active = new Map<string, {labels: Labels; summary: string; value: number | null}>()
  for (const sample of samples) {
    const labels = instanceLabels(rule, sample.labels)
    const fp = fingerprint(labels)
    if (!active.has(fp)) active.set(fp, {labels, summary: summaryOf(sample.summary), value: sample.value ?? null})
  }
  return {mode: 'evaluate', active, othersFalse: true}
}

interface Work {
  rule: AlertRule
  row: AlertInstanceRow | null
  id: number
  fingerprint: string
  labels: Labels
  previous: InstanceState | null
  result: StepResult
  summary: string | null
  value: number | null
  lastNotifiedAt: number | null
  acked: boolean
  /** Whether its condition holds now (false for an instance its rule's policy kept as it was). */
  active: boolean
  mutedBy: string | null
}

const ms = (value: unknown): number | null => {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime()
  if (typeof value === 'number') return value
  const iso = toIso(value)
  return iso === null ? null : Date.parse(iso)
}
const isoOf = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString())
const dateOf = (t: number | null): Date | null => (t === null ? null : new Date(t))

function stateOf(row: AlertInstanceRow): InstanceState {
  return {state: row.state, activeAt: ms(row.active_at), firedAt: ms(row.fired_at), lastTrueAt: ms(row.last_true_at), resolvedAt: ms(row.resolved_at)}
}

/** The test seam (RAIOPS_ALERT_HANG=mid-evaluation): says so on stderr and waits, the transaction open with its first writes, for a test to kill -9 the process. A stop ends the wait. */
async function hangMidEvaluation(signal: AbortSignal | undefined): Promise<void> {
  process.stderr.write('hanging at mid-evaluation\n')
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

/**
 * Evaluates every enabled rule at `now` and writes what changed in one
 * transaction: no lease, no delivery (`runAlerts` adds both). The kinds read
 * before the transaction; the instances are read, stepped and written inside it.
 */
export async function evaluateAlerts(ctx: Pick<OpsContext, 'db'>, options: EvaluateOptions): Promise<EvaluationResult> {
  const {db} = ctx
  const now = options.now
  const t = now.getTime()
  const kinds = options.kinds ?? RULE_KINDS
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
  const repeatMs = options.repeatIntervalMs ?? DEFAULT_REPEAT_INTERVAL_MS
  const runId = options.runId ?? null
  const previousAt = options.previousAt !== undefined ? options.previousAt : await previousRunAt(db, runId)
  const gap = isGap(previousAt, now, intervalMs)

  const rules = await loadEnabledRules(db)
  const errors: Array<{rule: string; error: string}> = []
  const noData: string[] = []
  const plans = new Map<number, RulePlan>()
  // One evaluation time for every rule of the run, with what its kinds may share (kinds/billing.ts reads the ledgers once).
  const at = {now, previousRunAt: previousAt, shared: new Map<string, unknown>()}
  for (const rule of rules) {
    options.signal?.throwIfAborted()
    const outcome = await evaluateRule(ctx, rule, kinds, at)
    if ('error' in outcome) {
      errors.push({rule: rule.name, error: outcome.error ?? 'evaluation failed'})
      const policy = rule.onError
      plans.set(
        rule.id,
        policy === 'keep-last'
          ? {mode: 'keep'}
          : policy === 'ok'
            ? {mode: 'evaluate', active: new Map(), othersFalse: true}
            : synthetic(rule, 'error', outcome.error ?? 'evaluation failed'),
      )
    } else if (outcome.evaluation.noData) {
      noData.push(rule.name)
      const policy = rule.noData
      plans.set(
        rule.id,
        policy === 'keep-last'
          ? {mode: 'keep'}
          : policy === 'ok'
            ? {mode: 'evaluate', active: new Map(), othersFalse: true}
            : synthetic(rule, 'nodata', 'no data'),
      )
    } else {
      plans.set(rule.id, samplesPlan(rule, outcome.evaluation.active))
    }
  }

  const result = await db.transaction(async (tx) => {
    const ruleById = new Map(rules.map((r) => [r.id, r]))
    const rows = await loadInstances(tx, [...ruleById.keys()])
    const silences = await loadActiveSilences(tx, now)
    const subscriptions = await loadSubscriptions(tx)

    const works: Work[] = []
    const seen = new Set<string>()
    for (const row of rows) {
      const rule = ruleById.get(Number(row.rule_id))
      if (rule === undefined) continue
      const plan = plans.get(rule.id) ?? {mode: 'keep'}
      seen.add(`${rule.id}:${row.fingerprint}`)
      const previous = stateOf(row)
      const sample = plan.mode === 'evaluate' ? plan.active.get(row.fingerprint) : undefined
      // The same fingerprint, the same labels: the stored ones are parsed only for an instance not seen now.
      const labels = sample?.labels ?? parseLabels(row.labels)
      const kept = plan.mode === 'keep' || (sample === undefined && !plan.othersFalse && labels[ALERTSTATE_LABEL] === undefined)
      const outcome: StepResult = kept
        ? {next: previous, changed: false, event: null, newEpisode: false}
        : step({previous, active: sample !== undefined, now: t, forMs: rule.forMs, keepFiringForMs: rule.keepFiringForMs, gap})
      works.push({
        rule,
        row,
        id: Number(row.id),
        fingerprint: row.fingerprint,
        labels,
        previous,
        result: outcome,
        summary: sample?.summary ?? row.summary,
        value: sample === undefined ? (row.value === null ? null : Number(row.value)) : sample.value,
        lastNotifiedAt: ms(row.last_notified_at),
        acked: row.acked_at !== null && !outcome.newEpisode,
        active: !kept && sample !== undefined,
        mutedBy: null,
      })
    }
    const fresh: Work[] = []
    for (const rule of rules) {
      const plan = plans.get(rule.id)
      if (plan?.mode !== 'evaluate') continue
      for (const [fp, sample] of plan.active) {
        if (seen.has(`${rule.id}:${fp}`)) continue
        const outcome = step({previous: null, active: true, now: t, forMs: rule.forMs, keepFiringForMs: rule.keepFiringForMs, gap})
        const work: Work = {
          rule,
          row: null,
          id: 0,
          fingerprint: fp,
          labels: sample.labels,
          previous: null,
          result: outcome,
          summary: sample.summary,
          value: sample.value,
          lastNotifiedAt: null,
          acked: false,
          active: true,
          mutedBy: null,
        }
        fresh.push(work)
        works.push(work)
      }
    }

    // New instances, then their ids (MySQL returns only the first id of a multi-row insert).
    if (fresh.length > 0) {
      await insertBatched(
        tx,
        'alert_instances',
        fresh.map((w) => ({
          rule_id: w.rule.id,
          fingerprint: w.fingerprint,
          labels: JSON.stringify(w.labels),
          state: w.result.next.state,
          summary: w.summary,
          value: w.value,
          active_at: dateOf(w.result.next.activeAt),
          fired_at: dateOf(w.result.next.firedAt),
          last_true_at: dateOf(w.result.next.lastTrueAt),
          last_eval_at: now,
          last_notified_at: null,
          resolved_at: dateOf(w.result.next.resolvedAt),
          acked_by: null,
          acked_at: null,
          created_at: now,
          updated_at: now,
        })),
      )
      const byKey = new Map(fresh.map((w) => [`${w.rule.id}:${w.fingerprint}`, w]))
      for (const batch of chunks(fresh, 5000)) {
        const ids = await tx('alert_instances')
          .whereIn('rule_id', [...new Set(batch.map((w) => w.rule.id))])
          .whereIn(
            'fingerprint',
            batch.map((w) => w.fingerprint),
          )
          .select('id', 'rule_id', 'fingerprint')
        for (const r of ids as Array<{id: number; rule_id: number; fingerprint: string}>) {
          const w = byKey.get(`${Number(r.rule_id)}:${r.fingerprint}`)
          if (w !== undefined) w.id = Number(r.id)
        }
      }
    }

    // Muting: silences first, then an RDS that is down inhibits its health and sync alerts.
    const found = inhibitors(works.filter((w) => w.result.next.state === 'firing').map((w) => ({kind: w.rule.kind, labels: w.labels, id: w.id})))
    for (const w of works) w.mutedBy = silencedBy(silences, w.labels) ?? inhibitedBy(found, w.rule.kind, w.labels)

    // Transitions.
    const transitions: TransitionView[] = []
    const transitionRows: object[] = []
    for (const w of works) {
      if (!w.result.changed) continue
      const from = w.previous?.state ?? 'inactive'
      const mutedBy = w.result.event !== null ? w.mutedBy : null
      transitions.push({rule: w.rule.name, labels: w.labels, from, to: w.result.next.state, mutedBy})
      transitionRows.push({
        instance_id: w.id,
        rule_id: w.rule.id,
        run_id: runId,
        from_state: from,
        to_state: w.result.next.state,
        at: now,
        summary: w.summary,
        labels: JSON.stringify(w.labels),
        muted_by: mutedBy,
      })
    }
    await insertBatched(tx, 'alert_transitions', transitionRows)
    if (options.hang === 'mid-evaluation') await hangMidEvaluation(options.signal)

    // The outbox: per rule and kind, one row per subscription.
    const groups = new Map<string, {rule: AlertRule; kind: NotificationKind; instances: NotifiedInstance[]}>()
    const add = (w: Work, kind: NotificationKind) => {
      const key = `${w.rule.id}:${kind}`
      let group = groups.get(key)
      if (group === undefined) groups.set(key, (group = {rule: w.rule, kind, instances: []}))
      const n = w.result.next
      group.instances.push({
        id: w.id,
        labels: w.labels,
        state: n.state,
        summary: w.summary,
        activeAt: isoOf(n.activeAt),
        firedAt: isoOf(n.firedAt),
        resolvedAt: isoOf(n.resolvedAt),
      })
    }
    for (const w of works) {
      if (w.mutedBy !== null) continue
      const n = w.result.next
      if (w.result.event === 'fired') add(w, 'firing')
      else if (w.result.event === 'resolved') {
        // Told only when its firing was: a silenced firing gets no resolved message.
        const firedAt = w.previous?.firedAt ?? null
        if (firedAt !== null && w.lastNotifiedAt !== null && w.lastNotifiedAt >= firedAt) add(w, 'resolved')
      } else if (n.state === 'firing' && !w.acked && (w.lastNotifiedAt === null || w.lastNotifiedAt <= t - repeatMs)) add(w, 'repeat')
    }
    const outbox: OutboxRow[] = []
    const notified = new Set<number>()
    for (const group of groups.values()) {
      const made = outboxRows({...group, subscriptions, at: now, runId})
      outbox.push(...made.rows)
      for (const id of made.notified) notified.add(id)
    }
    await insertBatched(tx, 'alert_notifications', outbox)

    // Instances: every one of the evaluated rules was evaluated now; only what else changed is written per row.
    // A rule whose stored pending and firing instances all hold now (the usual case) has their
    // last_true_at set in the same statement, by state, without a list of ids.
    const whole = new Set(rules.filter((r) => plans.get(r.id)?.mode === 'evaluate').map((r) => r.id))
    for (const w of works) if (w.row !== null && !w.active && (w.previous?.state === 'pending' || w.previous?.state === 'firing')) whole.delete(w.rule.id)
    const wholeIds = [...whole]
    await tx('alert_instances')
      .whereIn('rule_id', [...ruleById.keys()])
      .update({
        last_eval_at: now,
        ...(wholeIds.length === 0
          ? {}
          : {
              last_true_at: tx.raw(`CASE WHEN ?? IN (${wholeIds.map(() => '?').join(', ')}) AND ?? IN (?, ?) THEN ? ELSE ?? END`, [
                'rule_id',
                ...wholeIds,
                'state',
                'pending',
                'firing',
                now,
                'last_true_at',
              ]),
            }),
      })
    const trueOnly: number[] = []
    // An acknowledgement is only ever cleared (a new episode), never written back: one made while this run evaluated stays.
    const unacked: number[] = []
    const full: Array<{id: number; values: Record<string, unknown>}> = []
    for (const w of works) {
      if (w.row === null) continue
      const p = w.previous as InstanceState
      const n = w.result.next
      const sameState = n.state === p.state && n.activeAt === p.activeAt && n.firedAt === p.firedAt && n.resolvedAt === p.resolvedAt
      const sameText = w.summary === w.row.summary && w.value === (w.row.value === null ? null : Number(w.row.value))
      if (w.row.acked_at !== null && !w.acked) unacked.push(w.id)
      if (sameState && sameText) {
        if (n.lastTrueAt !== p.lastTrueAt && !(whole.has(w.rule.id) && (p.state === 'pending' || p.state === 'firing'))) trueOnly.push(w.id)
        continue
      }
      full.push({
        id: w.id,
        values: {
          state: n.state,
          summary: w.summary,
          value: w.value,
          active_at: dateOf(n.activeAt),
          fired_at: dateOf(n.firedAt),
          last_true_at: dateOf(n.lastTrueAt),
          resolved_at: dateOf(n.resolvedAt),
          updated_at: now,
        },
      })
    }
    await updateByIds(tx, 'alert_instances', trueOnly, {last_true_at: now})
    await updateCase(
      tx,
      'alert_instances',
      {
        state: 'text',
        summary: 'text',
        value: 'double',
        active_at: 'timestamp',
        fired_at: 'timestamp',
        last_true_at: 'timestamp',
        resolved_at: 'timestamp',
        updated_at: 'timestamp',
      },
      full,
    )
    await updateByIds(tx, 'alert_instances', unacked, {acked_by: null, acked_at: null, updated_at: now})
    await updateByIds(tx, 'alert_instances', [...notified], {last_notified_at: now})
    // With the states it wrote: a run that dies after this commit was an evaluation (the next run's gap counts from it).
    if (runId !== null) await tx('alert_runs').where({id: runId}).update({status: 'evaluated'})
    // A stop before the commit rolls every write of the evaluation back.
    options.signal?.throwIfAborted()

    const firingUnmuted: Record<Severity, number> = {critical: 0, warning: 0, info: 0}
    let firing = 0
    let pending = 0
    for (const w of works) {
      if (w.result.next.state === 'pending') pending++
      if (w.result.next.state !== 'firing') continue
      firing++
      if (w.mutedBy === null) firingUnmuted[w.rule.severity]++
    }
    return {transitions, firing, pending, firingUnmuted, queued: outbox.length}
  })

  return {
    at: now.toISOString(),
    previousAt: previousAt === null ? null : previousAt.toISOString(),
    gap,
    rules: {evaluated: rules.length, errors, noData},
    ...result,
  }
}

/**
 * `alerts:run`: under the `alerts` lease (BusyError, exit 6, when another run
 * holds it), records the run in alert_runs, seeds what must exist, evaluates
 * (one transaction, which also marks the row `evaluated`), then delivers the
 * outbox and finishes the run's row: `ok`, `partial` (a rule errored, a message
 * is still undelivered, or the run stopped after its evaluation committed) or
 * `failed` (the evaluation's transaction did not commit: nothing changed).
 */
export async function runAlerts(ctx: Pick<OpsContext, 'db' | 'now'>, options: RunOptions = {}): Promise<AlertRunResult> {
  const {db} = ctx
  const now = options.now ?? ctx.now()
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS
  const lease = await acquireLease(db, ALERTS_LEASE, {ttlMs: LEASE_TTL_MS})
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal
    // A run that died holding the lease left its row running (it changed nothing: its transaction never committed),
    // or evaluated (its evaluation was committed, its notifications wait in the outbox).
    await db('alert_runs')
      .where({status: 'running'})
      .update({status: 'failed', finished_at: now, error: 'interrupted before it finished: its evaluation was not committed'})
    await db('alert_runs')
      .where({status: 'evaluated'})
      .update({status: 'partial', finished_at: now, error: 'interrupted while sending: its evaluation was committed, its notifications wait in the outbox'})
    const previousAt = await previousRunAt(db)
    const gap = isGap(previousAt, now, intervalMs)
    const runId = await insertReturningId(db, 'alert_runs', {
      started_at: now,
      status: 'running',
      previous_at: previousAt,
      gap,
      holder: `${lease.holder.host}:${lease.holder.pid}`.slice(0, 255),
    })
    let evaluated = false
    try {
      if (options.seed) await options.seed(db, now)
      signal.throwIfAborted()
      const evaluation = await evaluateAlerts(ctx, {
        now,
        intervalMs,
        kinds: options.kinds,
        runId,
        previousAt,
        repeatIntervalMs: options.repeatIntervalMs,
        signal,
        hang: options.hang,
      })
      evaluated = true
      const delivery: DeliveryReport =
        options.deliver === false
          ? {sent: 0, failed: 0, dropped: 0, deferred: 0, errors: []}
          : await deliverPending(ctx, {now, timeoutMs: options.deliveryTimeoutMs, signal})
      const pendingRow = await db('alert_notifications').where({state: 'pending'}).count({n: '*'}).first()
      const pendingAfter = Number(pendingRow?.n ?? 0)
      const status = evaluation.rules.errors.length > 0 || delivery.failed > 0 || delivery.deferred > 0 ? 'partial' : 'ok'
      const result: AlertRunResult = {
        runId,
        at: evaluation.at,
        gap: evaluation.gap,
        rules: evaluation.rules,
        transitions: evaluation.transitions,
        firing: evaluation.firing,
        pending: evaluation.pending,
        firingUnmuted: evaluation.firingUnmuted,
        notifications: {queued: evaluation.queued, sent: delivery.sent, failed: delivery.failed, deferred: delivery.deferred, pendingAfter},
        deliveryErrors: delivery.errors,
        status,
      }
      const stats = {
        rules: evaluation.rules.evaluated,
        errors: evaluation.rules.errors,
        noData: evaluation.rules.noData,
        transitions: evaluation.transitions.length,
        firing: evaluation.firing,
        pending: evaluation.pending,
        notifications: result.notifications,
      }
      await db('alert_runs')
        .where({id: runId})
        .update({status, finished_at: ctx.now(), stats: JSON.stringify(stats)})
      return result
    } catch (error) {
      // Failed only when its evaluation did not commit; after it, the run evaluated and only its sending stopped.
      await db('alert_runs')
        .where({id: runId})
        .update({status: evaluated ? 'partial' : 'failed', finished_at: ctx.now(), error: oneLine(error)})
        .catch(() => undefined)
      throw error
    }
  } finally {
    await lease.release()
  }
}
