import {z} from 'zod'

import {AUDIT_LIMITS, textProblem, valuesProblem} from '../audit/limits.js'
import {appendAudit, lockForChange, type AuditContext, type AuditEntry} from '../audit/writer.js'
import type {OpsContext} from '../context.js'

/** A name-like string that every engine stores as sent: no control character, no half surrogate pair, at most `max` characters. */
const name = (max: number) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const problem = textProblem(text, max)
      if (problem) ctx.addIssue({code: z.ZodIssueCode.custom, message: problem})
    })

/** A whole number that fits the integer columns of every engine. */
const rowId = z.number().int().positive().max(AUDIT_LIMITS.id)
const id = z.union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), name(64)])
const values = z
  .record(z.unknown())
  .nullish()
  .superRefine((value, ctx) => {
    const problem = value === null || value === undefined ? null : valuesProblem(value)
    if (problem) ctx.addIssue({code: z.ZodIssueCode.custom, message: problem})
  })

/** An audit event pushed by the RAI application (`POST /api/webhooks/rai/audit`). */
export const raiEventSchema = z
  .object({
    id: name(191),
    occurred_at: z.string().datetime({offset: true}),
    // Only looked up in tenant_master.remote_tenant_id (a big integer), never stored: any id a tenant database can hold.
    tenant_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish(),
    rds_instance_id: rowId.nullish(),
    actor: z.object({type: name(32), id: id.nullish(), email: z.union([z.literal(''), name(255)]).nullish()}),
    action: name(AUDIT_LIMITS.action),
    target: z.object({type: name(AUDIT_LIMITS.targetType), id: id.nullish()}).nullish(),
    old_values: values,
    new_values: values,
  })
  .strict()

export type RaiEvent = z.infer<typeof raiEventSchema>

export type StoreResult = {status: 'stored'; auditId: number; seq: number} | {status: 'duplicate'}

/** Who an event says acted, as the audit trail records it (cut to the column's 255 characters, never inside a character). */
function raiAuditContext(event: RaiEvent, from: {ip: string | null}): AuditContext {
  const actor = `${event.actor.type}${event.actor.id === null || event.actor.id === undefined ? '' : `:${event.actor.id}`}${event.actor.email ? ` <${event.actor.email}>` : ''}`
  return {
    actorType: 'rai',
    actor: [...actor].slice(0, AUDIT_LIMITS.actor).join(''),
    source: {host: 'rai', command: `event ${event.id} at ${event.occurred_at}`, ip: from.ip},
  }
}

function raiAuditEntry(event: RaiEvent, tenantMasterId: number | null): AuditEntry {
  return {
    action: event.action,
    targetType: event.target?.type ?? null,
    targetId: event.target?.id ?? null,
    rdsInstanceId: event.rds_instance_id ?? null,
    tenantMasterId,
    oldValues: event.old_values ?? null,
    newValues: event.new_values ?? null,
  }
}

/**
 * Stores an event as an audit entry of actor type `rai`, joined to the hash
 * chain, its id remembered in the same transaction: an event id seen before is
 * reported as a duplicate and stored nothing. The tenant is linked when
 * tenant_master knows it (by RDS and remote tenant id). The actor is the RAI
 * application, named by the signed event itself, not by the context.
 */
export async function storeRaiEvent(ctx: Pick<OpsContext, 'db' | 'now'>, input: {event: RaiEvent; from: {ip: string | null}}): Promise<StoreResult> {
  const {event, from} = input
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    // The head lock first: concurrent deliveries of one id then queue behind each other.
    await lockForChange(tx)
    if (await tx('webhook_events').where({event_id: event.id}).first('event_id')) return {status: 'duplicate'} as const
    let tenantMasterId: number | null = null
    if (event.tenant_id && event.rds_instance_id) {
      const tenant = await tx('tenant_master').where({rds_instance_id: event.rds_instance_id, remote_tenant_id: event.tenant_id}).first('id')
      tenantMasterId = tenant ? Number(tenant.id) : null
    }
    const appended = await appendAudit(tx, raiAuditContext(event, from), raiAuditEntry(event, tenantMasterId), now)
    await tx('webhook_events').insert({event_id: event.id, audit_log_id: appended.id, received_at: now})
    return {status: 'stored', auditId: appended.id, seq: appended.seq} as const
  })
}
