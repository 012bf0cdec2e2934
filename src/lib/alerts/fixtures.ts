import type {Knex} from 'knex'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {z} from 'zod'

import type {AuditContext} from '../audit/writer.js'
import {insertReturningId, migrateLatest, openControlDb} from '../db/control-db.js'
import {UserError} from '../errors/index.js'
import {isDuration, parseDuration} from '../time/duration.js'
import {evaluateAlerts} from './engine.js'
import {formatPath, JsonSyntaxError, parseJsonWithLocations, type JsonLocations, type JsonPath} from './fixture-json.js'
import {loadActiveSilences, loadInhibitors} from './inhibition.js'
import type {RuleKindRegistry} from './kinds/index.js'
import {RULE_KINDS} from './kinds/index.js'
import {checkLabels, formatLabels, parseMatchers} from './labels.js'
import {instanceView, LIVE_STATES, type AlertListItem} from './query.js'
import {seedDefaultRules} from './rules.js'
import {ALERT_STATES, ERROR_POLICIES, NO_DATA_POLICIES, SEVERITIES, type AlertState, type Labels} from './types.js'

/*
 * `alerts:test FILE`: rules tested against control-database states, as
 * `promtool test rules` tests Prometheus rules. A fixture (JSON) names the
 * rules (default rules by name, or inline definitions), an interval, and
 * steps: at each evaluation time, rows to insert, update or delete in a
 * scratch SQLite control database, silences to add, then the alerts and
 * notifications expected after the engine has evaluated. See FIXTURE_FORMAT.
 */

/** The first evaluation time when a fixture gives none: a fixed instant, so a fixture reads the same every day. */
export const DEFAULT_FIXTURE_START = '2026-01-05T10:00:00.000Z'
export const MAX_FIXTURE_BYTES = 5 * 1024 * 1024
export const MAX_FIXTURE_STEPS = 1000

const duration = z.string().refine((text) => isDuration(text), {message: 'must be a duration such as 90s, 5m, 2h or 7d'})
const isoTime = z.string().refine((text) => /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text)), {
  message: 'must be an ISO time such as 2026-01-05T10:00:00Z',
})
const labelsSchema = z.record(z.string())
const tableName = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a table name such as rds_instances')
const rowSchema = z.record(z.unknown())

const inlineRule = z
  .object({
    name: z.string().min(1).max(128),
    kind: z.string().min(1),
    params: z.record(z.unknown()).default({}),
    for: duration.optional(),
    keepFiringFor: duration.optional(),
    severity: z.enum(SEVERITIES).default('warning'),
    labels: labelsSchema.default({}),
    noData: z.enum(NO_DATA_POLICIES).default('nodata'),
    onError: z.enum(ERROR_POLICIES).default('error'),
    description: z.string().optional(),
  })
  .strict()

const subscription = z
  .object({
    channel: z.enum(['email', 'webhook']).default('webhook'),
    target: z.string().optional(),
    severities: z.array(z.enum(SEVERITIES)).optional(),
    rules: z.array(z.string()).optional(),
    matchers: z.array(z.string()).optional(),
    sendResolved: z.boolean().default(true),
  })
  .strict()

const expectedAlert = z
  .object({
    rule: z.string(),
    /** A subset of the instance's labels. */
    labels: labelsSchema.default({}),
    state: z.enum(ALERT_STATES),
    /** Muted now by a silence or an inhibiting alert (unchecked when absent). */
    muted: z.boolean().optional(),
  })
  .strict()

const expectedNotification = z
  .object({
    rule: z.string(),
    kind: z.enum(['firing', 'resolved', 'repeat']),
    /** How many alerts the message groups. */
    alerts: z.number().int().min(1),
  })
  .strict()

const step = z
  .object({
    name: z.string().optional(),
    /** Time since the previous step (default: the interval); a gap longer than twice the interval makes states unknown. */
    after: duration.optional(),
    insert: z.record(tableName, z.array(rowSchema)).optional(),
    update: z.array(z.object({table: tableName, where: rowSchema, set: rowSchema}).strict()).optional(),
    delete: z.array(z.object({table: tableName, where: rowSchema}).strict()).optional(),
    silences: z.array(z.object({matchers: z.array(z.string()).min(1), for: duration}).strict()).optional(),
    expect: z
      .object({
        /** Exactly the pending, firing and unknown alerts (plus any resolved or inactive one listed). Unchecked when absent. */
        alerts: z.array(expectedAlert).optional(),
        /** Exactly the notifications this evaluation wrote to the outbox. Unchecked when absent. */
        notifications: z.array(expectedNotification).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export const fixtureSchema = z
  .object({
    description: z.string().optional(),
    rules: z.array(z.union([z.string().min(1), inlineRule])).min(1),
    interval: duration.default('5m'),
    start: isoTime.default(DEFAULT_FIXTURE_START),
    subscriptions: z.array(subscription).optional(),
    steps: z.array(step).min(1).max(MAX_FIXTURE_STEPS),
  })
  .strict()

export type AlertFixture = z.infer<typeof fixtureSchema>
export type InlineRule = z.infer<typeof inlineRule>

/** A fixture that does not parse or is not a fixture: `file:line:column: what`, exit 2. */
export class FixtureError extends UserError {}

export interface ParsedFixture {
  file: string
  fixture: AlertFixture
  locations: JsonLocations
}

function located(file: string, locations: JsonLocations | null, path: JsonPath, message: string, key = false): FixtureError {
  const at = locations ? ((key ? locations.key(path) : locations.value(path)) ?? nearest(locations, path)) : null
  const where = at ? `${file}:${at.line}:${at.column}` : file
  return new FixtureError(`${where}: ${path.length > 0 ? `${formatPath(path)}: ` : ''}${message}`, {
    hint: 'see `raiops alerts:test --help` for the fixture format',
  })
}

function nearest(locations: JsonLocations, path: JsonPath) {
  for (let n = path.length - 1; n >= 0; n--) {
    const at = locations.value(path.slice(0, n))
    if (at) return at
  }
  return null
}

/**
 * Parses and checks a fixture's text: a syntax error names its line and
 * column, a bad field its path and the line of its value. Nothing is run.
 */
export function parseFixture(text: string, file: string): ParsedFixture {
  let parsed: {value: unknown; locations: JsonLocations}
  try {
    parsed = parseJsonWithLocations(text)
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw new FixtureError(`${file}:${error.position.line}:${error.position.column}: not JSON: ${error.message}`)
    throw error
  }
  const result = fixtureSchema.safeParse(parsed.value)
  if (!result.success) {
    const issue = result.error.issues[0]
    if (issue.code === 'unrecognized_keys') {
      const name = issue.keys[0]
      throw located(file, parsed.locations, [...issue.path, name], `unknown field "${name}"`, true)
    }
    return throwAt(file, parsed.locations, issue.path, issue.message)
  }
  const fixture = result.data
  // What zod cannot say: matchers that parse, labels that are labels, an inline rule's kind and parameters.
  const where = (path: JsonPath, run: () => void) => {
    try {
      run()
    } catch (error) {
      if (error instanceof UserError) throw located(file, parsed.locations, path, error.message)
      throw error
    }
  }
  fixture.rules.forEach((rule, i) => {
    if (typeof rule === 'string') return
    where(['rules', i, 'labels'], () => checkLabels(rule.labels, 'a rule label'))
    if (rule.for !== undefined) where(['rules', i, 'for'], () => parseDuration(rule.for as string, 'for'))
    if (rule.keepFiringFor !== undefined) where(['rules', i, 'keepFiringFor'], () => parseDuration(rule.keepFiringFor as string, 'keepFiringFor'))
  })
  fixture.subscriptions?.forEach((s, i) => where(['subscriptions', i, 'matchers'], () => parseMatchers(s.matchers ?? [], 'a matcher')))
  fixture.steps.forEach((s, i) =>
    s.silences?.forEach((silence, j) => where(['steps', i, 'silences', j, 'matchers'], () => parseMatchers(silence.matchers, 'a matcher'))),
  )
  return {file, fixture, locations: parsed.locations}
}

function throwAt(file: string, locations: JsonLocations, path: JsonPath, message: string): never {
  throw located(file, locations, path, message)
}

/** Reads and parses a fixture file (exit 2 when it is missing, too large or not a fixture). */
export function readFixtureFile(path: string): ParsedFixture {
  const file = path
  let size: number
  try {
    size = statSync(path).size
  } catch {
    throw new UserError(`no fixture file ${file}`, {hint: "give the path of a fixture (JSON), or --shipped for the default rules' fixtures"})
  }
  if (size > MAX_FIXTURE_BYTES) throw new UserError(`${file} is larger than ${MAX_FIXTURE_BYTES / 1024 / 1024} MB: a fixture is a few steps`)
  return parseFixture(readFileSync(path, 'utf8'), file)
}

/** The fixtures files in a directory (`*.json`, sorted), or the one file given. */
export function fixtureFiles(path: string): string[] {
  let isDir = false
  try {
    isDir = statSync(path).isDirectory()
  } catch {
    return [path]
  }
  if (!isDir) return [path]
  const files = readdirSync(path)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => join(path, name))
  if (files.length === 0) throw new UserError(`${path} holds no fixture (*.json)`)
  return files
}

/** Where the default rules' fixtures ship: `alerts/fixtures/` at the package's root (from src/ or dist/src/). */
export function shippedFixturesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [resolve(here, '../../../alerts/fixtures'), resolve(here, '../../../../alerts/fixtures')]
  const found = candidates.find((dir) => existsSync(dir))
  if (found === undefined) throw new UserError("the default rules' fixtures are not installed with this copy of raiops (alerts/fixtures/)")
  return found
}

// ---------------------------------------------------------------------------
// Running a fixture

export interface ExpectedAlertView {
  rule: string
  labels: Labels
  state: AlertState
  muted?: boolean
}

export interface GotAlertView {
  rule: string
  labels: Labels
  state: AlertState
  muted: boolean
}

export interface NotificationView {
  rule: string
  kind: 'firing' | 'resolved' | 'repeat'
  alerts: number
}

export interface StepReport {
  index: number
  name: string | null
  /** The evaluation time. */
  at: string
  passed: boolean
  /** What went wrong beyond the expectations (the evaluation failed). */
  problems: string[]
  /** `- expected` and `+ got` lines for what differs. */
  diff: string[]
  got: {alerts: GotAlertView[]; notifications: NotificationView[]}
}

export interface FixtureReport {
  file: string
  description: string | null
  passed: boolean
  steps: StepReport[]
}

const FIXTURE_AUDIT: AuditContext = {actorType: 'system', actor: 'alerts:test', source: {host: hostname(), command: 'alerts:test'}}
const FIXTURE_WEBHOOK = 'http://127.0.0.1:9/alerts-test'

/** `now`, `now-10m`, `now+1h` in a row's value: the step's evaluation time, moved by a duration. */
const RELATIVE_TIME = /^now(?:\s*([+-])\s*(\S+))?$/

/** An ISO time in UTC (`2026-01-01T00:00:00Z`) in a row's value: stored as a time, as raiops stores times. */
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/

function rowValue(value: unknown, now: Date, path: JsonPath): unknown {
  if (typeof value === 'string') {
    if (UTC_TIME.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value)
    const match = RELATIVE_TIME.exec(value.trim())
    if (match === null) return value
    if (match[1] === undefined) return now
    const ms = parseDuration(match[2], formatPath(path))
    return new Date(now.getTime() + (match[1] === '-' ? -ms : ms))
  }
  if (value !== null && typeof value === 'object') return JSON.stringify(value)
  return value
}

function rowValues(row: Record<string, unknown>, now: Date, path: JsonPath): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([name, value]) => [name, rowValue(value, now, [...path, name])]))
}

/** What the NOT NULL columns of the tables fixtures use most get when a row leaves them out, so a fixture says only what matters. */
function rowDefaults(table: string, now: Date, seq: number): Record<string, unknown> {
  switch (table) {
    case 'rds_instances':
      return {
        name: `rds-${seq}`,
        engine: 'mysql',
        host: '127.0.0.1',
        port: 3306,
        username: 'rai',
        rai_database: 'rai',
        is_master: false,
        is_active: true,
        state: 'online',
        health_status: 'healthy',
        health_checked_at: now,
        impersonation_enabled: false,
      }
    case 'health_checks':
      return {status: 'healthy', checked_at: now}
    case 'sync_runs':
      return {kind: 'tenants', started_at: now, finished_at: now, status: 'ok', host: 'fixture'}
    case 'locks':
      return {holder: 'fixture:1:x', acquired_at: now, expires_at: new Date(now.getTime() + 300_000)}
    case 'jobs':
      return {kind: 'tenant.create', input: '{}', state: 'queued', attempts: 0, created_by: 'alerts:test', run_after: now}
    case 'tenant_master':
      return {remote_tenant_id: seq, name: `tenant-${seq}`, cached_user_count: 0, cached_location_count: 0}
    default:
      return {}
  }
}

class Scratch {
  private columns = new Map<string, Set<string>>()
  private seq = 0
  constructor(readonly db: Knex) {}

  async columnsOf(table: string): Promise<Set<string>> {
    let known = this.columns.get(table)
    if (known === undefined) {
      const info = await this.db(table).columnInfo()
      known = new Set(Object.keys(info))
      if (known.size === 0) throw new UserError(`there is no table ${table} in the control database`)
      this.columns.set(table, known)
    }
    return known
  }

  async insert(table: string, rows: Array<Record<string, unknown>>, now: Date, path: JsonPath): Promise<void> {
    const columns = await this.columnsOf(table)
    const stamped: Record<string, unknown> = {}
    if (columns.has('created_at')) stamped.created_at = now
    if (columns.has('updated_at')) stamped.updated_at = now
    const full = rows.map((row, i) => ({...rowDefaults(table, now, ++this.seq), ...stamped, ...rowValues(row, now, [...path, i])}))
    for (const row of full) await this.db(table).insert(row)
  }
}

function mutedOf(view: AlertListItem): boolean {
  return view.silencedBy !== null || view.inhibitedBy !== null
}

function subset(expected: Labels, got: Labels): boolean {
  return Object.entries(expected).every(([name, value]) => got[name] === value)
}

function alertLine(a: {rule: string; labels: Labels; state: AlertState; muted?: boolean}): string {
  const {alertname: _n, severity: _s, ...own} = a.labels
  return `alert ${a.rule}{${formatLabels(own)}} ${a.state}${a.muted === undefined ? '' : a.muted ? ' muted' : ''}`
}

const notificationLine = (n: NotificationView) => `notification ${n.kind} ${n.rule} (${n.alerts} alert${n.alerts === 1 ? '' : 's'})`

/** The `-`/`+` lines of what the expected alerts and the instances disagree on (empty: they agree). */
export function diffAlerts(expected: readonly ExpectedAlertView[], got: readonly GotAlertView[]): string[] {
  const free = got.map(() => true)
  const diff: string[] = []
  const candidates = (e: ExpectedAlertView) => got.map((g, i) => ({g, i})).filter(({g, i}) => free[i] && g.rule === e.rule && subset(e.labels, g.labels))
  const unmatched: ExpectedAlertView[] = []
  // Exact matches first, so that a near miss is paired with what is left.
  for (const e of expected) {
    const exact = candidates(e).find(({g}) => g.state === e.state && (e.muted === undefined || e.muted === g.muted))
    if (exact) free[exact.i] = false
    else unmatched.push(e)
  }
  for (const e of unmatched) {
    diff.push(`- ${alertLine(e)}`)
    const near = candidates(e)[0]
    if (near) {
      free[near.i] = false
      diff.push(`+ ${alertLine({...near.g, muted: e.muted === undefined ? undefined : near.g.muted})}`)
    }
  }
  got.forEach((g, i) => {
    if (free[i] && LIVE_STATES.includes(g.state)) diff.push(`+ ${alertLine(g)}`)
  })
  return diff
}

/** The `-`/`+` lines of what the expected notifications and the outbox rows disagree on. */
export function diffNotifications(expected: readonly NotificationView[], got: readonly NotificationView[]): string[] {
  const free = got.map(() => true)
  const diff: string[] = []
  for (const e of expected) {
    const i = got.findIndex((g, j) => free[j] && g.rule === e.rule && g.kind === e.kind && g.alerts === e.alerts)
    if (i >= 0) free[i] = false
    else diff.push(`- ${notificationLine(e)}`)
  }
  got.forEach((g, i) => {
    if (free[i]) diff.push(`+ ${notificationLine(g)}`)
  })
  return diff
}

async function setUpRules(scratch: Scratch, parsed: ParsedFixture, ctx: {db: Knex; audit: AuditContext; now(): Date}, kinds: RuleKindRegistry) {
  const {fixture, file, locations} = parsed
  const now = ctx.now()
  const named = fixture.rules.flatMap((r, i) => (typeof r === 'string' ? [{name: r, i}] : []))
  if (named.length > 0) {
    await seedDefaultRules(ctx.db, now, kinds)
    const seeded = new Set((await scratch.db('alert_rules').pluck('name')) as string[])
    for (const {name, i} of named) {
      if (!seeded.has(name)) throw located(file, locations, ['rules', i], `no default rule is named "${name}" (there are: ${[...seeded].sort().join(', ')})`)
    }
  }
  const inline = fixture.rules.flatMap((r, i) => (typeof r === 'string' ? [] : [{rule: r, i}]))
  for (const {rule, i} of inline) {
    const kind = kinds.get(rule.kind)
    if (kind === undefined)
      throw located(file, locations, ['rules', i, 'kind'], `unknown kind "${rule.kind}" (kinds: ${[...kinds.keys()].sort().join(', ') || 'none'})`)
    const params = kind.params.safeParse(rule.params)
    if (!params.success) {
      const issue = params.error.issues[0]
      throw located(file, locations, ['rules', i, 'params', ...issue.path], issue.message)
    }
    await scratch.db('alert_rules').where({name: rule.name}).delete()
    await scratch.db('alert_rules').insert({
      name: rule.name,
      kind: rule.kind,
      params: JSON.stringify(params.data),
      for_ms: rule.for === undefined ? 0 : parseDuration(rule.for, 'for'),
      keep_firing_for_ms: rule.keepFiringFor === undefined ? 0 : parseDuration(rule.keepFiringFor, 'keepFiringFor'),
      severity: rule.severity,
      labels: JSON.stringify(rule.labels),
      no_data: rule.noData,
      on_error: rule.onError,
      description: rule.description ?? null,
      enabled: true,
      builtin: false,
      created_by: FIXTURE_AUDIT.actor,
      created_at: now,
      updated_at: now,
    })
  }
  // Only the fixture's rules are evaluated.
  const names = fixture.rules.map((r) => (typeof r === 'string' ? r : r.name))
  await scratch.db('alert_rules').whereNotIn('name', names).update({enabled: false})
  await scratch.db('alert_rules').whereIn('name', names).update({enabled: true})
}

async function setUpSubscriptions(scratch: Scratch, fixture: AlertFixture, now: Date): Promise<void> {
  await scratch.db('raiops_roles').insert({name: 'alerts_test', description: 'alerts:test', is_builtin: false, created_at: now, updated_at: now})
  const operatorId = await insertReturningId(scratch.db, 'operators', {
    name: 'alerts:test',
    email: 'alerts-test@localhost',
    password_hash: '!',
    role: 'alerts_test',
    is_active: true,
    failed_logins: 0,
    created_at: now,
    updated_at: now,
  })
  // Without subscriptions of its own, a fixture has one that takes every notification, so each one written is seen.
  const subs = fixture.subscriptions ?? [{channel: 'webhook' as const, target: FIXTURE_WEBHOOK, sendResolved: true}]
  for (const s of subs) {
    await scratch.db('alert_subscriptions').insert({
      operator_id: operatorId,
      channel: s.channel,
      target: s.target ?? (s.channel === 'webhook' ? FIXTURE_WEBHOOK : null),
      severities: 'severities' in s && s.severities ? JSON.stringify(s.severities) : null,
      rules: 'rules' in s && s.rules ? JSON.stringify(s.rules) : null,
      matchers: 'matchers' in s && s.matchers ? JSON.stringify(s.matchers) : null,
      send_resolved: s.sendResolved,
      enabled: true,
      created_by: FIXTURE_AUDIT.actor,
      created_at: now,
      updated_at: now,
    })
  }
}

async function applyStep(scratch: Scratch, parsed: ParsedFixture, index: number, now: Date): Promise<void> {
  const s = parsed.fixture.steps[index]
  const at = (path: JsonPath) => ['steps', index, ...path]
  const guard = async (path: JsonPath, run: () => Promise<unknown>) => {
    try {
      await run()
    } catch (error) {
      if (error instanceof FixtureError) throw error
      const message = (error as Error).message.split('\n')[0].replace(/^.* - /, '')
      throw located(parsed.file, parsed.locations, at(path), message)
    }
  }
  for (const [table, rows] of Object.entries(s.insert ?? {})) await guard(['insert', table], () => scratch.insert(table, rows, now, at(['insert', table])))
  for (const [i, u] of (s.update ?? []).entries()) {
    await guard(['update', i], async () => {
      await scratch.columnsOf(u.table)
      await scratch
        .db(u.table)
        .where(rowValues(u.where, now, at(['update', i, 'where'])))
        .update(rowValues(u.set, now, at(['update', i, 'set'])))
    })
  }
  for (const [i, d] of (s.delete ?? []).entries()) {
    await guard(['delete', i], async () => {
      await scratch.columnsOf(d.table)
      await scratch
        .db(d.table)
        .where(rowValues(d.where, now, at(['delete', i, 'where'])))
        .delete()
    })
  }
  for (const silence of s.silences ?? []) {
    await scratch.db('alert_silences').insert({
      matchers: JSON.stringify(parseMatchers(silence.matchers).map((m) => m.text)),
      reason: 'alerts:test',
      created_by: FIXTURE_AUDIT.actor,
      starts_at: now,
      ends_at: new Date(now.getTime() + parseDuration(silence.for, 'for')),
      expired_at: null,
      created_at: now,
    })
  }
}

async function observe(db: Knex, now: Date, afterNotificationId: number): Promise<StepReport['got'] & {lastNotificationId: number}> {
  const rows = await db('alert_instances as i')
    .join('alert_rules as r', 'r.id', 'i.rule_id')
    .select('i.*', 'r.name as rule_name', 'r.kind as rule_kind', 'r.severity as rule_severity')
    .orderBy('i.id')
  const [silences, inhibitors] = await Promise.all([loadActiveSilences(db, now), loadInhibitors(db)])
  const alerts = rows.map((row) => {
    const view = instanceView(row, silences, inhibitors)
    return {rule: view.rule, labels: view.labels, state: view.state, muted: mutedOf(view)}
  })
  const outbox = await db('alert_notifications as n')
    .leftJoin('alert_rules as r', 'r.id', 'n.rule_id')
    .where('n.id', '>', afterNotificationId)
    .orderBy('n.id')
    .select('n.id', 'n.kind', 'n.payload', 'r.name as rule_name')
  const notifications = outbox.map((n) => {
    let count = 0
    try {
      const payload = JSON.parse(n.payload) as {alerts?: unknown[]}
      count = Array.isArray(payload.alerts) ? payload.alerts.length : 0
    } catch {
      count = 0
    }
    return {rule: n.rule_name ?? '?', kind: n.kind, alerts: count}
  })
  const lastNotificationId = outbox.length > 0 ? Number(outbox[outbox.length - 1].id) : afterNotificationId
  return {alerts: alerts.filter((a) => LIVE_STATES.includes(a.state) || a.state === 'resolved' || a.state === 'inactive'), notifications, lastNotificationId}
}

export interface RunFixtureOptions {
  /** The rule kinds (default: raiops' own). */
  kinds?: RuleKindRegistry
}

/**
 * Runs a parsed fixture in a scratch SQLite control database of its own
 * (migrated, then removed): the rules set up, then for each step its rows
 * applied and one evaluation at its time, what the engine left compared
 * with what the step expects.
 */
export async function runFixture(parsed: ParsedFixture, options: RunFixtureOptions = {}): Promise<FixtureReport> {
  const kinds = options.kinds ?? RULE_KINDS
  const {fixture} = parsed
  const intervalMs = parseDuration(fixture.interval, 'interval')
  const dir = mkdtempSync(join(tmpdir(), 'raiops-alerts-test-'))
  const db = await openControlDb({engine: 'sqlite', client: 'better-sqlite3', display: 'alerts:test', sqliteFile: join(dir, 'control.sqlite')})
  try {
    await migrateLatest(db)
    const scratch = new Scratch(db)
    let now = new Date(fixture.start)
    const ctx = {db, audit: FIXTURE_AUDIT, now: () => now}
    await setUpRules(scratch, parsed, ctx, kinds)
    await setUpSubscriptions(scratch, fixture, now)
    const steps: StepReport[] = []
    let lastNotificationId = 0
    let previousAt: Date | null = null
    for (const [index, s] of fixture.steps.entries()) {
      if (index > 0) now = new Date(now.getTime() + (s.after === undefined ? intervalMs : parseDuration(s.after, 'after')))
      else if (s.after !== undefined) now = new Date(now.getTime() + parseDuration(s.after, 'after'))
      await applyStep(scratch, parsed, index, now)
      const problems: string[] = []
      const id = await insertReturningId(db, 'alert_runs', {started_at: now, status: 'running', previous_at: previousAt, gap: false, holder: 'alerts:test'})
      try {
        await evaluateAlerts(ctx, {now, intervalMs, kinds, runId: id})
        await db('alert_runs').where({id}).update({finished_at: now, status: 'ok'})
      } catch (error) {
        problems.push(`the evaluation failed: ${(error as Error).message.split('\n')[0]}`)
        await db('alert_runs')
          .where({id})
          .update({finished_at: now, status: 'failed', error: (error as Error).message.slice(0, 1000)})
      }
      previousAt = now
      const got = await observe(db, now, lastNotificationId)
      lastNotificationId = got.lastNotificationId
      const diff = [
        ...(s.expect?.alerts === undefined ? [] : diffAlerts(s.expect.alerts, got.alerts)),
        ...(s.expect?.notifications === undefined ? [] : diffNotifications(s.expect.notifications, got.notifications)),
      ]
      steps.push({
        index,
        name: s.name ?? null,
        at: now.toISOString(),
        passed: problems.length === 0 && diff.length === 0,
        problems,
        diff,
        got: {alerts: got.alerts, notifications: got.notifications},
      })
    }
    return {file: parsed.file, description: fixture.description ?? null, passed: steps.every((s) => s.passed), steps}
  } finally {
    await db.destroy()
    rmSync(dir, {recursive: true, force: true})
  }
}

export interface AlertsTestResult {
  passed: boolean
  fixtures: FixtureReport[]
}

/**
 * `alerts:test`: every fixture of `paths` (files, or directories of `*.json`)
 * parsed first — one that does not parse stops everything before anything
 * runs (exit 2) — then each run.
 */
export async function testAlertFixtures(input: {paths: readonly string[]}, options: RunFixtureOptions = {}): Promise<AlertsTestResult> {
  const parsed = input.paths.flatMap((p) => fixtureFiles(p)).map((file) => readFixtureFile(file))
  const fixtures: FixtureReport[] = []
  for (const p of parsed) fixtures.push(await runFixture(p, options))
  return {passed: fixtures.every((f) => f.passed), fixtures}
}
