import {jsonEqual, mapJson} from '../json/walk.js'

/**
 * Two guards that keep secrets out of everything raiops writes:
 * - `redactValues` replaces the values of secret-looking keys, and secrets
 *   recognised by their shape in any string or key, in objects (audit values, JSON output);
 * - `scrubText` removes any secret this process has handled from a line of text,
 *   as a last line of defence for error messages that come from drivers.
 */

export const REDACTED = '[redacted]'
/** What the new side of a change holds when a secret changed but both sides redact alike. */
export const REDACTED_CHANGED = '[redacted: changed]'

/** Words that name a secret anywhere in a key once it is lower-cased and its separators dropped (`clientSecret`, `X-Api-Key`, `session_id`). */
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'token',
  'credential',
  'authorization',
  'apikey',
  'privatekey',
  'privkey',
  'accesskey',
  'secretkey',
  'masterkey',
  'signingkey',
  'sessionid',
  'sessionkey',
  'signature',
  'cookie',
  'bearer',
]
/** Short words that name a secret only as a whole word of the key: `pin`, `user_pin`, `pinCode`, but not `pinned` or `spinner`. */
const SECRET_TOKENS = new Set(['pass', 'pwd', 'pin', 'otp', 'totp', 'hotp', 'otpauth', 'jwt', 'salt', 'csrf', 'xsrf'])
/** The last word of a secret's key: `key`, `api_key`, `password_hash`, `password_enc`, `x-auth` (but not `auth_method`). */
const SECRET_LAST_WORDS = new Set(['key', 'hash', 'enc', 'auth'])

/** A key's words: split at `_`, `-`, `.`, spaces, camelCase humps and digits, lower-cased (`clientSecretV2` → client, secret, v, 2). */
function keyWords(key: string): string[] {
  return (key.match(/\p{Lu}+(?=\p{Lu}\p{Ll})|\p{Lu}?\p{Ll}+|\p{Lu}+|\p{N}+|\p{L}+/gu) ?? []).map((word) => word.toLowerCase())
}

export function isSecretKey(key: string): boolean {
  const words = keyWords(key)
  if (words.length === 0) return false
  if (words.some((word) => SECRET_TOKENS.has(word)) || SECRET_LAST_WORDS.has(words[words.length - 1])) return true
  const joined = words.join('')
  return SECRET_WORDS.some((word) => joined.includes(word))
}

/** Secrets recognised by their shape, whatever key holds them or text surrounds them. */
const SECRET_SHAPES = [
  // bcrypt ($2a$, $2b$, $2x$, $2y$, $2$), whole or cut short
  /\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{22,}/g,
  // argon2 and the SHA/MD5 crypt family
  /\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+(?:\$[A-Za-z0-9+/]*)?/g,
  /\$[156]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}/g,
  // a JWT (JWS or JWE compact form: a base64url JSON header, then two to four more parts)
  /\beyJ[\w-]{8,}(?:\.[\w-]*){2,4}/g,
  // a PEM private key, to its END line or, cut short, to the end of the text
  /-----BEGIN [A-Z0-9 ]*(?:PRIVATE|SECRET) KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*KEY(?: BLOCK)?-----|$)/g,
  // raiops' own: a secret-box envelope (v1.<kid>.<nonce ‖ ciphertext ‖ tag>) and a service token
  /\bv1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{16,}/g,
  /\braiops_[A-Za-z0-9_-]{40,}/g,
]

/** `text` with every secret recognised by its shape replaced by `marker`. */
export function redactSecretShapes(text: string, marker = REDACTED): string {
  let out = text
  for (const shape of SECRET_SHAPES) out = out.replace(shape, marker)
  return out
}

const redactor = (marker: string) => ({
  string: (text: string) => redactSecretShapes(text, marker),
  // A secret can be sent as a key (`{"$2b$10$…": "x"}`); two such keys in one object stay apart (`[redacted]`, `[redacted] 2`).
  key: (key: string) => redactSecretShapes(key, marker),
  // A boolean (`passwordSet: true`) or an absent value tells nothing secret and is kept.
  property: (key: string, value: unknown) =>
    isSecretKey(key) && value !== null && value !== undefined && typeof value !== 'boolean' ? {value: marker} : undefined,
})

/** A deep copy of `value` with every secret-looking key's value, and every secret-shaped string or key, replaced by `[redacted]`. */
export function redactValues<T>(value: T): T {
  return mapJson(value, redactor(REDACTED))
}

/**
 * The old and new values of a change, redacted together. Redaction alone would
 * hide that a secret changed (`[redacted]` on both sides); a field whose redacted
 * sides are alike although its values differ carries `[redacted: changed]` on the
 * new side instead, so the change still shows, and nothing of the secret does.
 */
export function redactChange(
  oldValues: Record<string, unknown> | null,
  newValues: Record<string, unknown> | null,
): {oldValues: Record<string, unknown> | null; newValues: Record<string, unknown> | null} {
  const before = oldValues === null ? null : redactValues(oldValues)
  const after = newValues === null ? null : redactValues(newValues)
  if (before === null || after === null || oldValues === null || newValues === null) return {oldValues: before, newValues: after}
  for (const field of Object.keys(after)) {
    if (!(field in before) || !jsonEqual(before[field], after[field]) || jsonEqual(oldValues[field], newValues[field])) continue
    after[field] = mapJson({[field]: newValues[field]}, redactor(REDACTED_CHANGED))[field]
  }
  return {oldValues: before, newValues: after}
}

/** Whether a value is nothing but a redaction marker. */
export const isRedactionMarker = (value: unknown): boolean => value === REDACTED || value === REDACTED_CHANGED

const seen = new Set<string>()

/**
 * Forgets every remembered secret: for a process that runs several commands one
 * after another (the tests' in-process runner), so each starts as a new process does.
 */
export function forgetSecrets(): void {
  seen.clear()
}

/** Remember a secret this process has read, so `scrubText` can remove it from any output. */
export function rememberSecret(secret: string | null | undefined): void {
  if (secret && secret.length >= 3) seen.add(secret)
}

/**
 * Text with every secret this process has handled, every URL password and every
 * value shaped like a secret replaced by `[redacted]`: for lines whose contents
 * come from elsewhere (a driver's error, an error's stack, a debug line).
 */
export function scrubText(text: string): string {
  let out = text
  for (const secret of seen) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }
  return redactSecretShapes(out.replace(/(\w+:\/\/[^:/\s@]+:)([^@\s]+)@/g, `$1${REDACTED}@`))
}

/** The command line as typed, with the values of secret-looking flags, URL passwords and web URLs' queries removed. */
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
    // A web URL's query often carries a token (a webhook's `?token=`): it is not kept either.
    out.push(scrubText(arg).replace(/(https?:\/\/[^\s?#]*)\?[^\s#]*/gi, `$1?${REDACTED}`))
  }
  return out
}
