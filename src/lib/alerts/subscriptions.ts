import {appendAudit} from '../audit/writer.js'
import type {Principal} from '../auth/types.js'
import type {OpsContext} from '../context.js'
import {insertReturningId, type Db} from '../db/control-db.js'
import {toBool, toIsoRequired} from '../db/values.js'
import {NotFoundError, NotPermittedError, UserError} from '../errors/index.js'
import {checkEmail, checkWebhookUrl, displayTarget, type Channel} from './channels/target.js'
import {parseMatcher} from './labels.js'
import {SEVERITIES, type Severity} from './types.js'

/**
 * Who may subscribe whom: anyone who may see alerts (alerts.view) may have
 * them emailed to their own address; everything else — another operator, an
 * email address not their own, a webhook (raiops then posts, signed, to a URL
 * the caller chose) — needs alerts.manage-subscriptions. A token is nobody's
 * own: it names the operator (--operator) and needs alerts.manage-subscriptions.
 */
export const MANAGE_SUBSCRIPTIONS = 'alerts.manage-subscriptions'

export interface SubscribeInput {
  channel: Channel
  /** Email: an address (default: the operator's own); webhook: the http(s) URL (required). */
  target?: string | null
  /** Only these severities (default: any). */
  severities?: readonly string[] | null
  /** Only these rules, by name (default: any). */
  rules?: readonly string[] | null
  /** Only alerts whose labels match every one (`rds=eu-2`, `tenant=~Acme.*`). */
  matchers?: readonly string[]
  /** Whether a resolved alert is notified too (default true). */
  sendResolved?: boolean
  /** Whose subscription it is, by email (default: the signed-in operator). */
  operator?: string | null
}

/** A subscription as services return it: a webhook URL masked (its credentials and query never shown). */
export interface SubscriptionView {
  id: number
  operator: string
  channel: Channel
  /** The address or the masked URL; null for an email to the operator's own address. */
  target: string | null
  severities: Severity[] | null
  rules: string[] | null
  matchers: string[]
  sendResolved: boolean
  enabled: boolean
  createdBy: string
  createdAt: string
}

interface SubscriptionRow {
  id: number | string
  operator_id: number | string
  operator_email: string | null
  channel: string
  target: string | null
  severities: string | null
  rules: string | null
  matchers: string | null
  send_resolved: unknown
  enabled: unknown
  created_by: string
  created_at: unknown
}

function jsonList(text: string | null): string[] | null {
  if (text === null || text === '') return null
  const value = JSON.parse(text) as unknown
  return Array.isArray(value) ? value.map(String) : null
}

function channelOf(text: string): Channel {
  return text === 'webhook' ? 'webhook' : 'email'
}

function toView(row: SubscriptionRow): SubscriptionView {
  const channel = channelOf(row.channel)
  return {
    id: Number(row.id),
    operator: row.operator_email ?? `operator ${row.operator_id}`,
    channel,
    target: row.target === null ? null : displayTarget(channel, row.target),
    severities: jsonList(row.severities) as Severity[] | null,
    rules: jsonList(row.rules),
    matchers: jsonList(row.matchers) ?? [],
    sendResolved: toBool(row.send_resolved),
    enabled: toBool(row.enabled),
    createdBy: row.created_by,
    createdAt: toIsoRequired(row.created_at),
  }
}

const SELECT = [
  's.id',
  's.operator_id',
  'o.email as operator_email',
  's.channel',
  's.target',
  's.severities',
  's.rules',
  's.matchers',
  's.send_resolved',
  's.enabled',
  's.created_by',
  's.created_at',
]

function rowsQuery(db: Db) {
  return db('alert_subscriptions as s').leftJoin('operators as o', 'o.id', 's.operator_id')
}

/** The audit values of a subscription: its target masked as everywhere else. */
function auditValues(view: SubscriptionView): Record<string, unknown> {
  const {id: _id, createdBy: _by, createdAt: _at, ...values} = view
  return values
}

function severitiesOf(values: readonly string[] | null | undefined): Severity[] | null {
  if (!values || values.length === 0) return null
  const out: Severity[] = []
  for (const raw of values) {
    for (const part of raw.split(',')) {
      const value = part.trim().toLowerCase()
      if (value === '') continue
      if (!(SEVERITIES as readonly string[]).includes(value)) throw new UserError(`--severity must be one of ${SEVERITIES.join(', ')}, not "${part.trim()}"`)
      if (!out.includes(value as Severity)) out.push(value as Severity)
    }
  }
  return out.length === 0 ? null : out
}

function may(principal: Principal, permission: string): boolean {
  return principal.kind === 'system' || principal.permissions.includes(permission)
}

function refuse(principal: Principal, what: string): never {
  const who = principal.kind === 'operator' ? principal.email : principal.kind === 'token' ? `token "${principal.name}"` : principal.name
  throw new NotPermittedError(`${who} may not ${what}: it needs the permission ${MANAGE_SUBSCRIPTIONS}`, {
    hint: 'subscribe yourself by email, or ask someone who holds it',
  })
}

/**
 * Subscribes an operator to alert notifications on a channel, filtered by
 * severity, rule and label matchers. Everything is checked before anything is
 * written (UserError, exit 2): the channel's target, the severities, that every
 * rule exists, every matcher; then who may subscribe whom (see
 * MANAGE_SUBSCRIPTIONS). The subscription and its audit entry are written in one
 * transaction.
 */
export async function subscribe(ctx: Pick<OpsContext, 'db' | 'audit' | 'now' | 'principal'>, input: SubscribeInput): Promise<SubscriptionView> {
  const now = ctx.now()
  const principal = await ctx.principal()
  let target: string | null = null
  if (input.channel === 'webhook') {
    if (!input.target)
      throw new UserError('--target is required for a webhook: the URL to post alerts to', {hint: 'add --target https://hooks.example.com/raiops'})
    target = checkWebhookUrl(input.target)
  } else if (input.target) {
    target = checkEmail(input.target)
  }
  const severities = severitiesOf(input.severities)
  const rules = input.rules && input.rules.length > 0 ? [...new Set(input.rules.map((r) => r.trim()))] : null
  const matchers = (input.matchers ?? []).map((text) => parseMatcher(text, '--matcher'))
  if (principal.kind !== 'operator' && !input.operator) {
    throw new UserError(`--operator is required when ${principal.kind === 'token' ? 'a token' : 'raiops'} subscribes: a token is no operator`, {
      hint: 'add --operator EMAIL',
    })
  }
  return ctx.db.transaction(async (tx) => {
    if (rules) {
      const known = new Set(((await tx('alert_rules').whereIn('name', rules).pluck('name')) as string[]).map(String))
      const unknown = rules.filter((r) => !known.has(r))
      if (unknown.length > 0) throw new UserError(`no alert rule named ${unknown.map((r) => `"${r}"`).join(', ')}`, {hint: 'see `raiops alerts:rules:list`'})
    }
    let operator: {id: number; email: string}
    if (input.operator) {
      const row = (await tx('operators').whereRaw('lower(email) = ?', [input.operator.trim().toLowerCase()]).first('id', 'email', 'is_active')) as
        {id: number | string; email: string; is_active: unknown} | undefined
      if (!row) throw new NotFoundError(`no operator "${input.operator.trim()}"`, {hint: 'see `raiops operator:list`'})
      if (!toBool(row.is_active)) throw new UserError(`the operator ${row.email} is disabled`, {hint: 'enable them first, or subscribe someone else'})
      operator = {id: Number(row.id), email: row.email}
    } else {
      // Checked above: only an operator subscribes without --operator.
      const self = principal as Extract<Principal, {kind: 'operator'}>
      operator = {id: self.id, email: self.email}
    }
    const own = principal.kind === 'operator' && principal.id === operator.id
    if (!own && !may(principal, MANAGE_SUBSCRIPTIONS)) refuse(principal, `subscribe ${operator.email}`)
    if (input.channel === 'webhook' && !may(principal, MANAGE_SUBSCRIPTIONS)) refuse(principal, 'subscribe a webhook')
    if (target !== null && target.toLowerCase() === operator.email.toLowerCase()) target = null
    if (target !== null && !may(principal, MANAGE_SUBSCRIPTIONS)) refuse(principal, `have alerts emailed to ${target}`)

    const id = await insertReturningId(tx, 'alert_subscriptions', {
      operator_id: operator.id,
      channel: input.channel,
      target,
      severities: severities === null ? null : JSON.stringify(severities),
      rules: rules === null ? null : JSON.stringify(rules),
      matchers: matchers.length === 0 ? null : JSON.stringify(matchers.map((m) => m.text)),
      send_resolved: input.sendResolved ?? true,
      enabled: true,
      created_by: ctx.audit.actor,
      created_at: now,
      updated_at: now,
    })
    const view = toView((await rowsQuery(tx).where('s.id', id).first(SELECT)) as SubscriptionRow)
    await appendAudit(tx, ctx.audit, {action: 'alerts.subscribe', targetType: 'alert_subscription', targetId: id, newValues: auditValues(view)}, now)
    return view
  })
}

/** Every subscription (of one operator, by email, when given), oldest first. */
export async function listSubscriptions(ctx: Pick<OpsContext, 'db'>, input: {operator?: string | null} = {}): Promise<SubscriptionView[]> {
  const query = rowsQuery(ctx.db).select(SELECT).orderBy('s.id')
  if (input.operator) void query.whereRaw('lower(o.email) = ?', [input.operator.trim().toLowerCase()])
  return ((await query) as SubscriptionRow[]).map(toView)
}

/** A subscription id as typed: a positive whole number. */
export function parseSubscriptionId(text: string): number {
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) <= 0)
    throw new UserError(`the subscription id must be a positive whole number, not "${text}"`, {hint: 'see `raiops alerts:subscriptions`'})
  return Number(text)
}

/**
 * Removes a subscription: its messages not yet sent are dropped by the next
 * delivery. One's own needs alerts.view; anyone else's alerts.manage-subscriptions.
 * Audited in the same transaction.
 */
export async function unsubscribe(ctx: Pick<OpsContext, 'db' | 'audit' | 'now' | 'principal'>, input: {id: number}): Promise<SubscriptionView> {
  const now = ctx.now()
  const principal = await ctx.principal()
  return ctx.db.transaction(async (tx) => {
    const row = (await rowsQuery(tx).where('s.id', input.id).first(SELECT)) as SubscriptionRow | undefined
    if (!row) throw new NotFoundError(`no alert subscription ${input.id}`, {hint: 'see `raiops alerts:subscriptions`'})
    const view = toView(row)
    const own = principal.kind === 'operator' && principal.id === Number(row.operator_id)
    if (!own && !may(principal, MANAGE_SUBSCRIPTIONS)) refuse(principal, `remove ${view.operator}'s subscription`)
    await tx('alert_subscriptions').where({id: input.id}).delete()
    await appendAudit(tx, ctx.audit, {action: 'alerts.unsubscribe', targetType: 'alert_subscription', targetId: input.id, oldValues: auditValues(view)}, now)
    return view
  })
}
