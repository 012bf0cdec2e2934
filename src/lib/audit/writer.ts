import {createHash} from 'node:crypto'

import {insertReturningId, type Db} from '../db/control-db.js'
import type {ActorType, AuditLogRow} from '../db/tables.js'
import {toIsoRequired} from '../db/values.js'
import {UserError} from '../errors/index.js'
import {redactChange} from '../redact/index.js'
import {AUDIT_LIMITS, textProblem, valuesProblem} from './limits.js'

export const GENESIS_HASH = '0'.repeat(64)
const CANONICAL_VERSION = 'raiops-audit-v1'

export type {ActorType} from '../db/tables.js'

/** Who is acting and from where; built once per command run. */
export interface AuditContext {
  actorType: ActorType
  actor: string
  source: {host: string; command: string; ip?: string | null}
}

export interface AuditEntry {
  action: string
  targetType?: string | null
  targetId?: string | number | null
  rdsInstanceId?: number | null
  tenantMasterId?: number | null
  oldValues?: Record<string, unknown> | null
  newValues?: Record<string, unknown> | null
}

/** The stored form of an audit row, as hashed: its columns but the id and the hashes, with the sequence and time in one form on every engine. */
export type AuditRecord = Omit<AuditLogRow, 'id' | 'seq' | 'occurred_at' | 'prev_hash' | 'hash'> & {seq: number; occurred_at: string}

function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    }
    return inner
  })
}

/** The versioned canonical serialisation of an entry: sorted keys, ISO timestamps, values as stored. */
export function canonicalEntry(record: AuditRecord): string {
  return sortedJson({v: CANONICAL_VERSION, ...record})
}

export function chainHash(prevHash: string, record: AuditRecord): string {
  return createHash('sha256').update(prevHash).update(canonicalEntry(record)).digest('hex')
}

/** An audit entry that no engine could store as hashed (too long, too deep, out of range): nothing was written. */
export class AuditEntryError extends UserError {}

interface StoredValues {
  old_values: string | null
  new_values: string | null
}

/** The values as stored: redacted together (a changed secret still shows as changed), serialised with sorted keys. */
function storedValues(entry: AuditEntry): StoredValues {
  const {oldValues, newValues} = redactChange(entry.oldValues ?? null, entry.newValues ?? null)
  return {old_values: oldValues === null ? null : sortedJson(oldValues), new_values: newValues === null ? null : sortedJson(newValues)}
}

/** Why some engine could not store the entry as hashed (naming the column), checked before its values are serialised. */
function fieldsProblem(context: AuditContext, entry: AuditEntry): string | null {
  const texts: Array<[string, string | null | undefined, number]> = [
    ['actor', context.actor, AUDIT_LIMITS.actor],
    ['action', entry.action, AUDIT_LIMITS.action],
    ['target_type', entry.targetType, AUDIT_LIMITS.targetType],
    ['target_id', entry.targetId === null || entry.targetId === undefined ? null : String(entry.targetId), AUDIT_LIMITS.targetId],
  ]
  for (const [column, text, max] of texts) {
    const problem = typeof text === 'string' ? textProblem(text, max) : null
    if (problem) return `${column} ${problem}`
  }
  for (const [column, id] of [
    ['rds_instance_id', entry.rdsInstanceId],
    ['tenant_master_id', entry.tenantMasterId],
  ] as const) {
    if (id !== null && id !== undefined && !(Number.isInteger(id) && id >= 0 && id <= AUDIT_LIMITS.id))
      return `${column} must be a whole number from 0 to ${AUDIT_LIMITS.id}`
  }
  for (const [column, values] of [
    ['old_values', entry.oldValues],
    ['new_values', entry.newValues],
  ] as const) {
    const problem = values === null || values === undefined ? null : valuesProblem(values)
    if (problem) return `${column} ${problem}`
  }
  return null
}

/** The entry's values as stored, or why it cannot be stored on every engine. */
function prepareEntry(context: AuditContext, entry: AuditEntry): {problem: string} | {values: StoredValues} {
  const problem = fieldsProblem(context, entry)
  if (problem) return {problem}
  const values = storedValues(entry)
  for (const column of ['old_values', 'new_values'] as const) {
    const bytes = values[column] === null ? 0 : Buffer.byteLength(values[column])
    if (bytes > AUDIT_LIMITS.valueBytes)
      return {problem: `${column} take ${bytes} bytes once redacted and serialised, over the ${AUDIT_LIMITS.valueBytes} the column holds`}
  }
  return {values}
}

/** Refuses (AuditEntryError), before anything is written, an entry that some engine could not store as hashed. */
export function checkAuditEntry(context: AuditContext, entry: AuditEntry): void {
  const values = prepareEntry(context, entry)
  if ('problem' in values) throw new AuditEntryError(`the audit entry cannot be stored: ${values.problem}`)
}

/**
 * Takes the audit chain's head lock at the start of a transaction. Every change
 * is audited, so holding this lock serialises the writers of the control
 * database: checks made after it (one master, unique names) cannot race.
 */
export async function lockForChange(tx: Db): Promise<void> {
  const updated = await tx('audit_head')
    .where({id: 1})
    .update({seq: tx.raw('seq')})
  if (!updated) throw new Error('audit_head is missing: run `raiops db:migrate`')
}

export interface AppendedAudit {
  id: number
  seq: number
  hash: string
}

/**
 * Appends one entry to the hash chain. Call it inside the transaction that makes
 * the change: the head row is claimed first, which locks it (read FOR UPDATE on
 * MySQL/PostgreSQL, updated first on SQLite to take its write lock) so
 * concurrent appends serialise and the chain never forks. Every secret-looking value is redacted. An entry
 * that some engine could not store as hashed is refused (AuditEntryError) before
 * anything is written.
 */
export async function appendAudit(tx: Db, context: AuditContext, entry: AuditEntry, now: Date): Promise<AppendedAudit> {
  const [appended] = await appendAudits(tx, context, [entry], now)
  return appended
}

/** Audit rows per INSERT: well under SQLite's limit of bound values per statement. */
const INSERT_ROWS = 50

/**
 * Appends several entries to the chain, in order, as appendAudit would one
 * after the other, with a fixed number of statements: the head claimed once
 * for all of them, the rows inserted in one statement (per 50), their ids read
 * back by sequence. Every entry is checked before anything is written.
 */
export async function appendAudits(
  tx: Db,
  context: AuditContext,
  entries: readonly AuditEntry[],
  now: Date,
  options: {
    /** Whether the rows' ids are wanted (one more statement): without them, `id` is 0 in what is returned. */
    ids?: boolean
  } = {},
): Promise<AppendedAudit[]> {
  if (entries.length === 0) return []
  const prepared = entries.map((entry) => {
    const values = prepareEntry(context, entry)
    if ('problem' in values) throw new AuditEntryError(`the audit entry cannot be stored: ${values.problem}`)
    return {entry, values: values.values}
  })
  // The head is claimed first, locked until the commit: MySQL/MariaDB and PostgreSQL read it FOR UPDATE (its new
  // sequence is written with its new hash); SQLite, whose read would not take its write lock, moves it on first.
  const sqlite = String(tx.client.config.client).includes('sqlite')
  if (sqlite) {
    const updated = await tx('audit_head').where({id: 1}).increment('seq', entries.length)
    if (!updated) throw new Error('audit_head is missing: run `raiops db:migrate`')
  }
  const query = tx('audit_head').where({id: 1}).first('seq', 'hash')
  const read = await (sqlite ? query : query.forUpdate())
  if (!read) throw new Error('audit_head is missing: run `raiops db:migrate`')
  const head = {seq: Number(read.seq) + (sqlite ? 0 : entries.length), hash: String(read.hash)}
  // MySQL DATETIME(3) keeps milliseconds; the ISO string hashed must be the one read back.
  const occurredAt = new Date(Math.floor(now.getTime()))
  const source = sortedJson({host: context.source.host, command: context.source.command, ip: context.source.ip ?? null})
  const first = Number(head.seq) - entries.length + 1
  let prevHash = String(head.hash)
  const rows = prepared.map(({entry, values}, i) => {
    const record: AuditRecord = {
      seq: first + i,
      occurred_at: toIsoRequired(occurredAt),
      actor_type: context.actorType,
      actor: context.actor,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId === null || entry.targetId === undefined ? null : String(entry.targetId),
      rds_instance_id: entry.rdsInstanceId ?? null,
      tenant_master_id: entry.tenantMasterId ?? null,
      ...values,
      source,
    }
    const hash = chainHash(prevHash, record)
    const row = {...record, occurred_at: occurredAt, prev_hash: prevHash, hash}
    prevHash = hash
    return row
  })
  if (rows.length === 1) {
    const id = await insertReturningId(tx, 'audit_logs', rows[0])
    await tx('audit_head').where({id: 1}).update({seq: head.seq, hash: prevHash})
    return [{id, seq: rows[0].seq, hash: rows[0].hash}]
  }
  for (let i = 0; i < rows.length; i += INSERT_ROWS) await tx('audit_logs').insert(rows.slice(i, i + INSERT_ROWS))
  if (options.ids === false) {
    await tx('audit_head').where({id: 1}).update({seq: head.seq, hash: prevHash})
    return rows.map((r) => ({id: 0, seq: r.seq, hash: r.hash}))
  }
  const ids = (await tx('audit_logs')
    .whereIn(
      'seq',
      rows.map((r) => r.seq),
    )
    .select('id', 'seq')) as Array<{id: unknown; seq: unknown}>
  const idOf = new Map(ids.map((r) => [Number(r.seq), Number(r.id)]))
  await tx('audit_head').where({id: 1}).update({seq: head.seq, hash: prevHash})
  return rows.map((r) => ({id: idOf.get(r.seq) as number, seq: r.seq, hash: r.hash}))
}
