import {z} from 'zod'

import {appendAudit, lockForChange} from '../audit/writer.js'
import type {ChangeContext, OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {ALERT_RULES_TABLE, type AlertRuleRow} from '../db/tables.js'
import {toBool, toIsoRequired} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {parseDuration} from '../time/duration.js'
import type {AnyRuleKind} from './kind.js'
import {RULE_KINDS, type RuleKindRegistry} from './kinds/index.js'
import {checkLabels} from './labels.js'
import {ERROR_POLICIES, NO_DATA_POLICIES, SEVERITIES, type AlertRule, type Labels, type Severity} from './types.js'

/**
 * Alert rules: the defaults raiops ships (seeded by `raiops init` and by every
 * `alerts:run`, by name, never over an operator's edit) and the services behind
 * `alerts:rules:*`. A rule's parameters are checked by its kind's schema and
 * stored with the kind's defaults filled in; durations are stored in ms.
 */

/** A rule as written: what `DEFAULT_RULES` lists and what `createRule` stores. */
export type RuleDefinition = Pick<AlertRule, 'name' | 'kind' | 'params' | 'forMs' | 'keepFiringForMs' | 'severity' | 'labels' | 'noData' | 'onError'> & {
  description: string
}

const MINUTE = 60_000

function builtin(name: string, kind: string, severity: Severity, description: string, more: Partial<RuleDefinition> = {}): RuleDefinition {
  // NoData: no RDS registered yet (a new installation) is nothing to be told about.
  return {name, kind, params: {}, forMs: 0, keepFiringForMs: 0, severity, labels: {}, noData: 'ok', onError: 'error', description, ...more}
}

/** The rules raiops ships with (`builtin`): an operator may edit or disable them, not delete them. */
export const DEFAULT_RULES: readonly RuleDefinition[] = [
  builtin('rds-down', 'rds_down', 'critical', 'An RDS has been down at every health check for 5 minutes.', {forMs: 5 * MINUTE}),
  builtin('rds-degraded', 'rds_degraded', 'warning', 'An RDS has been degraded (slow, a failed check, connections nearly used up) for 10 minutes.', {
    forMs: 10 * MINUTE,
    keepFiringForMs: 10 * MINUTE,
  }),
  builtin('sync-tenants-stale', 'sync_stale', 'warning', "An RDS's tenant sync has not succeeded for 2 hours.", {params: {sync: 'tenants', maxAge: '2h'}}),
  builtin('sync-routing-stale', 'sync_stale', 'warning', "The master's routing sync has not succeeded for 30 minutes.", {
    params: {sync: 'routing', maxAge: '30m'},
  }),
  builtin('sync-failing', 'sync_failing', 'warning', 'The latest sync of an RDS failed or was partial.'),
  builtin('audit-chain-broken', 'audit_chain_broken', 'critical', 'The audit chain does not verify: an entry was edited, removed or reordered.'),
  builtin('lease-overdue', 'lease_overdue', 'warning', 'A lease or a running job was held past its expiry: its process died without releasing it.'),
  builtin('jobs-failed', 'jobs_failed', 'warning', 'A job failed: retry it (job:retry) or cancel it (job:cancel).'),
  builtin('jobs-stuck', 'jobs_stuck', 'warning', 'A job has been queued or running without progress for 30 minutes.', {params: {after: '30m'}}),
  builtin('billing-overdue', 'billing_overdue', 'warning', 'A tenant has a billing period unpaid past the grace days.'),
  builtin('trials-ending', 'trial_ending', 'info', "A tenant's trial ends within 7 days.", {params: {within: '7d'}}),
  builtin('engine-heartbeat', 'engine_heartbeat', 'critical', 'No alert evaluation for 15 minutes before this run: cron stopped running alerts:run.', {
    params: {maxGap: '15m'},
  }),
]

/** Who the seeded rules are created by. */
export const SEED_ACTOR = 'raiops'

const RULE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/
const MAX_DESCRIPTION = 1000
/** Labels the engine sets on every instance: a rule may not set them. */
const RESERVED_LABELS = ['alertname', 'severity', 'alertstate']

function parseJson(text: string | null): Record<string, unknown> {
  if (!text) return {}
  try {
    const value = JSON.parse(text) as unknown
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** Only the string values of a stored JSON object: a label set. */
function stringValues(object: Record<string, unknown>): Labels {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(object)) if (typeof value === 'string') out[name] = value
  return out
}

/**
 * A stored rule. JSON that does not parse (a row edited by hand) becomes `{}`:
 * the kind's schema then says what is wrong, as an evaluation error of that
 * rule, never a crashed run.
 */
export function rowToRule(row: AlertRuleRow): AlertRule {
  return {
    id: Number(row.id),
    name: row.name,
    kind: row.kind,
    params: parseJson(row.params),
    forMs: Number(row.for_ms),
    keepFiringForMs: Number(row.keep_firing_for_ms),
    severity: row.severity,
    labels: stringValues(parseJson(row.labels)),
    noData: row.no_data,
    onError: row.on_error,
    description: row.description,
    enabled: toBool(row.enabled),
    builtin: toBool(row.builtin),
    createdBy: row.created_by,
    createdAt: toIsoRequired(row.created_at),
    updatedAt: toIsoRequired(row.updated_at),
  }
}

/** Every enabled rule, oldest first: what a run evaluates. One query. */
export async function loadEnabledRules(db: Db): Promise<AlertRule[]> {
  const rows = await db(ALERT_RULES_TABLE).where({enabled: true}).orderBy('id')
  return rows.map(rowToRule)
}

function knownKinds(kinds: RuleKindRegistry): string {
  return [...kinds.keys()].join(', ')
}

function kindOf(kinds: RuleKindRegistry, name: string): AnyRuleKind {
  const kind = kinds.get(name)
  if (kind === undefined) throw new UserError(`unknown rule kind "${name}"; the kinds are ${knownKinds(kinds)}`, {hint: 'see `raiops alerts:rules:kinds`'})
  return kind
}

/** The parameter names a kind's schema declares. */
function paramNames(kind: AnyRuleKind): string[] {
  const schema = kind.params as unknown
  return schema instanceof z.ZodObject ? Object.keys((schema as z.AnyZodObject).shape) : []
}

/**
 * The kind's parameters checked by its schema, with its defaults filled in;
 * a UserError naming the parameter otherwise. Also what the engine uses to
 * refuse a stored rule whose parameters no longer parse.
 */
export function parseRuleParams(kind: AnyRuleKind, params: Record<string, unknown>): Record<string, unknown> {
  const parsed = kind.params.safeParse(params)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const names = paramNames(kind)
    throw new UserError(
      `the kind ${kind.kind} has no parameter ${issue.keys.map((k) => `"${k}"`).join(', ')}; ${names.length === 0 ? 'it takes none' : `its parameters are ${names.join(', ')}`}`,
      {hint: 'see `raiops alerts:rules:kinds`'},
    )
  }
  const name = issue.path.join('.')
  const message = name !== '' && issue.message.startsWith(name) ? issue.message : `${name || 'the parameters'}: ${issue.message}`
  throw new UserError(`--param ${message} (kind ${kind.kind})`, {hint: 'see `raiops alerts:rules:kinds`'})
}

/** A rule's duration flag: `0` (none) or a duration such as 5m; never negative. */
export function parseRuleDuration(text: string, flag: string): number {
  const trimmed = text.trim()
  if (/^0+(\.0+)?\s*(ms|s|m|h|d|w)?$/i.test(trimmed)) return 0
  if (trimmed.startsWith('-')) throw new UserError(`${flag} must not be negative, not "${text}"`, {hint: `give 0 or a duration such as 5m`})
  return parseDuration(trimmed, flag)
}

function oneOf<T extends string>(values: readonly T[], value: string, flag: string): T {
  if (!(values as readonly string[]).includes(value)) throw new UserError(`${flag} must be one of ${values.join(', ')}, not "${value}"`)
  return value as T
}

function checkRuleLabels(labels: Record<string, string>, kind: AnyRuleKind): Labels {
  const checked = checkLabels(labels, 'the --label')
  for (const name of Object.keys(checked)) {
    if (RESERVED_LABELS.includes(name)) throw new UserError(`the --label ${name} is set by the engine on every alert; choose another name`)
    if (kind.labelNames.includes(name))
      throw new UserError(`the --label ${name} is set by the kind ${kind.kind} on each of its alerts; choose another name`, {
        hint: 'to pick some of its alerts, use a silence or a subscription matcher',
      })
  }
  return checked
}

function checkDescription(description: string | null | undefined): string | null {
  if (description === undefined || description === null) return null
  const text = description.trim()
  if (text.length > MAX_DESCRIPTION) throw new UserError(`--description must be at most ${MAX_DESCRIPTION} characters`)
  return text === '' ? null : text
}

/** The columns of a rule, as stored. */
function ruleColumns(rule: RuleDefinition & {enabled: boolean}): Omit<AlertRuleRow, 'id' | 'builtin' | 'created_by' | 'created_at' | 'updated_at'> {
  return {
    name: rule.name,
    kind: rule.kind,
    params: JSON.stringify(rule.params),
    for_ms: rule.forMs,
    keep_firing_for_ms: rule.keepFiringForMs,
    severity: rule.severity,
    labels: JSON.stringify(rule.labels),
    no_data: rule.noData,
    on_error: rule.onError,
    description: rule.description === '' ? null : rule.description,
    enabled: rule.enabled,
  }
}

/**
 * Inserts the default rules that are missing, by name, with their kinds'
 * defaults filled in. A rule an operator edited or disabled is never touched;
 * running it again changes nothing (and two seeders racing insert each rule
 * once: the name is unique). Returns the names it created.
 */
export async function seedDefaultRules(db: Db, now: Date, kinds: RuleKindRegistry = RULE_KINDS): Promise<string[]> {
  const existing = new Set((await db(ALERT_RULES_TABLE).pluck('name')) as string[])
  const missing = DEFAULT_RULES.filter((rule) => !existing.has(rule.name))
  if (missing.length === 0) return []
  const rows = missing.map((rule) => ({
    ...ruleColumns({...rule, params: parseRuleParams(kindOf(kinds, rule.kind), rule.params), enabled: true}),
    builtin: true,
    created_by: SEED_ACTOR,
    created_at: now,
    updated_at: now,
  }))
  await db(ALERT_RULES_TABLE).insert(rows).onConflict('name').ignore()
  return missing.map((rule) => rule.name)
}

export async function listRules(ctx: Pick<OpsContext, 'db'>, input: {enabled?: boolean} = {}): Promise<AlertRule[]> {
  const query = ctx.db(ALERT_RULES_TABLE).orderBy('name')
  if (input.enabled !== undefined) query.where({enabled: input.enabled})
  return (await query).map(rowToRule)
}

async function readRule(db: Db, name: string): Promise<AlertRuleRow> {
  const row = await db(ALERT_RULES_TABLE).where({name}).first()
  if (row === undefined) throw new NotFoundError(`no alert rule named "${name}"`, {hint: 'see `raiops alerts:rules:list`'})
  return row
}

export async function showRule(ctx: Pick<OpsContext, 'db'>, input: {name: string}): Promise<AlertRule> {
  return rowToRule(await readRule(ctx.db, input.name))
}

/** What an operator gives for a rule; durations as text (`5m`, `0`), labels and parameters as given on the command line. */
export interface RuleChanges {
  /** The kind's parameters; on edit, merged into the stored ones (a key given as '' goes back to its default). */
  params?: Record<string, unknown>
  for?: string
  keepFiringFor?: string
  severity?: string
  /** On edit, merged into the stored ones (a label given as '' is removed). */
  labels?: Record<string, string>
  noData?: string
  onError?: string
  description?: string | null
  enabled?: boolean
}

export interface CreateRuleInput extends RuleChanges {
  name: string
  kind: string
}

/** The audited view of a rule: what it does, without ids or times. */
function auditValues(rule: RuleDefinition & {enabled: boolean}): Record<string, unknown> {
  return {
    kind: rule.kind,
    params: rule.params,
    forMs: rule.forMs,
    keepFiringForMs: rule.keepFiringForMs,
    severity: rule.severity,
    labels: rule.labels,
    noData: rule.noData,
    onError: rule.onError,
    description: rule.description,
    enabled: rule.enabled,
  }
}

/** Checks a whole rule: every problem is a UserError before anything is written. */
function resolveRule(base: RuleDefinition & {enabled: boolean}, changes: RuleChanges, kinds: RuleKindRegistry): RuleDefinition & {enabled: boolean} {
  const kind = kindOf(kinds, base.kind)
  return {
    name: base.name,
    kind: base.kind,
    params: parseRuleParams(kind, base.params),
    forMs: changes.for === undefined ? base.forMs : parseRuleDuration(changes.for, '--for'),
    keepFiringForMs: changes.keepFiringFor === undefined ? base.keepFiringForMs : parseRuleDuration(changes.keepFiringFor, '--keep-firing-for'),
    severity: changes.severity === undefined ? base.severity : oneOf(SEVERITIES, changes.severity, '--severity'),
    labels: checkRuleLabels({...base.labels}, kind),
    noData: changes.noData === undefined ? base.noData : oneOf(NO_DATA_POLICIES, changes.noData, '--no-data'),
    onError: changes.onError === undefined ? base.onError : oneOf(ERROR_POLICIES, changes.onError, '--on-error'),
    description: changes.description === undefined ? base.description : (checkDescription(changes.description) ?? ''),
    enabled: changes.enabled ?? base.enabled,
  }
}

/** `alerts:rules:create`: a new rule, checked whole, audited in the same transaction. */
export async function createRule(ctx: ChangeContext, input: CreateRuleInput, kinds: RuleKindRegistry = RULE_KINDS): Promise<AlertRule> {
  if (!RULE_NAME.test(input.name))
    throw new UserError(`--name "${input.name}" must be 1 to 128 letters, digits, -, _ or ., starting with a letter or digit`, {
      hint: 'for example --name rds-eu-down',
    })
  kindOf(kinds, input.kind)
  const rule = resolveRule(
    {
      name: input.name,
      kind: input.kind,
      params: input.params ?? {},
      forMs: 0,
      keepFiringForMs: 0,
      severity: 'warning',
      labels: input.labels ?? {},
      noData: 'nodata',
      onError: 'error',
      description: '',
      enabled: true,
    },
    input,
    kinds,
  )
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    if (await tx(ALERT_RULES_TABLE).where({name: rule.name}).first('id'))
      throw new UserError(`an alert rule named "${rule.name}" already exists`, {hint: `change it with \`raiops alerts:rules:edit ${rule.name}\``})
    await tx(ALERT_RULES_TABLE).insert({...ruleColumns(rule), builtin: false, created_by: ctx.audit.actor, created_at: now, updated_at: now})
    await appendAudit(tx, ctx.audit, {action: 'alert.rule.create', targetType: 'alert_rule', targetId: rule.name, newValues: auditValues(rule)}, now)
  })
  return showRule(ctx, {name: rule.name})
}

export interface EditRuleInput extends RuleChanges {
  name: string
  /** Another kind: the stored parameters are dropped (they were the old kind's), the given ones checked against it. */
  kind?: string
}

function mergeEntries<T>(stored: Record<string, T>, given: Record<string, T> | undefined): Record<string, T> {
  const merged = {...stored}
  for (const [key, value] of Object.entries(given ?? {})) {
    if (value === '') delete merged[key]
    else merged[key] = value
  }
  return merged
}

/**
 * `alerts:rules:edit`: changes only what is given (parameters and labels merged
 * into the stored ones), checked whole before anything is written; audited with
 * the values before and after. A built-in rule may be edited: seeding never
 * overwrites it. Nothing given is a UserError; nothing different writes nothing.
 */
export async function editRule(ctx: ChangeContext, input: EditRuleInput, kinds: RuleKindRegistry = RULE_KINDS): Promise<AlertRule> {
  const given = Object.entries(input).filter(([key, value]) => key !== 'name' && value !== undefined)
  if (given.length === 0)
    throw new UserError('give at least one change: --kind, --param, --for, --keep-firing-for, --severity, --label, --no-data, --on-error or --description')
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const before = rowToRule(await readRule(tx, input.name))
    const base = {...before, description: before.description ?? ''}
    const kindChanged = input.kind !== undefined && input.kind !== before.kind
    if (input.kind !== undefined) kindOf(kinds, input.kind)
    const after = resolveRule(
      {
        ...base,
        kind: input.kind ?? before.kind,
        params: mergeEntries(kindChanged ? {} : before.params, input.params),
        labels: mergeEntries<string>(before.labels, input.labels),
      },
      input,
      kinds,
    )
    const old = auditValues(base)
    const neu = auditValues(after)
    const changed = Object.keys(neu).filter((key) => JSON.stringify(old[key]) !== JSON.stringify(neu[key]))
    if (changed.length === 0) return
    await tx(ALERT_RULES_TABLE)
      .where({id: before.id})
      .update({...ruleColumns(after), updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'alert.rule.edit',
        targetType: 'alert_rule',
        targetId: before.name,
        oldValues: Object.fromEntries(changed.map((key) => [key, old[key]])),
        newValues: Object.fromEntries(changed.map((key) => [key, neu[key]])),
      },
      now,
    )
  })
  return showRule(ctx, {name: input.name})
}

/** `alerts:rules:enable` and `disable`: audited when it changes anything; a disabled rule is not evaluated and its alerts are left as they are. */
export async function setRuleEnabled(ctx: ChangeContext, input: {name: string; enabled: boolean}): Promise<AlertRule> {
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const before = rowToRule(await readRule(tx, input.name))
    if (before.enabled === input.enabled) return
    await tx(ALERT_RULES_TABLE).where({id: before.id}).update({enabled: input.enabled, updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: input.enabled ? 'alert.rule.enable' : 'alert.rule.disable',
        targetType: 'alert_rule',
        targetId: before.name,
        oldValues: {enabled: before.enabled},
        newValues: {enabled: input.enabled},
      },
      now,
    )
  })
  return showRule(ctx, {name: input.name})
}

/**
 * `alerts:rules:delete`: removes a rule an operator created, with its alerts and
 * their history; audited with what it was. A built-in rule cannot be deleted
 * (seeding would bring it back): disable it instead.
 */
export async function deleteRule(ctx: ChangeContext, input: {name: string}): Promise<AlertRule> {
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const rule = rowToRule(await readRule(tx, input.name))
    if (rule.builtin)
      throw new UserError(`${rule.name} is a built-in rule: it cannot be deleted`, {hint: `disable it with \`raiops alerts:rules:disable ${rule.name}\``})
    await tx(ALERT_RULES_TABLE).where({id: rule.id}).delete()
    await appendAudit(
      tx,
      ctx.audit,
      {action: 'alert.rule.delete', targetType: 'alert_rule', targetId: rule.name, oldValues: auditValues({...rule, description: rule.description ?? ''})},
      now,
    )
    return rule
  })
}

/** A kind as `alerts:rules:kinds` shows it. */
export interface RuleKindView {
  kind: string
  description: string
  /** The labels each of its alerts carries. */
  labels: string[]
  params: Array<{name: string; default: unknown; description: string | null}>
}

/** `alerts:rules:kinds`: every kind with its parameters and their defaults. */
export function listRuleKinds(kinds: RuleKindRegistry = RULE_KINDS): RuleKindView[] {
  return [...kinds.values()].map((kind) => {
    const defaults = kind.params.parse({})
    const schema = kind.params as unknown
    const shape = schema instanceof z.ZodObject ? ((schema as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>) : {}
    return {
      kind: kind.kind,
      description: kind.description,
      labels: [...kind.labelNames],
      params: Object.entries(shape).map(([name, param]) => ({name, default: defaults[name] ?? null, description: param.description ?? null})),
    }
  })
}
