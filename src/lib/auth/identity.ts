import type {AuditContext} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {toBool, toIso} from '../db/values.js'
import {NotPermittedError} from '../errors/index.js'
import {sessionOnRecord, verifySession} from './session.js'
import {hashToken, recordTokenUse} from './token-hash.js'
import type {Identity} from './types.js'

export type {Identity} from './types.js'

export async function permissionsOf(db: Db, role: string): Promise<string[]> {
  return ((await db('raiops_role_permissions').where({role}).orderBy('permission').pluck('permission')) as string[]).map(String)
}

/**
 * The caller's identity: RAIOPS_TOKEN when set (a token wins over a session),
 * else the session stored on this machine. Anything that does not hold (no
 * identity, an unknown, revoked or expired token, an expired or forged session,
 * a disabled operator) is refused with one line (exit 5). The only change it
 * makes is noting the token's use, on behalf of the token itself.
 */
export async function resolveIdentity(ctx: Pick<OpsContext, 'db' | 'now'>, source: {token?: string; session: string | null; home: string}): Promise<Identity> {
  const {db} = ctx
  const now = ctx.now()
  if (source.token) {
    const row = (await db('api_tokens')
      .where({token_hash: hashToken(source.token)})
      .first('id', 'name', 'role', 'expires_at', 'revoked_at')) as
      {id: number | string; name: string; role: string; expires_at: unknown; revoked_at: unknown} | undefined
    if (!row) throw new NotPermittedError('RAIOPS_TOKEN is not a valid raiops token', {hint: 'create one with `raiops token:create`'})
    if (toIso(row.revoked_at)) throw new NotPermittedError(`the token "${row.name}" was revoked`, {hint: 'create a new one with `raiops token:create`'})
    const expiresAt = toIso(row.expires_at)
    if (expiresAt && Date.parse(expiresAt) <= now.getTime())
      throw new NotPermittedError(`the token "${row.name}" expired at ${expiresAt}`, {hint: 'create a new one with `raiops token:create`'})
    await recordTokenUse(db, Number(row.id), now)
    return {kind: 'token', id: Number(row.id), name: row.name, role: row.role, permissions: await permissionsOf(db, row.role), expiresAt}
  }
  if (!source.session) throw new NotPermittedError('not signed in', {hint: 'run `raiops auth:login`, or set RAIOPS_TOKEN'})
  const checked = await verifySession(source.home, source.session, now)
  if (!checked.ok) {
    throw new NotPermittedError(checked.reason === 'expired' ? 'the session has expired' : 'the stored session is not valid', {
      hint: 'run `raiops auth:login`',
    })
  }
  const operator = (await db('operators').where({id: checked.claims.operatorId}).first('id', 'email', 'name', 'role', 'is_active')) as
    {id: number | string; email: string; name: string; role: string; is_active: unknown} | undefined
  if (!operator || operator.email !== checked.claims.email)
    throw new NotPermittedError('the stored session belongs to no operator', {hint: 'run `raiops auth:login`'})
  if (!(await sessionOnRecord(db, checked.claims, now)))
    throw new NotPermittedError('the stored session was ended (signed out, a new password, or disabled)', {hint: 'run `raiops auth:login`'})
  if (!toBool(operator.is_active)) throw new NotPermittedError(`the operator ${operator.email} is disabled`, {hint: 'ask a system_admin'})
  return {
    kind: 'operator',
    id: Number(operator.id),
    email: operator.email,
    name: operator.name,
    role: operator.role,
    permissions: await permissionsOf(db, operator.role),
    expiresAt: checked.claims.expiresAt.toISOString(),
  }
}

export function assertPermitted(identity: Identity, permission: string, command: string): void {
  if (!identity.permissions.includes(permission)) {
    const who = identity.kind === 'operator' ? identity.email : `token "${identity.name}"`
    throw new NotPermittedError(`${who} (role ${identity.role}) may not run ${command}: it needs the permission ${permission}`, {
      hint: 'ask a system_admin for a role that has it',
    })
  }
}

/** The audit identity of a caller. */
export function auditActor(identity: Identity, source: AuditContext['source']): AuditContext {
  return identity.kind === 'operator' ? {actorType: 'operator', actor: identity.email, source} : {actorType: 'token', actor: identity.name, source}
}
