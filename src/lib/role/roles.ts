import {appendAudit, lockForChange} from '../audit/writer.js'
import {permissionsOf} from '../auth/identity.js'
import {assertMayChange, assertMayHandOut} from '../auth/principal.js'
import type {OpsContext, PrincipalContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {columnLength} from '../db/limits.js'
import {toBool} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'

export interface RoleView {
  name: string
  description: string | null
  builtin: boolean
  permissions: string[]
  operators: number
  tokens: number
}

const ROLE_NAME = /^[a-z][a-z0-9_]{1,63}$/

export async function listRoles(ctx: Pick<OpsContext, 'db'>): Promise<RoleView[]> {
  const {db} = ctx
  const roles = await db('raiops_roles').select('name', 'description', 'is_builtin').orderBy('name')
  const grants = await db('raiops_role_permissions').select('role', 'permission').orderBy('permission')
  const operators = await db('operators').select('role').count({n: '*'}).groupBy('role')
  const tokens = await db('api_tokens').whereNull('revoked_at').select('role').count({n: '*'}).groupBy('role')
  return roles.map((r) => ({
    name: r.name,
    description: r.description,
    builtin: toBool(r.is_builtin),
    permissions: grants.filter((g) => g.role === r.name).map((g) => g.permission),
    operators: Number(operators.find((o) => o.role === r.name)?.n ?? 0),
    tokens: Number(tokens.find((t) => t.role === r.name)?.n ?? 0),
  }))
}

export async function showRole(ctx: Pick<OpsContext, 'db'>, input: {name: string}): Promise<RoleView> {
  const {name} = input
  const role = (await listRoles(ctx)).find((r) => r.name === name)
  if (!role) throw new NotFoundError(`no role "${name}"`, {hint: 'see `raiops role:list`'})
  return role
}

async function assertPermissionsExist(tx: Db, permissions: readonly string[]): Promise<void> {
  const known = new Set((await tx('raiops_permissions').pluck('name')) as string[])
  const unknown = permissions.filter((p) => !known.has(p))
  if (unknown.length > 0)
    throw new UserError(`unknown permission ${unknown.map((p) => `"${p}"`).join(', ')}`, {
      hint: 'see `raiops role:show system_admin` for every permission',
    })
}

export async function createRole(ctx: PrincipalContext, input: {name: string; description?: string; permissions: string[]}): Promise<RoleView> {
  if (!ROLE_NAME.test(input.name)) throw new UserError(`role name "${input.name}" must be lower-case letters, digits and underscores, starting with a letter`)
  const descriptionLength = columnLength('raiops_roles', 'description')
  if ((input.description?.length ?? 0) > descriptionLength) throw new UserError(`--description must be at most ${descriptionLength} characters`)
  const actor = await ctx.principal()
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    if (await tx('raiops_roles').where({name: input.name}).first('name'))
      throw new UserError(`the role "${input.name}" already exists`, {hint: 'use role:grant to add permissions'})
    await assertPermissionsExist(tx, input.permissions)
    await assertMayHandOut(tx, actor, {permissions: input.permissions})
    await tx('raiops_roles').insert({
      name: input.name,
      description: input.description ?? null,
      is_builtin: false,
      created_at: now,
      updated_at: now,
    })
    const unique = [...new Set(input.permissions)]
    if (unique.length > 0) await tx('raiops_role_permissions').insert(unique.map((permission) => ({role: input.name, permission, created_at: now})))
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'role.create',
        targetType: 'role',
        targetId: input.name,
        newValues: {name: input.name, description: input.description ?? null, permissions: unique},
      },
      now,
    )
  })
  return showRole(ctx, {name: input.name})
}

/**
 * Grants or revokes permissions on a custom role; the built-in roles are fixed.
 * A role is changed only by someone who holds all it grants (whoever holds the
 * role is changed with it), and only with permissions they hold themselves.
 */
export async function changeGrants(ctx: PrincipalContext, input: {role: string; permissions: string[]; grant: boolean}): Promise<RoleView> {
  if (input.permissions.length === 0) throw new UserError('name at least one permission')
  const actor = await ctx.principal()
  const now = ctx.now()
  await ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const role = await tx('raiops_roles').where({name: input.role}).first('name', 'is_builtin')
    if (!role) throw new NotFoundError(`no role "${input.role}"`, {hint: 'see `raiops role:list`'})
    if (toBool(role.is_builtin))
      throw new UserError(`${input.role} is a built-in role: its permissions are fixed`, {hint: 'create a custom role with role:create'})
    await assertPermissionsExist(tx, input.permissions)
    await assertMayChange(tx, actor, {kind: 'role', name: input.role})
    if (input.grant) await assertMayHandOut(tx, actor, {permissions: input.permissions})
    const before = await permissionsOf(tx, input.role)
    const wanted = [...new Set(input.permissions)]
    if (input.grant) {
      const missing = wanted.filter((p) => !before.includes(p))
      if (missing.length > 0) await tx('raiops_role_permissions').insert(missing.map((permission) => ({role: input.role, permission, created_at: now})))
    } else {
      await tx('raiops_role_permissions').where({role: input.role}).whereIn('permission', wanted).delete()
    }
    const after = await permissionsOf(tx, input.role)
    if (after.join() !== before.join()) {
      await appendAudit(
        tx,
        ctx.audit,
        {
          action: input.grant ? 'role.grant' : 'role.revoke',
          targetType: 'role',
          targetId: input.role,
          oldValues: {permissions: before},
          newValues: {permissions: after},
        },
        now,
      )
    }
  })
  return showRole(ctx, {name: input.role})
}
