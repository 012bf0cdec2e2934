import {permissionsOf} from '../auth/identity.js'
import type {OpsContext} from '../context.js'
import {toBool} from '../db/values.js'
import {NotFoundError} from '../errors/index.js'

export interface AccessExplanation {
  operator: string
  command: string
  permission: string | null
  allowed: boolean
  reason: string
}

/** Whether an operator may run a command, and why, from their state, their role and its grants. */
export async function explainAccess(
  ctx: Pick<OpsContext, 'db'>,
  input: {operator: string; command: {id: string; permission: string | null}},
): Promise<AccessExplanation> {
  const {db} = ctx
  const {operator: operatorRef, command} = input
  const row = await db('operators')
    .where((q) => (/^\d+$/.test(operatorRef) ? q.where({id: Number(operatorRef)}) : q.whereRaw('lower(email) = ?', [operatorRef.trim().toLowerCase()])))
    .first('email', 'role', 'is_active')
  if (!row) throw new NotFoundError(`no operator "${operatorRef}"`, {hint: 'see `raiops operator:list`'})
  const base = {operator: row.email, command: command.id, permission: command.permission}
  if (command.permission === null) return {...base, allowed: true, reason: `${command.id} needs no permission: anyone may run it`}
  if (!toBool(row.is_active)) return {...base, allowed: false, reason: `${row.email} is disabled`}
  const granted = (await permissionsOf(db, row.role)).includes(command.permission)
  return {
    ...base,
    allowed: granted,
    reason: granted
      ? `${command.id} needs ${command.permission}, which the role ${row.role} of ${row.email} grants`
      : `${command.id} needs ${command.permission}, which the role ${row.role} of ${row.email} does not grant`,
  }
}
