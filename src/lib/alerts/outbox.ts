import type {Knex} from 'knex'
import {createHash} from 'node:crypto'

import type {AlertNotificationRow, AlertSubscriptionRow} from '../db/tables.js'
import {toBool} from '../db/values.js'
import {matchesAll, parseMatcher, type Matcher} from './labels.js'
import type {AlertRule, AlertState, Labels, NotificationPayload} from './types.js'

/**
 * The outbox rows one run writes: for each rule, each kind of message
 * (firing, resolved, repeat) and each enabled subscription, ONE row grouping
 * every instance of that rule and kind the subscription matches (40 tenants
 * overdue make one message). Written in the run's transaction, before any
 * sending; the key is the receiver's idempotency key.
 */

export type NotificationKind = NotificationPayload['kind']

export interface Subscription {
  id: number
  channel: 'email' | 'webhook'
  /** Where it goes: the subscription's target, else (email) the operator's address; null when there is nowhere. */
  target: string | null
  severities: ReadonlySet<string> | null
  rules: ReadonlySet<string> | null
  matchers: Matcher[]
  sendResolved: boolean
}

/** Every enabled subscription of an active operator, with where it sends. One query. Unreadable filters match nothing. */
export async function loadSubscriptions(db: Knex): Promise<Subscription[]> {
  const rows: Array<AlertSubscriptionRow & {operator_email: string}> = await db('alert_subscriptions as s')
    .join('operators as o', 'o.id', 's.operator_id')
    .where('s.enabled', true)
    .andWhere('o.is_active', true)
    .orderBy('s.id')
    .select('s.*', 'o.email as operator_email')
  const subscriptions: Subscription[] = []
  for (const row of rows) {
    try {
      subscriptions.push({
        id: Number(row.id),
        channel: row.channel,
        target: row.target ?? (row.channel === 'email' ? row.operator_email : null),
        severities: nameSet(row.severities),
        rules: nameSet(row.rules),
        matchers: (jsonArray(row.matchers) ?? []).map((text) => parseMatcher(text)),
        sendResolved: toBool(row.send_resolved),
      })
    } catch {
      // a filter that no longer parses: the subscription receives nothing until it is fixed
    }
  }
  return subscriptions
}

function jsonArray(text: string | null): string[] | null {
  if (text === null) return null
  const value: unknown = JSON.parse(text)
  if (value === null) return null
  if (!Array.isArray(value)) throw new Error('not a list')
  return value.map(String)
}

function nameSet(text: string | null): ReadonlySet<string> | null {
  const list = jsonArray(text)
  return list === null || list.length === 0 ? null : new Set(list)
}

/** Whether a subscription wants an instance of this rule: its severity, its rule's name, its labels. */
export function subscriptionMatches(subscription: Subscription, rule: Pick<AlertRule, 'name' | 'severity'>, labels: Labels): boolean {
  if (subscription.severities !== null && !subscription.severities.has(rule.severity)) return false
  if (subscription.rules !== null && !subscription.rules.has(rule.name)) return false
  return matchesAll(subscription.matchers, labels)
}

/** An instance as a message tells it. */
export interface NotifiedInstance {
  id: number
  labels: Labels
  state: AlertState
  summary: string | null
  activeAt: string | null
  firedAt: string | null
  resolvedAt: string | null
}

export type OutboxRow = Omit<AlertNotificationRow, 'id'>

/** `kind:ruleId:subscriptionId:sha256(sorted "instanceId@transitionAt")`: the same message always has the same key, and no two differ in it. */
export function notificationKey(kind: NotificationKind, ruleId: number, subscriptionId: number, instances: ReadonlyArray<{id: number}>, at: Date): string {
  const list = instances
    .map((i) => `${i.id}@${at.toISOString()}`)
    .sort()
    .join('\n')
  return `${kind}:${ruleId}:${subscriptionId}:${createHash('sha256').update(list).digest('hex')}`
}

export function notificationTitle(kind: NotificationKind, rule: Pick<AlertRule, 'name' | 'severity'>, count: number): string {
  return `[${kind === 'resolved' ? 'RESOLVED' : 'FIRING'}:${count}] ${rule.name} (${rule.severity})`
}

/** At most this many instances are listed in one message; the title still counts them all. */
export const MAX_ALERTS_PER_MESSAGE = 100
/** The payload's size bound in bytes: the outbox's TEXT column holds 65,535 on MySQL. */
export const MAX_PAYLOAD_BYTES = 60_000

/** The payload as JSON, its list of alerts cut (and `omitted` set) so that it stays under MAX_PAYLOAD_BYTES. */
export function boundedPayload(payload: NotificationPayload): string {
  const total = payload.alerts.length
  let keep = Math.min(total, MAX_ALERTS_PER_MESSAGE)
  for (;;) {
    const cut: NotificationPayload = keep === total ? payload : {...payload, alerts: payload.alerts.slice(0, keep), omitted: total - keep}
    const text = JSON.stringify(cut)
    if (keep === 0 || Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES) return text
    keep = Math.floor(keep / 2)
  }
}

export interface OutboxInput {
  rule: AlertRule
  kind: NotificationKind
  instances: readonly NotifiedInstance[]
  subscriptions: readonly Subscription[]
  at: Date
  runId: number | null
}

/** The rows for one rule and kind: one per subscription that matches at least one of the instances. */
export function outboxRows(input: OutboxInput): {rows: OutboxRow[]; notified: Set<number>} {
  const {rule, kind, at} = input
  const rows: OutboxRow[] = []
  const notified = new Set<number>()
  if (input.instances.length === 0) return {rows, notified}
  for (const subscription of input.subscriptions) {
    if (subscription.target === null) continue
    if (kind === 'resolved' && !subscription.sendResolved) continue
    const group = input.instances.filter((i) => subscriptionMatches(subscription, rule, i.labels))
    if (group.length === 0) continue
    const key = notificationKey(kind, rule.id, subscription.id, group, at)
    const payload = boundedPayload({
      key,
      kind,
      rule: {name: rule.name, kind: rule.kind, severity: rule.severity, description: rule.description},
      at: at.toISOString(),
      alerts: group.map((i) => ({labels: i.labels, state: i.state, summary: i.summary, activeAt: i.activeAt, firedAt: i.firedAt, resolvedAt: i.resolvedAt})),
      title: notificationTitle(kind, rule, group.length),
    })
    rows.push({
      key,
      subscription_id: subscription.id,
      channel: subscription.channel,
      target: subscription.target,
      rule_id: rule.id,
      run_id: input.runId,
      kind,
      payload,
      state: 'pending',
      attempts: 0,
      last_error: null,
      created_at: at,
      next_attempt_at: at,
      sent_at: null,
    })
    for (const i of group) notified.add(i.id)
  }
  return {rows, notified}
}
