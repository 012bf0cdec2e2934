import {appendAudit, lockForChange, type AuditContext} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import type {OperatorRow} from '../db/tables.js'
import {toBool, toIso} from '../db/values.js'
import {NotPermittedError} from '../errors/index.js'
import {checkPasswordOrDummy} from './passwords.js'

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** Failed logins in a row after which an email is locked, and for how long. */
export const MAX_FAILED_LOGINS = 5
export const LOCKOUT_MS = 15 * 60_000

/**
 * What every refused sign-in is told, whatever the reason: a wrong password, an
 * unknown email and a locked one read the same, so nobody learns from it which
 * emails are operators.
 */
const REFUSED = `wrong email or password, or the email is locked after ${MAX_FAILED_LOGINS} failed logins in a row`
const REFUSED_HINT = `check them and try again; a lock lasts ${LOCKOUT_MS / 60_000} minutes, and a system_admin lifts it with operator:password`

export interface LoggedIn {
  id: number
  email: string
  name: string
  role: string
}

/**
 * Checks an operator's email and password. A wrong password, an unknown email,
 * a disabled operator and a locked email are refused (exit 5) and audited
 * (`auth.login_failed`, never with the password); the fifth failure in a row
 * locks the email for 15 minutes. A success clears the count and is audited.
 * Nobody is signed in yet: the trail names the email typed (`login:…`) or, on
 * success, the operator, with the machine and command of `ctx.audit`.
 */
export async function login(ctx: ChangeContext, input: {email: string; password: string}): Promise<LoggedIn> {
  const {db, audit} = ctx
  const {email, password} = input
  const now = ctx.now()
  const address = email.trim().toLowerCase()
  // What the trail records of the address typed: a password typed into the email field is not kept.
  const recorded = EMAIL_SHAPE.test(address) ? address.slice(0, 200) : '(not an email address)'
  const find = (q: Db) => q('operators').whereRaw('lower(email) = ?', [address]).first()
  const isLocked = (row: OperatorRow | undefined) => {
    const until = row ? toIso(row.locked_until) : null
    return until !== null && Date.parse(until) > now.getTime()
  }
  const seen = await find(db)
  // The hash is always checked, so the time taken does not tell whether the email exists.
  const matches = await checkPasswordOrDummy(password, seen && !isLocked(seen) ? seen.password_hash : null)

  const outcome = await db.transaction(async (tx) => {
    await lockForChange(tx)
    // Read again under the lock: parallel attempts are counted one after another.
    const row = await find(tx)
    const locked = isLocked(row)
    const failure = !row
      ? 'unknown email'
      : locked
        ? 'locked'
        : !matches || row.password_hash !== seen?.password_hash
          ? 'wrong password'
          : !toBool(row.is_active)
            ? 'disabled'
            : null
    const context: AuditContext = {...audit, actorType: 'system', actor: `login:${recorded}`}
    if (failure || !row) {
      let lockedNow = false
      if (row && failure === 'wrong password') {
        const failed = Number(row.failed_logins) + 1
        lockedNow = failed >= MAX_FAILED_LOGINS
        await tx('operators')
          .where({id: row.id})
          .update(
            lockedNow ? {failed_logins: 0, locked_until: new Date(now.getTime() + LOCKOUT_MS), updated_at: now} : {failed_logins: failed, updated_at: now},
          )
      }
      await appendAudit(
        tx,
        context,
        {
          action: 'auth.login_failed',
          targetType: 'operator',
          targetId: row ? Number(row.id) : null,
          newValues: {email: recorded, reason: failure, locked: lockedNow},
        },
        now,
      )
      return {ok: false as const, failure}
    }
    await tx('operators').where({id: row.id}).update({failed_logins: 0, locked_until: null, last_login_at: now, updated_at: now})
    await appendAudit(tx, {...audit, actorType: 'operator', actor: row.email}, {action: 'auth.login', targetType: 'operator', targetId: Number(row.id)}, now)
    return {ok: true as const, row}
  })
  // Only someone who typed the right password learns that the operator is disabled.
  if (!outcome.ok && outcome.failure === 'disabled') throw new NotPermittedError(`the operator ${address} is disabled`, {hint: 'ask a system_admin'})
  if (!outcome.ok) throw new NotPermittedError(REFUSED, {hint: REFUSED_HINT})
  const r = outcome.row
  return {id: Number(r.id), email: r.email, name: r.name, role: r.role}
}
