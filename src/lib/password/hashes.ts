/**
 * Password hashes of the fleet as raiops handles them: read into memory only
 * to be compared, never returned. What leaves a service is the bcrypt cost
 * (not a secret: `costOf` in bcrypt.ts) and a group label.
 */

/** A hash column's value as text; null when NULL or empty (no password). */
export function hashOf(value: unknown): string | null {
  if (value === null || value === undefined) return null
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
  return text === '' ? null : text
}

/** The n-th label (0 → A, 25 → Z, 26 → AA …). */
function label(n: number): string {
  let text = ''
  for (let i = n; i >= 0; i = Math.floor(i / 26) - 1) text = String.fromCodePoint(65 + (i % 26)) + text
  return text
}

/**
 * Labels distinct hashes `A`, `B`, `C`… by first appearance, so rows can say
 * which share a password without saying anything about it. Two labels are two
 * different hashes: the same password hashed twice (another salt) is two labels too.
 */
export class HashGroups {
  private readonly labels = new Map<string, string>()

  /** The label of `hash`; null for no hash. */
  of(hash: string | null): string | null {
    if (hash === null) return null
    let found = this.labels.get(hash)
    if (found === undefined) this.labels.set(hash, (found = label(this.labels.size)))
    return found
  }

  /** How many distinct hashes were labelled. */
  get size(): number {
    return this.labels.size
  }
}
