import type {Db} from '../db/control-db.js'
import {BUILTIN_ROLES, PERMISSIONS} from './permissions.js'

export interface RoleSeedResult {
  permissionsCreated: string[]
  rolesCreated: string[]
  grantsCreated: number
}

/**
 * Inserts the built-in permissions, roles and grants that are missing. Never
 * removes or changes what an operator has edited; running it again changes nothing.
 */
export async function seedRoles(tx: Db, now: Date): Promise<RoleSeedResult> {
  const existingPermissions = new Set((await tx('raiops_permissions').pluck('name')) as string[])
  const permissionsCreated = Object.keys(PERMISSIONS).filter((name) => !existingPermissions.has(name))
  if (permissionsCreated.length > 0) {
    await tx('raiops_permissions').insert(
      permissionsCreated.map((name) => ({
        name,
        description: PERMISSIONS[name as keyof typeof PERMISSIONS],
        created_at: now,
        updated_at: now,
      })),
    )
  }
  const existingRoles = new Set((await tx('raiops_roles').pluck('name')) as string[])
  const rolesCreated = Object.keys(BUILTIN_ROLES).filter((name) => !existingRoles.has(name))
  if (rolesCreated.length > 0) {
    await tx('raiops_roles').insert(
      rolesCreated.map((name) => ({
        name,
        description: BUILTIN_ROLES[name].description,
        is_builtin: true,
        created_at: now,
        updated_at: now,
      })),
    )
  }
  // A grant is seeded when its role or its permission is new: revocations an operator made stand.
  const newRoles = new Set(rolesCreated)
  const newPermissions = new Set(permissionsCreated)
  const grants = Object.entries(BUILTIN_ROLES).flatMap(([role, {permissions}]) =>
    permissions.filter((permission) => newRoles.has(role) || newPermissions.has(permission)).map((permission) => ({role, permission, created_at: now})),
  )
  for (let i = 0; i < grants.length; i += 100) await tx('raiops_role_permissions').insert(grants.slice(i, i + 100))
  return {permissionsCreated, rolesCreated, grantsCreated: grants.length}
}
