import type {Db} from '../db/control-db.js'
import {NotPermittedError} from '../errors/index.js'
import {permissionsOf} from './identity.js'
import type {Identity, Principal, SystemPrincipal} from './types.js'

export type {Principal, SystemPrincipal} from './types.js'

export const SYSTEM_PRINCIPAL: SystemPrincipal = {kind: 'system', name: 'raiops'}

/** An operator, a token (with their role) or a role, as something a caller acts on. */
export type PrincipalRef = {kind: 'operator'; email: string; role: string} | {kind: 'token'; name: string; role: string} | {kind: 'role'; name: string}

/** The permission every change to an operator, a token, a session or a role needs, whichever command makes it. */
const MANAGE = 'operator.manage'

function describeTarget(ref: PrincipalRef): string {
  if (ref.kind === 'operator') return `the operator ${ref.email} (role ${ref.role})`
  if (ref.kind === 'token') return `the token "${ref.name}" (role ${ref.role})`
  return `the role ${ref.name}`
}

function who(actor: Identity): string {
  return actor.kind === 'operator' ? actor.email : `token "${actor.name}"`
}

function named(permissions: readonly string[]): string {
  return permissions.length <= 4 ? permissions.join(', ') : `${permissions.slice(0, 3).join(', ')} and ${permissions.length - 3} more`
}

/**
 * The one rule behind both checks below: a caller other than raiops itself
 * needs operator.manage, and `permissions` must all be the caller's own.
 */
function assertHolds(actor: Identity, permissions: readonly string[], refusal: (beyond: string) => string, hint: string): void {
  if (!actor.permissions.includes(MANAGE)) {
    throw new NotPermittedError(`${who(actor)} (role ${actor.role}) may not change operators, tokens or roles: it needs the permission ${MANAGE}`, {
      hint: 'ask a system_admin for a role that has it',
    })
  }
  const beyond = permissions.filter((p) => !actor.permissions.includes(p))
  if (beyond.length > 0) throw new NotPermittedError(refusal(named(beyond)), {hint})
}

/**
 * Nobody acts on someone who holds more than they do: changing an operator
 * (password, name, role, active state, sessions), a token or a role's grants
 * is refused when the target holds a permission the caller lacks, since the
 * caller could otherwise take over what the target holds (set their password
 * and sign in as them). Every service that changes a principal calls this,
 * inside its transaction and before it writes.
 */
export async function assertMayChange(tx: Db, actor: Principal, target: PrincipalRef): Promise<void> {
  if (actor.kind === 'system') return
  const held = await permissionsOf(tx, target.kind === 'role' ? target.name : target.role)
  assertHolds(
    actor,
    held,
    (beyond) => `${describeTarget(target)} holds ${beyond}, which you do not hold yourself: you may not change ${target.kind === 'role' ? 'it' : 'them'}`,
    'ask someone who holds them all',
  )
}

/**
 * Nobody hands out more than they hold: a role given to an operator or a
 * token, or permissions put into a role, must be within the caller's own.
 */
export async function assertMayHandOut(tx: Db, actor: Principal, wanted: {role: string} | {permissions: readonly string[]}): Promise<void> {
  if (actor.kind === 'system') return
  const permissions = 'role' in wanted ? await permissionsOf(tx, wanted.role) : wanted.permissions
  assertHolds(
    actor,
    permissions,
    (beyond) => `${'role' in wanted ? `the role ${wanted.role} grants` : 'that grants'} ${beyond}, which you do not hold yourself`,
    'ask someone who holds them',
  )
}
