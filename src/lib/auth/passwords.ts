import bcrypt from 'bcryptjs'

import {UserError} from '../errors/index.js'

/**
 * Password hashes in the form Laravel writes and checks: bcrypt with the `$2y$`
 * prefix (bcryptjs emits `$2b$`, which is the same algorithm).
 */
export async function hashPassword(password: string, cost = 12): Promise<string> {
  assertAcceptablePassword(password)
  const hash = await bcrypt.hash(password, cost)
  return `$2y$${hash.slice(4)}`
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash)
}

/** bcrypt reads only 72 bytes: a longer password is refused rather than silently cut. */
export function assertAcceptablePassword(password: string, what = 'the password'): void {
  if (password.length < 10) throw new UserError(`${what} must be at least 10 characters`)
  if (Buffer.byteLength(password, 'utf8') > 72) throw new UserError(`${what} must be at most 72 bytes (bcrypt reads no further)`)
}
