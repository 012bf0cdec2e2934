import {z} from 'zod'

import {appendAudit, lockForChange} from '../audit/writer.js'
import {permissionsOf} from '../auth/identity.js'
import {hashPassword} from '../auth/passwords.js'
import {assertMayChange, assertMayHandOut} from '../auth/principal.js'
import type {OpsContext, PrincipalContext} from '../context.js'
import {insertReturningId, isUniqueViolation, type Db} from '../db/control-db.js'
import type {OperatorRow} from '../db/tables.js'
import {toBool, toIso} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'

export interface OperatorView {
  id: number
  name: string
  email: string
  role: string
  isActive: boolean
  lastLoginAt: string | null
  lockedUntil: string | null
  createdAt: string | null
}

const COLUMNS = ['id', 'name', 'email', 'role', 'is_active', 'last_login_at', 'locked_until', 'created_at'] as const

/** What the views need of an operator's row. */
type OperatorViewRow = Pick<OperatorRow, (typeof COLUMNS)[number]>

const toView = (row: OperatorViewRow): OperatorView => ({
  id: Number(row.id),
  name: row.name,
  email: row.email,
  role: row.role,
  isActive: toBool(row.is_active),
  lastLoginAt: toIso(row.last_login_at),
  lockedUntil: toIso(row.locked_until),
  createdAt: toIso(row.created_at),
})

const emailSchema = z.string().trim().toLowerCase().email().max(255)
const nameSchema = z.string().trim().min(1).max(255)

function email(value: string): string {
  const parsed = emailSchema.safeParse(value)
  if (!parsed.success) throw new UserError(`"${value}" is not an email address`)
  return parsed.data
}

function name(value: string): string {
  const parsed = nameSchema.safeParse(value)
  if (!parsed.success) throw new UserError('the name must be 1 to 255 characters')
  return parsed.data
}

async function assertRole(tx: Db, role: string): Promise<void> {
  if (!(await tx('raiops_roles').where({name: role}).first('name'))) throw new NotFoundError(`no role "${role}"`, {hint: 'see `raiops role:list`'})
}

async function findRow(tx: Db, ref: string): Promise<OperatorViewRow> {
  const row = await tx('operators')
    .select(...COLUMNS)
    .where((q) => (/^\d+$/.test(ref) ? q.where({id: Number(ref)}) : q.whereRaw('lower(email) = ?', [ref.trim().toLowerCase()])))
    .first()
  if (!row) throw new NotFoundError(`no operator "${ref}"`, {hint: 'see `raiops operator:list`'})
  return row
}

/** Refuses a change that would leave no active system_admin. */
async function assertAdminRemains(tx: Db, row: OperatorViewRow, after: {role: string; isActive: boolean}): Promise<void> {
  if (row.role !== 'system_admin' || !toView(row).isActive) return
  if (after.role === 'system_admin' && after.isActive) return
  const others = await tx('operators')
    .where({role: 'system_admin'})
    .whereNot({id: row.id})
    .andWhere((q) => q.where({is_active: true}))
    .count({n: '*'})
  if (Number(others[0].n) === 0) {
    throw new UserError(`${row.email} is the last active system_admin: it cannot be disabled or given another role`, {
      hint: 'make another operator system_admin first',
    })
  }
}

/**
 * Every open session of an operator revoked (a new password, disabled). Only
 * the services here call it, after the caller was found to hold all the
 * operator holds: ending someone's sessions is acting on them.
 */
async function revokeSessions(tx: Db, operatorId: number, now: Date): Promise<void> {
  await tx('auth_sessions').where({operator_id: operatorId}).whereNull('revoked_at').update({revoked_at: now})
}

export async function listOperators(ctx: Pick<OpsContext, 'db'>): Promise<OperatorView[]> {
  return (
    await ctx
      .db('operators')
      .select(...COLUMNS)
      .orderBy('id')
  ).map(toView)
}

/** `operator:show`: an operator, with the permissions their role grants. */
export async function showOperator(ctx: Pick<OpsContext, 'db'>, input: {ref: string}): Promise<OperatorView & {permissions: string[]}> {
  const operator = toView(await findRow(ctx.db, input.ref))
  return {...operator, permissions: await permissionsOf(ctx.db, operator.role)}
}

/** Inserts an active operator with no failed sign-ins; the caller owns the transaction and writes its audit entry. */
export async function insertOperator(tx: Db, operator: {name: string; email: string; passwordHash: string; role: string}, now: Date): Promise<number> {
  const {name, email, passwordHash, role} = operator
  return insertReturningId(tx, 'operators', {
    name,
    email,
    password_hash: passwordHash,
    role,
    is_active: true,
    failed_logins: 0,
    created_at: now,
    updated_at: now,
  })
}

export async function addOperator(ctx: PrincipalContext, input: {email: string; name: string; role: string; password: string}): Promise<OperatorView> {
  const address = email(input.email)
  const displayName = name(input.name)
  const passwordHash = await hashPassword(input.password)
  const actor = await ctx.principal()
  const now = ctx.now()
  try {
    return await ctx.db.transaction(async (tx) => {
      await lockForChange(tx)
      await assertRole(tx, input.role)
      await assertMayHandOut(tx, actor, {role: input.role})
      const id = await insertOperator(tx, {name: displayName, email: address, passwordHash, role: input.role}, now)
      await appendAudit(
        tx,
        ctx.audit,
        {action: 'operator.create', targetType: 'operator', targetId: id, newValues: {name: displayName, email: address, role: input.role}},
        now,
      )
      return toView(await findRow(tx, String(id)))
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new UserError(`an operator with email ${address} already exists`, {hint: 'see `raiops operator:list`'})
    throw error
  }
}

export interface OperatorChanges {
  name?: string
  role?: string
  isActive?: boolean
}

export interface EditOperatorInput {
  /** The operator, by id or email. */
  ref: string
  changes: OperatorChanges
  /** The audit action recorded (operator:disable records its own). */
  action?: string
}

export async function editOperator(ctx: PrincipalContext, input: EditOperatorInput): Promise<OperatorView> {
  const {ref, changes} = input
  const action = input.action ?? 'operator.edit'
  if (changes.name === undefined && changes.role === undefined && changes.isActive === undefined)
    throw new UserError('nothing to change', {hint: 'give --name, --role, --active or --no-active'})
  const actor = await ctx.principal()
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const row = await findRow(tx, ref)
    const before = toView(row)
    await assertMayChange(tx, actor, {kind: 'operator', email: row.email, role: row.role})
    if (changes.role !== undefined) {
      await assertRole(tx, changes.role)
      await assertMayHandOut(tx, actor, {role: changes.role})
    }
    const after = {
      name: changes.name === undefined ? before.name : name(changes.name),
      role: changes.role ?? before.role,
      isActive: changes.isActive ?? before.isActive,
    }
    await assertAdminRemains(tx, row, after)
    if (after.name === before.name && after.role === before.role && after.isActive === before.isActive) return before
    await tx('operators').where({id: row.id}).update({name: after.name, role: after.role, is_active: after.isActive, updated_at: now})
    if (!after.isActive) await revokeSessions(tx, Number(row.id), now)
    await appendAudit(
      tx,
      ctx.audit,
      {
        action,
        targetType: 'operator',
        targetId: before.id,
        oldValues: {name: before.name, role: before.role, isActive: before.isActive},
        newValues: after,
      },
      now,
    )
    return toView(await findRow(tx, String(before.id)))
  })
}

/** Sets a new password; the lock and the count of failed logins are cleared. */
export async function setOperatorPassword(ctx: PrincipalContext, input: {ref: string; password: string}): Promise<OperatorView> {
  const {ref, password} = input
  const passwordHash = await hashPassword(password)
  const actor = await ctx.principal()
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const row = await findRow(tx, ref)
    await assertMayChange(tx, actor, {kind: 'operator', email: row.email, role: row.role})
    await tx('operators').where({id: row.id}).update({password_hash: passwordHash, failed_logins: 0, locked_until: null, updated_at: now})
    // Whoever held a session of the old password holds nothing now.
    await revokeSessions(tx, Number(row.id), now)
    await appendAudit(
      tx,
      ctx.audit,
      {action: 'operator.password', targetType: 'operator', targetId: Number(row.id), newValues: {email: row.email, password: 'changed'}},
      now,
    )
    return toView(await findRow(tx, String(row.id)))
  })
}
