/**
 * Two guards that keep secrets out of everything raiops writes:
 * - `redactValues` replaces secret-looking keys in objects (audit values, JSON output);
 * - `scrubText` removes any secret this process has handled from a line of text,
 *   as a last line of defence for error messages that come from drivers.
 */

const SECRET_KEY = /pass(word)?|secret|token|(^|_)key$|master_?key|_enc$|hash$|credential|authorization/i

export const REDACTED = '[redacted]'

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key)
}

/** A deep copy of `value` with every secret-looking key's value replaced by `[redacted]`. */
export function redactValues<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => redactValues(item)) as T
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {}
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      out[key] = isSecretKey(key) ? (inner === null || inner === undefined ? inner : REDACTED) : redactValues(inner)
    }
    return out as T
  }
  return value
}

const seen = new Set<string>()

/** Remember a secret this process has read, so `scrubText` can remove it from any output. */
export function rememberSecret(secret: string | null | undefined): void {
  if (secret && secret.length >= 3) seen.add(secret)
}

export function scrubText(text: string): string {
  let out = text
  for (const secret of seen) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }
  return out.replace(/(\w+:\/\/[^:/\s@]+:)([^@\s]+)@/g, `$1${REDACTED}@`)
}

/** The command line as typed, with the values of secret-looking flags removed. */
export function scrubArgv(argv: readonly string[]): string[] {
  const out: string[] = []
  let hideNext = false
  for (const arg of argv) {
    if (hideNext) {
      out.push(REDACTED)
      hideNext = false
      continue
    }
    const match = /^--?([\w-]+)(=.*)?$/.exec(arg)
    if (match && isSecretKey(match[1].replaceAll('-', '_')) && !/stdin|file$/.test(match[1])) {
      if (match[2]) out.push(`--${match[1]}=${REDACTED}`)
      else {
        out.push(arg)
        hideNext = true
      }
      continue
    }
    out.push(scrubText(arg))
  }
  return out
}
