import bcrypt from 'bcryptjs'

import {UserError} from '../errors/index.js'

/** The bcrypt cost of the hashes raiops writes. */
export const PASSWORD_COST = 12

/**
 * A hash of nothing anyone knows, at the same cost as the hashes raiops writes:
 * checking a password against it takes as long as against a real one.
 */
export const DUMMY_PASSWORD_HASH = '$2y$12$NSRYONlRMF1ruTCCzhYR2.CNwgNTAVn887Xk2g0nV.Tezcmsc7ZJ.'

/**
 * Password hashes in the form Laravel writes and checks: bcrypt with the `$2y$`
 * prefix (bcryptjs emits `$2b$`, which is the same algorithm).
 */
export async function hashPassword(password: string, cost = PASSWORD_COST): Promise<string> {
  assertAcceptablePassword(password)
  const hash = await bcrypt.hash(password, cost)
  return `$2y$${hash.slice(4)}`
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash)
}

/**
 * Checks a password against `hash`, or against the dummy hash when there is
 * none to check (an unknown email, a locked one): false then, after the same
 * work, so the time taken does not tell which case it was.
 */
export async function checkPasswordOrDummy(password: string, hash: string | null): Promise<boolean> {
  const matches = await verifyPassword(password, hash ?? DUMMY_PASSWORD_HASH)
  return hash !== null && matches
}

/** bcrypt reads only 72 bytes: a longer password is refused rather than silently cut. */
export function assertAcceptablePassword(password: string, what = 'the password'): void {
  if (password.length < 10) throw new UserError(`${what} must be at least 10 characters`)
  if (Buffer.byteLength(password, 'utf8') > 72) throw new UserError(`${what} must be at most 72 bytes (bcrypt reads no further)`)
}
