import {createHash} from 'node:crypto'

import {insertReturningId, type Db} from '../control-db/index.js'
import {toIsoRequired} from '../control-db/time.js'
import {redactValues} from '../redact/index.js'

export const GENESIS_HASH = '0'.repeat(64)
const CANONICAL_VERSION = 'raiops-audit-v1'

export type ActorType = 'operator' | 'token' | 'system' | 'rai'

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

/** The stored form of an audit row, as hashed. */
export interface AuditRecord {
  seq: number
  occurred_at: string
  actor_type: ActorType
  actor: string
  action: string
  target_type: string | null
  target_id: string | null
  rds_instance_id: number | null
  tenant_master_id: number | null
  old_values: string | null
  new_values: string | null
  source: string
}

/** An audit_logs row as the drivers return it (ids and numbers may come back as strings). */
export interface StoredAuditRow {
  id: number | string
  seq: number | string
  occurred_at: unknown
  actor_type: ActorType
  actor: string
  action: string
  target_type: string | null
  target_id: string | null
  rds_instance_id: number | string | null
  tenant_master_id: number | string | null
  old_values: string | null
  new_values: string | null
  source: string
  prev_hash: string
  hash: string
}

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

function jsonOrNull(values: Record<string, unknown> | null | undefined): string | null {
  return values === null || values === undefined ? null : sortedJson(redactValues(values))
}

/**
 * Takes the audit chain's head lock at the start of a transaction. Every change
 * is audited, so holding this lock serialises the writers of the control
 * database: checks made after it (one master, unique names) cannot race.
 */
export async function lockForChange(tx: Db): Promise<void> {
  const updated = await tx('audit_head').where({id: 1}).update({seq: tx.raw('seq')})
  if (!updated) throw new Error('audit_head is missing: run `raiops db:migrate`')
}

export interface AppendedAudit {
  id: number
  seq: number
  hash: string
}

/**
 * Appends one entry to the hash chain. Call it inside the transaction that makes
 * the change: the head row is updated first, which locks it (row lock on
 * MySQL/PostgreSQL, the write lock on SQLite) so concurrent appends serialise
 * and the chain never forks. Every secret-looking value is redacted.
 */
export async function appendAudit(tx: Db, context: AuditContext, entry: AuditEntry, now = new Date()): Promise<AppendedAudit> {
  const updated = await tx('audit_head').where({id: 1}).increment('seq', 1)
  if (!updated) throw new Error('audit_head is missing: run `raiops db:migrate`')
  const head = (await tx('audit_head').where({id: 1}).first('seq', 'hash')) as {seq: number | string; hash: string}
  // MySQL DATETIME(3) keeps milliseconds; the ISO string hashed must be the one read back.
  const occurredAt = new Date(Math.floor(now.getTime()))
  const record: AuditRecord = {
    seq: Number(head.seq),
    occurred_at: toIsoRequired(occurredAt),
    actor_type: context.actorType,
    actor: context.actor,
    action: entry.action,
    target_type: entry.targetType ?? null,
    target_id: entry.targetId === null || entry.targetId === undefined ? null : String(entry.targetId),
    rds_instance_id: entry.rdsInstanceId ?? null,
    tenant_master_id: entry.tenantMasterId ?? null,
    old_values: jsonOrNull(entry.oldValues),
    new_values: jsonOrNull(entry.newValues),
    source: sortedJson({host: context.source.host, command: context.source.command, ip: context.source.ip ?? null}),
  }
  const hash = chainHash(head.hash, record)
  const id = await insertReturningId(tx, 'audit_logs', {...record, occurred_at: occurredAt, prev_hash: head.hash, hash})
  await tx('audit_head').where({id: 1}).update({hash})
  return {id, seq: record.seq, hash}
}
