import {z} from 'zod'

import type {Keyring} from '../crypto/keyring.js'
import {decryptSecret, encryptSecret, type SecretLocation} from '../crypto/secret-box.js'
import {UserError} from '../errors/index.js'
import {JOB_OWNER_HASH, jsonFieldLocation} from '../keys/secrets.js'

/**
 * What a tenant-creation job is asked to do: its input, stored with the job.
 * The owner's password is never in it: what is stored is its bcrypt hash,
 * computed once before the job is created and encrypted with the keyring,
 * bound to this job's request id (./input.ts `ownerHashLocation`), so that a
 * resume in another process (job:work, job:retry) writes the same hash without
 * asking for the password again, and neither the job's input as shown nor any
 * step output nor any audit entry carries a usable secret.
 */

export const TENANT_CREATE_KIND = 'tenant.create'

/** Most locations one creation makes: they are written in one statement. */
export const MAX_LOCATIONS = 500

const EMAIL = z.string().trim().toLowerCase().max(255).email()
const NAME = z.string().trim().min(1).max(255)

export const planSchema = z.object({
  code: z.string().trim().min(1).max(64),
  planVersion: z.number().int().min(1).optional(),
  quantity: z.number().int().min(0).max(1_000_000).optional(),
  quantityFrom: z.enum(['locations', 'users']).optional(),
  discount: z.string().max(32).optional(),
  discountUntil: z.string().datetime().optional(),
  trialUntil: z.string().datetime().optional(),
  forceCurrency: z.boolean().optional(),
})

export const tenantCreateInputSchema = z.object({
  /** 32 hex digits chosen when the job is prepared: what the owner's hash is bound to. */
  requestId: z.string().regex(/^[0-9a-f]{32}$/),
  name: NAME,
  // The owner before the contact: the contact defaults to the owner, so a bad owner email is named as such.
  owner: z.object({
    name: NAME,
    email: EMAIL,
    /** The owner's `$2y$` hash, encrypted (see ownerHashLocation); null: no password, the account is unusable until reset. */
    passwordHashEnc: z.string().min(1).nullable(),
  }),
  contactName: NAME,
  contactEmail: EMAIL,
  locations: z
    .array(NAME)
    .min(1)
    .max(MAX_LOCATIONS)
    .refine((names) => new Set(names.map((n) => n.toLowerCase())).size === names.length, {message: 'location names must differ'}),
  plan: planSchema.nullable(),
  /** The RDS asked for (name or id); null: placement chooses. */
  rds: z.string().min(1).nullable(),
  /** RAIOPS_PLACEMENT_CAPACITY when the job was created. */
  capacity: z.number().int().min(1),
  /** RAIOPS_GHOST_DOMAIN when the job was created. */
  ghostDomain: z.string().min(1),
  /** RAIOPS_BILLING_GRACE_DAYS when the job was created. */
  graceDays: z.number().int().min(0),
})

export type TenantCreateInput = z.infer<typeof tenantCreateInputSchema>
export type TenantCreatePlan = z.infer<typeof planSchema>

/** The flag a field of the input comes from, for the error that names it. */
const FLAG_OF: Record<string, string> = {
  name: '--name',
  contactName: '--contact-name',
  contactEmail: '--contact-email',
  'owner.name': '--owner-name',
  'owner.email': '--owner-email',
  locations: '--locations',
}

/** Checks a stored or new input; bad input is a UserError naming the field (by its flag). */
export function parseTenantCreateInput(raw: unknown): TenantCreateInput {
  const parsed = tenantCreateInputSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const path = issue.path.join('.')
  throw new UserError(`tenant creation: ${FLAG_OF[path] ?? (path || 'input')}: ${issue.message}`, {hint: 'see `raiops tenant:create --help`'})
}

/** Where the owner's encrypted hash is bound: a ciphertext copied into another job's input does not decrypt. */
export const ownerHashLocation = (requestId: string): SecretLocation => jsonFieldLocation(JOB_OWNER_HASH, requestId)

export function sealOwnerHash(keyring: Keyring, requestId: string, hash: string): string {
  return encryptSecret(keyring, hash, ownerHashLocation(requestId))
}

export function openOwnerHash(keyring: Keyring, input: TenantCreateInput): string | null {
  return input.owner.passwordHashEnc === null ? null : decryptSecret(keyring, input.owner.passwordHashEnc, ownerHashLocation(input.requestId))
}

/** `--locations 3` (Location 1…3) or `--locations "Main St,Airport"`. */
export function locationNames(spec: string | undefined): string[] {
  const text = (spec ?? '1').trim()
  if (/^\d+$/.test(text)) {
    const n = Number(text)
    if (n < 1 || n > MAX_LOCATIONS)
      throw new UserError(`--locations ${text}: give 1 to ${MAX_LOCATIONS} locations`, {hint: 'as --locations 3, or a comma list of names'})
    return Array.from({length: n}, (_, i) => `Location ${i + 1}`)
  }
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (names.length === 0) throw new UserError('--locations names no location', {hint: 'as --locations 3, or --locations "Main St,Airport"'})
  if (names.length > MAX_LOCATIONS) throw new UserError(`--locations names ${names.length} locations, over ${MAX_LOCATIONS}`)
  const seen = new Set<string>()
  for (const name of names) {
    if (name.length > 255) throw new UserError(`--locations: a name is ${name.length} characters, over 255`)
    if (seen.has(name.toLowerCase())) throw new UserError(`--locations names "${name}" twice`, {hint: 'each location once'})
    seen.add(name.toLowerCase())
  }
  return names
}
