import {appendAudit, lockForChange, type AuditContext} from '../audit/writer.js'
import type {Db} from '../control-db/index.js'
import {toIso} from '../control-db/time.js'
import {NotPermittedError} from '../errors/index.js'
import {verifyPassword} from './passwords.js'

/** Failed logins in a row after which an email is locked, and for how long. */
export const MAX_FAILED_LOGINS = 5
export const LOCKOUT_MS = 15 * 60_000

/** A bcrypt hash of nothing anyone knows: an unknown email costs the same time as a wrong password. */
const DUMMY_HASH = '$2y$12$NSRYONlRMF1ruTCCzhYR2.CNwgNTAVn887Xk2g0nV.Tezcmsc7ZJ.'

export interface LoggedIn {
  id: number
  email: string
  name: string
  role: string
}

interface OperatorRow {
  id: number | string
  email: string
  name: string
  role: string
  password_hash: string
  is_active: unknown
  failed_logins: number | string
  locked_until: unknown
}

/**
 * Checks an operator's email and password. A wrong password, an unknown email,
 * a disabled operator and a locked email are refused (exit 5) and audited
 * (`auth.login_failed`, never with the password); the fifth failure in a row
 * locks the email for 15 minutes. A success clears the count and is audited.
 */
export async function login(db: Db, audit: AuditContext, email: string, password: string, now: Date): Promise<LoggedIn> {
  const address = email.trim().toLowerCase()
  const row = (await db('operators').whereRaw('lower(email) = ?', [address]).first()) as OperatorRow | undefined
  const lockedUntil = row ? toIso(row.locked_until) : null
  const locked = lockedUntil !== null && Date.parse(lockedUntil) > now.getTime()
  // The hash is always checked, so the time taken does not tell whether the email exists.
  const matches = await verifyPassword(password, row && !locked ? row.password_hash : DUMMY_HASH)
  const active = Boolean(row && row.is_active && row.is_active !== 0)
  const failure = !row ? 'unknown email' : locked ? 'locked' : !matches ? 'wrong password' : !active ? 'disabled' : null

  return db.transaction(async (tx) => {
    await lockForChange(tx)
    const context: AuditContext = {...audit, actorType: 'system', actor: `login:${address}`}
    if (failure) {
      let lockedNow = false
      if (row && failure === 'wrong password') {
        const failed = Number(row.failed_logins) + 1
        lockedNow = failed >= MAX_FAILED_LOGINS
        await tx('operators')
          .where({id: row.id})
          .update(lockedNow ? {failed_logins: 0, locked_until: new Date(now.getTime() + LOCKOUT_MS), updated_at: now} : {failed_logins: failed, updated_at: now})
      }
      await appendAudit(tx, context, {action: 'auth.login_failed', targetType: 'operator', targetId: row ? Number(row.id) : null, newValues: {email: address, reason: failure, locked: lockedNow}}, now)
      return {failure, lockedNow, lockedUntil}
    }
    await tx('operators').where({id: (row as OperatorRow).id}).update({failed_logins: 0, locked_until: null, last_login_at: now, updated_at: now})
    await appendAudit(tx, {...audit, actorType: 'operator', actor: (row as OperatorRow).email}, {action: 'auth.login', targetType: 'operator', targetId: Number((row as OperatorRow).id)}, now)
    return {failure: null, lockedNow: false, lockedUntil: null}
  }).then((outcome) => {
    if (outcome.failure === 'locked') throw new NotPermittedError(`${address} is locked after ${MAX_FAILED_LOGINS} failed logins, until ${outcome.lockedUntil}`, {hint: 'wait, or ask a system_admin to reset the password'})
    if (outcome.failure === 'disabled') throw new NotPermittedError(`the operator ${address} is disabled`, {hint: 'ask a system_admin'})
    if (outcome.failure) {
      throw new NotPermittedError(outcome.lockedNow ? `wrong email or password; ${address} is now locked for ${LOCKOUT_MS / 60_000} minutes` : 'wrong email or password', {hint: 'check them and try again'})
    }
    const r = row as OperatorRow
    return {id: Number(r.id), email: r.email, name: r.name, role: r.role}
  })
}
