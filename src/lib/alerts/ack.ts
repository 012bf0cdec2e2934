import {appendAudit} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {escapeControl} from '../text/escape.js'
import {formatLabels, parseLabels} from './labels.js'
import {LIVE_STATES, readAlert, type AlertListItem} from './query.js'

export const MAX_ACK_COMMENT = 500

export function parseAlertId(raw: string | number): number {
  const text = String(raw).trim()
  const id = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id) || id < 1)
    throw new UserError(`not an alert id: ${JSON.stringify(String(raw)).slice(0, 60)}`, {hint: 'an alert id is a positive number: see `raiops alerts:list`'})
  return id
}

/**
 * `alerts:ack`: records that an operator is on it (acked_by, acked_at): the
 * alert is shown acknowledged and its repeat notifications stop; its
 * transitions are still notified. Only a live alert (pending, firing,
 * unknown) is acknowledged: anything else is exit 2. Audited (`alert.ack`,
 * with the comment) in the same transaction.
 */
export async function ackAlert(ctx: ChangeContext, input: {id: number; comment?: string}): Promise<AlertListItem> {
  const now = ctx.now()
  const comment = input.comment?.trim() || null
  if (comment !== null && (comment.length > MAX_ACK_COMMENT || escapeControl(comment) !== comment))
    throw new UserError(`--comment must be one line of at most ${MAX_ACK_COMMENT} characters`)
  await ctx.db.transaction(async (tx) => {
    const row = await tx('alert_instances').where({id: input.id}).first()
    if (row === undefined) throw new NotFoundError(`no alert ${input.id}`, {hint: 'see `raiops alerts:list`'})
    if (!LIVE_STATES.includes(row.state))
      throw new UserError(`alert ${input.id} is ${row.state}: only a pending, firing or unknown alert is acknowledged`, {hint: 'see `raiops alerts:list`'})
    // Conditional on the state read, so an alert the engine resolved meanwhile is not acknowledged.
    const updated = await tx('alert_instances').where({id: input.id, state: row.state}).update({acked_by: ctx.audit.actor, acked_at: now})
    if (Number(updated) !== 1) throw new UserError(`alert ${input.id} changed meanwhile`, {hint: 'see `raiops alerts:list` and try again'})
    const labels = parseLabels(row.labels)
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'alert.ack',
        targetType: 'alert_instance',
        targetId: input.id,
        oldValues: row.acked_by === null ? null : {acked_by: row.acked_by},
        newValues: {state: row.state, labels: formatLabels(labels), comment},
      },
      now,
    )
  })
  return (await readAlert(ctx, input.id)) as AlertListItem
}
