/** An email address anywhere in a string. */
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g

/** `john@example.com` → `j***@example.com`: the first character, the domain. */
export function maskEmail(text: string): string {
  return text.replace(EMAIL, (_match, first: string, domain: string) => `${first}***@${domain}`)
}

/** Every email in every string of a value (objects and arrays walked, keys kept). */
export function maskEmails<T>(value: T): T {
  if (typeof value === 'string') return maskEmail(value) as T
  if (Array.isArray(value)) return value.map((item) => maskEmails(item)) as T
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, inner]) => [key, maskEmails(inner)])) as T
  }
  return value
}

/** Whether a caller sees the emails of tenants' users as they are. */
export const seesPii = (permissions: readonly string[] | undefined): boolean => permissions?.includes('pii.view') ?? false
