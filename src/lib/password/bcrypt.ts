import bcrypt from 'bcryptjs'

/**
 * bcrypt as Laravel writes and checks it, for tenants' users' passwords:
 * bcryptjs (it verifies `$2y$`; it generates `$2b$`, the same algorithm, written
 * here as `$2y$`). A hash or a check costs the same (2^cost rounds): callers
 * keep their number down.
 */

/** The cost when none of a person's hashes tells the fleet's. */
export const DEFAULT_COST = 12
/**
 * The highest cost raiops computes or checks: 16 (16 times Laravel's default 12;
 * seconds per hash). A stored hash claiming more, up to bcrypt's 31, is damaged or
 * hostile (cost 31 is days of work): it neither sets the cost of a new hash nor is
 * checked against a password.
 */
export const MAX_COST = 16
/** bcrypt reads no further than this many bytes of a password. */
export const MAX_PASSWORD_BYTES = 72

const BCRYPT = /^\$2[abxy]?\$(\d{2})\$[./A-Za-z0-9]{53}$/

/** The cost of a bcrypt hash; null when the value is not one. */
export function costOf(hash: string | null | undefined): number | null {
  const match = hash ? BCRYPT.exec(hash) : null
  if (!match) return null
  const cost = Number(match[1])
  return cost >= 4 && cost <= 31 ? cost : null
}

/** The cost of a hash raiops will check or take as the fleet's: at most MAX_COST; null otherwise. */
export function usableCost(hash: string | null | undefined): number | null {
  const cost = costOf(hash)
  return cost !== null && cost <= MAX_COST ? cost : null
}

/** The most common usable cost among these hashes (the higher on a tie); DEFAULT_COST when none has one. */
export function fleetCost(hashes: Iterable<string | null>): number {
  const counts = new Map<number, number>()
  for (const hash of hashes) {
    const cost = usableCost(hash)
    if (cost !== null) counts.set(cost, (counts.get(cost) ?? 0) + 1)
  }
  let best: [number, number] | null = null
  for (const [cost, n] of counts) if (!best || n > best[1] || (n === best[1] && cost > best[0])) best = [cost, n]
  return best ? best[0] : DEFAULT_COST
}

/** Why a new password cannot be used (never quoting it); null when it can. */
export function passwordProblem(password: string, what = 'the new password'): string | null {
  if (password.trim() === '') return `${what} is empty`
  const bytes = Buffer.byteLength(password, 'utf8')
  if (bytes > MAX_PASSWORD_BYTES) return `${what} is ${bytes} bytes long; bcrypt reads only the first ${MAX_PASSWORD_BYTES}: choose a shorter one`
  return null
}

/**
 * A bcrypt hash as Laravel writes it: `$2b$` (the same algorithm under another
 * name) becomes `$2y$`, the only prefix PHP's password_get_info calls bcrypt
 * (Laravel's Hash::check refuses the others); any other value is returned as it is.
 */
export function asLaravelHash(hash: string): string {
  return hash.startsWith('$2b$') ? `$2y$${hash.slice(4)}` : hash
}

/** A bcrypt hash of `password` at `cost`, as Laravel writes it (`$2y$`). Runs between the event loop's turns, so I/O goes on meanwhile. */
export async function hashPassword(password: string, cost: number): Promise<string> {
  return `$2y$${(await bcrypt.hash(password, cost)).slice(4)}`
}

/** Whether `password` matches `hash` (any of $2a$, $2b$, $2x$, $2y$); false when `hash` is no bcrypt hash or costs more than MAX_COST. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  return usableCost(hash) !== null && bcrypt.compare(password, hash)
}
