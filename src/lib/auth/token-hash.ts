import {createHash} from 'node:crypto'

import type {Db} from '../db/control-db.js'

/** Service tokens start with this, so a leaked one is recognisable (and greppable). */
export const TOKEN_PREFIX = 'raiops_'

/** Only the token's SHA-256 is kept: it has 256 random bits, so no slow hash is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/**
 * Notes when a token was last used: best effort. A control database that cannot
 * take the write now (another process holding SQLite's write lock past the busy
 * timeout, a read-only file) must not fail the command the token runs; the
 * token's next use records it.
 */
export async function recordTokenUse(db: Db, id: number, now: Date): Promise<void> {
  try {
    await db('api_tokens').where({id}).update({last_used_at: now})
  } catch {
    // only bookkeeping
  }
}
