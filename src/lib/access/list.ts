import {PERMISSIONS} from '../auth/permissions.js'
import type {OpsContext} from '../context.js'
import {toBool} from '../db/values.js'
import type {CommandAccess} from './explain.js'

export interface PermissionView {
  permission: string
  /** What it allows. */
  allows: string
  /** The built-in roles that grant it, then the custom ones (from the control database). */
  builtinRoles: string[]
  customRoles: string[]
  /** The commands that need it (`rds:list`), and the flags (`rds:show --reveal`). */
  commands: string[]
}

/**
 * Every permission in the control database, in the order they were added, with
 * what it allows, the roles (built-in or custom) that grant it, and the commands
 * and flags that need it, from what `commands` declare.
 */
export async function listPermissions(ctx: Pick<OpsContext, 'db'>, input: {commands: readonly CommandAccess[]}): Promise<PermissionView[]> {
  const {db} = ctx
  const permissions = await db('raiops_permissions').select('name', 'description').orderBy('id')
  const roles = await db('raiops_roles').select('name', 'is_builtin').orderBy('name')
  const grants = await db('raiops_role_permissions').select('role', 'permission')
  const commands = [...input.commands].sort((a, b) => a.id.localeCompare(b.id))
  const granting = (permission: string, builtin: boolean) =>
    roles.filter((r) => toBool(r.is_builtin) === builtin && grants.some((g) => g.role === r.name && g.permission === permission)).map((r) => r.name)
  return permissions.map(({name, description}) => ({
    permission: name,
    allows: PERMISSIONS[name as keyof typeof PERMISSIONS] ?? description ?? '',
    builtinRoles: granting(name, true),
    customRoles: granting(name, false),
    commands: commands.flatMap((c) => [
      ...(c.permission === name ? [c.id] : []),
      ...c.flags.filter((f) => f.permission === name).map((f) => `${c.id} --${f.name}`),
    ]),
  }))
}
