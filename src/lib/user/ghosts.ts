import {randomBytes} from 'node:crypto'

import type {Db} from '../db/control-db.js'

/**
 * Ghost users: one RAI support account per raiops operator allowed to
 * impersonate, on every tenant (`users.is_ghost` true, no routing entry). The
 * facts both the ghost-user sync and the impersonation links rely on.
 */

/** The ghost users' email domain when RAIOPS_GHOST_DOMAIN is not set. */
export const DEFAULT_GHOST_DOMAIN = 'raiops.invalid'

/** The permission whose holders get a ghost user on every tenant. */
export const GHOST_PERMISSION = 'tenant.impersonate'

/** The status a pruned ghost is left with: the fleet's own "may not log in", so the row (and what refers to it) stays. */
export const PRUNED_GHOST_STATUS = 'suspended'

/** A ghost's email: `ghost+<operator id>@<domain>`. */
export const ghostEmail = (operatorId: number, domain: string): string => `ghost+${operatorId}@${domain}`

/** A ghost's name, as the tenant's application shows it. */
export const ghostName = (operatorName: string): string => `RAI support (${operatorName})`.slice(0, 255)

/** The LIKE pattern of every ghost email of a domain (a valid domain name holds no % nor _). */
export const ghostEmailPattern = (domain: string): string => `ghost+%@${domain}`

/**
 * A password value no one can log in with: not a bcrypt hash (it starts with
 * `!`, as a locked account in /etc/shadow), of 32 random bytes nobody keeps.
 */
export const unusablePassword = (): string => `!${randomBytes(32).toString('base64url')}`

/** An operator who gets ghost users. */
export interface GhostOperator {
  id: number
  name: string
  email: string
}

/** Active operators whose role grants tenant.impersonate, by id. */
export async function ghostOperators(db: Db): Promise<GhostOperator[]> {
  const rows = (await db('operators as o')
    .join('raiops_role_permissions as p', 'p.role', 'o.role')
    .where('p.permission', GHOST_PERMISSION)
    .andWhere((q) => q.where('o.is_active', true))
    .select('o.id', 'o.name', 'o.email')
    .orderBy('o.id')) as Array<{id: number | string; name: string; email: string}>
  return rows.map((row) => ({id: Number(row.id), name: row.name, email: row.email}))
}
