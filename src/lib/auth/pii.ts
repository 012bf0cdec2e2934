import {mapJson} from '../json/walk.js'

/** A character of a local part (RFC 5322 atext, and any letter, mark or digit of any script, RFC 6531). */
const LOCAL = String.raw`[\p{L}\p{M}\p{N}!#$%&'*+/=?^_\x60{|}~.-]`
/** A domain label, in any script, or an IDN's ASCII form (`xn--…`). */
const LABEL = String.raw`[\p{L}\p{M}\p{N}-]+`
/** A label separator: the full stop, and the ideographic and full-width ones IDNA reads as one. */
const DOT = String.raw`[.\u3002\uFF0E\uFF61]`
/** A top-level domain: letters of any script, or an IDN's ASCII form (`xn--p1ai`). */
const TLD = String.raw`(?:xn--[\p{L}\p{N}-]+|\p{L}[\p{L}\p{M}]+)`

/**
 * An email address anywhere in a string: a local part (quoted or not, any
 * script), then a domain (any script, its ASCII form, or an address literal).
 * The local part starts only where a run of local-part characters starts, so
 * a long text without an address is read once, not once per character.
 */
const EMAIL = new RegExp(String.raw`(?<!${LOCAL})("(?:[^"\\\r\n]|\\.)+"|${LOCAL}+)@((?:${LABEL}${DOT})+${TLD}|\[[^\]\s]+\])`, 'giu')

/** `john@example.com` → `j***@example.com`: the first character, the domain. */
export function maskEmail(text: string): string {
  return text.replace(EMAIL, (_match, local: string, domain: string) => `${String.fromCodePoint(local.codePointAt(0) as number)}***@${domain}`)
}

/** Every email in every string and every key of a value (objects and arrays walked, at any depth). */
export function maskEmails<T>(value: T): T {
  return mapJson(value, {string: maskEmail, key: maskEmail})
}

/** Whether a caller sees the emails of tenants' users as they are. */
export const seesPii = (permissions: readonly string[] | undefined): boolean => permissions?.includes('pii.view') ?? false
