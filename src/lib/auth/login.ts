import {appendAudit, lockForChange, type AuditContext} from '../audit/writer.js'
import type {Db} from '../control-db/index.js'
import {toBool, toIso} from '../control-db/time.js'
import {NotPermittedError} from '../errors/index.js'
import {verifyPassword} from './passwords.js'

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

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
  // What the trail records of the address typed: a password typed into the email field is not kept.
  const recorded = EMAIL_SHAPE.test(address) ? address.slice(0, 200) : '(not an email address)'
  const find = (q: Db) => q('operators').whereRaw('lower(email) = ?', [address]).first() as Promise<OperatorRow | undefined>
  const isLocked = (row: OperatorRow | undefined) => {
    const until = row ? toIso(row.locked_until) : null
    return until !== null && Date.parse(until) > now.getTime()
  }
  const seen = await find(db)
  // The hash is always checked, so the time taken does not tell whether the email exists.
  const matches = await verifyPassword(password, seen && !isLocked(seen) ? seen.password_hash : DUMMY_HASH)

  const outcome = await db.transaction(async (tx) => {
    await lockForChange(tx)
    // Read again under the lock: parallel attempts are counted one after another.
    const row = await find(tx)
    const locked = isLocked(row)
    const failure = !row ? 'unknown email' : locked ? 'locked' : !matches || row.password_hash !== seen?.password_hash ? 'wrong password' : !toBool(row.is_active) ? 'disabled' : null
    const context: AuditContext = {...audit, actorType: 'system', actor: `login:${recorded}`}
    if (failure) {
      let lockedNow = false
      if (row && failure === 'wrong password') {
        const failed = Number(row.failed_logins) + 1
        lockedNow = failed >= MAX_FAILED_LOGINS
        await tx('operators')
          .where({id: row.id})
          .update(lockedNow ? {failed_logins: 0, locked_until: new Date(now.getTime() + LOCKOUT_MS), updated_at: now} : {failed_logins: failed, updated_at: now})
      }
      await appendAudit(tx, context, {action: 'auth.login_failed', targetType: 'operator', targetId: row ? Number(row.id) : null, newValues: {email: recorded, reason: failure, locked: lockedNow}}, now)
      return {failure, lockedNow, lockedUntil: row ? toIso(row.locked_until) : null, row}
    }
    await tx('operators').where({id: (row as OperatorRow).id}).update({failed_logins: 0, locked_until: null, last_login_at: now, updated_at: now})
    await appendAudit(tx, {...audit, actorType: 'operator', actor: (row as OperatorRow).email}, {action: 'auth.login', targetType: 'operator', targetId: Number((row as OperatorRow).id)}, now)
    return {failure: null, lockedNow: false, lockedUntil: null, row}
  })
  if (outcome.failure === 'locked') throw new NotPermittedError(`${address} is locked after ${MAX_FAILED_LOGINS} failed logins, until ${outcome.lockedUntil}`, {hint: 'wait, or ask a system_admin to set a new password'})
  if (outcome.failure === 'disabled') throw new NotPermittedError(`the operator ${address} is disabled`, {hint: 'ask a system_admin'})
  if (outcome.failure) {
    throw new NotPermittedError(outcome.lockedNow ? `wrong email or password; ${address} is now locked for ${LOCKOUT_MS / 60_000} minutes` : 'wrong email or password', {hint: 'check them and try again'})
  }
  const r = outcome.row as OperatorRow
  return {id: Number(r.id), email: r.email, name: r.name, role: r.role}
}
