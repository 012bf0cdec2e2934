import type {OpsContext} from '../context.js'
import type {AuditLogRow} from '../db/tables.js'
import {toIsoRequired, toNumberOrNull} from '../db/values.js'
import {NotFoundError} from '../errors/index.js'
import {inspectJson, jsonEqual} from '../json/walk.js'
import {isRedactionMarker} from '../redact/index.js'
import {AUDIT_LIMITS} from './limits.js'
import type {ActorType} from './writer.js'

/** An audit entry as read back: values and source parsed. */
export interface AuditView {
  id: number
  seq: number
  occurredAt: string
  actorType: ActorType
  actor: string
  action: string
  targetType: string | null
  targetId: string | null
  rdsInstanceId: number | null
  tenantMasterId: number | null
  oldValues: Record<string, unknown> | null
  newValues: Record<string, unknown> | null
  source: {host: string | null; command: string | null; ip: string | null}
}

export interface AuditFilter {
  /** Exact actor, or with `*` wildcards. */
  actor?: string
  /** Exact action, or with `*` wildcards (`rds.*`). */
  action?: string
  tenantMasterId?: number
  rdsInstanceId?: number
  /** Entries about one thing: its target type (`plan`) and, when given, its id (`pro`). */
  target?: {type: string; id?: string}
  since?: Date
  until?: Date
  /** Entries with an id above this one (for following the trail). */
  afterId?: number
  /** Entries with an id up to this one. */
  upToId?: number
  limit: number
  /** Oldest first instead of newest first. */
  ascending?: boolean
}

/** A field that changed between the old and the new values. */
export interface AuditChange {
  field: string
  old: unknown
  new: unknown
  /** The field holds a secret: what it was and became is redacted, only that it changed is known. */
  redacted?: true
}

/** The columns read back: the chain's own (prev_hash, hash) are left out. */
type StoredRow = Omit<AuditLogRow, 'prev_hash' | 'hash'>

/**
 * Stored values as an object. Text that is not JSON, or that nests deeper than
 * values may (written before that was checked, or into the table directly), is
 * kept as its stored text: every walk over it (masking, diffing, printing) then
 * stays shallow, and any entry can be shown.
 */
function parseObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return {unparsed: text}
  }
  if (inspectJson(value).depth > AUDIT_LIMITS.valueDepth) return {unparsed: text}
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {value}
}

function toView(row: StoredRow): AuditView {
  const source = parseObject(row.source) ?? {}
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
  return {
    id: Number(row.id),
    seq: Number(row.seq),
    occurredAt: toIsoRequired(row.occurred_at),
    actorType: row.actor_type,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    rdsInstanceId: toNumberOrNull(row.rds_instance_id),
    tenantMasterId: toNumberOrNull(row.tenant_master_id),
    oldValues: parseObject(row.old_values),
    newValues: parseObject(row.new_values),
    source: {host: str(source.host), command: str(source.command), ip: str(source.ip)},
  }
}

/** A `*` wildcard pattern as a LIKE pattern (escape character `!`, the same on every engine), LIKE's own wildcards taken literally. */
export function likePattern(pattern: string): string {
  return pattern.replace(/[!%_]/g, (c) => `!${c}`).replace(/\*/g, '%')
}

const COLUMNS = [
  'id',
  'seq',
  'occurred_at',
  'actor_type',
  'actor',
  'action',
  'target_type',
  'target_id',
  'rds_instance_id',
  'tenant_master_id',
  'old_values',
  'new_values',
  'source',
] as const

/** Audit entries matching the filter, newest first (or oldest first with `ascending`). */
export async function listAudit(ctx: Pick<OpsContext, 'db'>, filter: AuditFilter): Promise<AuditView[]> {
  const query = ctx.db('audit_logs').select(...COLUMNS)
  // Case-insensitive on every engine (PostgreSQL compares case-sensitively, MySQL and SQLite do not).
  const match = (column: string, pattern: string) => {
    if (pattern.includes('*')) query.whereRaw(`lower(??) LIKE ? ESCAPE '!'`, [column, likePattern(pattern.toLowerCase())])
    else query.whereRaw('lower(??) = ?', [column, pattern.toLowerCase()])
  }
  if (filter.actor !== undefined) match('actor', filter.actor)
  if (filter.action !== undefined) match('action', filter.action)
  if (filter.tenantMasterId !== undefined) query.where('tenant_master_id', filter.tenantMasterId)
  if (filter.rdsInstanceId !== undefined) query.where('rds_instance_id', filter.rdsInstanceId)
  if (filter.target) query.where('target_type', filter.target.type)
  if (filter.target?.id !== undefined) query.where('target_id', filter.target.id)
  if (filter.since) query.where('occurred_at', '>=', filter.since)
  if (filter.until) query.where('occurred_at', '<', filter.until)
  if (filter.afterId !== undefined) query.where('id', '>', filter.afterId)
  if (filter.upToId !== undefined) query.where('id', '<=', filter.upToId)
  query.orderBy('id', filter.ascending ? 'asc' : 'desc').limit(filter.limit)
  return (await query).map(toView)
}

/** What changed between two value maps, field by field, in field order. */
export function diffValues(oldValues: Record<string, unknown> | null, newValues: Record<string, unknown> | null): AuditChange[] {
  const fields = [...new Set([...Object.keys(oldValues ?? {}), ...Object.keys(newValues ?? {})])].sort()
  const changes: AuditChange[] = []
  for (const field of fields) {
    const before = oldValues?.[field] ?? null
    const after = newValues?.[field] ?? null
    if (jsonEqual(before, after)) continue
    const redacted = [before, after].every((value) => value === null || isRedactionMarker(value))
    changes.push(redacted ? {field, old: before, new: after, redacted} : {field, old: before, new: after})
  }
  return changes
}

/** One audit entry with the fields its change touched. */
export async function showAudit(ctx: Pick<OpsContext, 'db'>, input: {id: number}): Promise<AuditView & {changes: AuditChange[]}> {
  const {id} = input
  const row = await ctx
    .db('audit_logs')
    .select(...COLUMNS)
    .where({id})
    .first()
  if (!row) throw new NotFoundError(`no audit entry ${id}`, {hint: 'see `raiops audit:list` for the ids'})
  const view = toView(row)
  return {...view, changes: diffValues(view.oldValues, view.newValues)}
}

/** How many entries the trail holds and its newest one. */
export async function auditSummary(ctx: Pick<OpsContext, 'db'>): Promise<{entries: number; last: AuditView | null}> {
  const [{n}] = await ctx.db('audit_logs').count({n: '*'})
  const [last] = await listAudit(ctx, {limit: 1})
  return {entries: Number(n), last: last ?? null}
}

/** Entries per page when reading the whole trail. */
const PAGE = 5000

/** Every entry matching the filter, oldest first, in pages read by id (memory stays flat). */
export async function* auditPages(
  ctx: Pick<OpsContext, 'db'>,
  filter: Omit<AuditFilter, 'limit' | 'afterId' | 'upToId' | 'ascending'>,
): AsyncGenerator<AuditView[]> {
  let afterId = 0
  for (;;) {
    const page = await listAudit(ctx, {...filter, afterId, ascending: true, limit: PAGE})
    if (page.length > 0) yield page
    if (page.length < PAGE) return
    afterId = page[page.length - 1].id
  }
}

/**
 * An entry as a caller without pii.view sees it: emails masked in its values, in
 * the actor when the RAI application reported a user of a tenant, and in the
 * target and the command line when the target is a tenant's user (user:suspend
 * names the user by email).
 */
export function maskAuditView<V extends AuditView>(entry: V, mask: <T>(value: T) => T): V {
  const rai = entry.actorType === 'rai'
  const user = rai || entry.targetType === 'user'
  return {
    ...entry,
    actor: rai ? mask(entry.actor) : entry.actor,
    targetId: user ? mask(entry.targetId) : entry.targetId,
    source: user ? mask(entry.source) : entry.source,
    oldValues: mask(entry.oldValues),
    newValues: mask(entry.newValues),
  }
}
