import {z} from 'zod'

import {appendAudit, lockForChange, type AuditContext} from '../audit/writer.js'
import type {Db} from '../control-db/index.js'

const id = z.union([z.number().int().nonnegative(), z.string().min(1).max(64)])

/** An audit event pushed by the RAI application (`POST /api/webhooks/rai/audit`). */
export const raiEventSchema = z
  .object({
    id: z.string().min(1).max(191),
    occurred_at: z.string().datetime({offset: true}),
    tenant_id: z.number().int().positive().nullish(),
    rds_instance_id: z.number().int().positive().nullish(),
    actor: z.object({type: z.string().min(1).max(32), id: id.nullish(), email: z.string().max(255).nullish()}),
    action: z.string().min(1).max(128),
    target: z.object({type: z.string().min(1).max(64), id: id.nullish()}).nullish(),
    old_values: z.record(z.unknown()).nullish(),
    new_values: z.record(z.unknown()).nullish(),
  })
  .strict()

export type RaiEvent = z.infer<typeof raiEventSchema>

export type StoreResult = {status: 'stored'; auditId: number; seq: number} | {status: 'duplicate'}

/**
 * Stores an event as an audit entry of actor type `rai`, joined to the hash
 * chain, its id remembered in the same transaction: an event id seen before is
 * reported as a duplicate and stored nothing. The tenant is linked when
 * tenant_master knows it (by RDS and remote tenant id).
 */
export async function storeRaiEvent(db: Db, event: RaiEvent, from: {ip: string | null}, now: Date): Promise<StoreResult> {
  return db.transaction(async (tx) => {
    // The head lock first: concurrent deliveries of one id then queue behind each other.
    await lockForChange(tx)
    if (await tx('webhook_events').where({event_id: event.id}).first('event_id')) return {status: 'duplicate'} as const
    let tenantMasterId: number | null = null
    if (event.tenant_id && event.rds_instance_id) {
      const tenant = (await tx('tenant_master').where({rds_instance_id: event.rds_instance_id, remote_tenant_id: event.tenant_id}).first('id')) as {id: number} | undefined
      tenantMasterId = tenant ? Number(tenant.id) : null
    }
    const actor = `${event.actor.type}${event.actor.id === null || event.actor.id === undefined ? '' : `:${event.actor.id}`}${event.actor.email ? ` <${event.actor.email}>` : ''}`
    // audit_logs.actor holds 255 characters.
    const context: AuditContext = {actorType: 'rai', actor: actor.slice(0, 255), source: {host: 'rai', command: `event ${event.id} at ${event.occurred_at}`, ip: from.ip}}
    const appended = await appendAudit(
      tx,
      context,
      {
        action: event.action,
        targetType: event.target?.type ?? null,
        targetId: event.target?.id ?? null,
        rdsInstanceId: event.rds_instance_id ?? null,
        tenantMasterId,
        oldValues: event.old_values ?? null,
        newValues: event.new_values ?? null,
      },
      now,
    )
    await tx('webhook_events').insert({event_id: event.id, audit_log_id: appended.id, received_at: now})
    return {status: 'stored', auditId: appended.id, seq: appended.seq} as const
  })
}
