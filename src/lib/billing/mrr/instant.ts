import {UserError} from '../../errors/index.js'
import type {Instant} from './types.js'

const DAY_MS = 86_400_000
/** The instants raiops stores: from 1970 to the end of 9999 (MySQL's DATETIME ends there). */
const EARLIEST = 0
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** The digits of `text` from `start` to `end` as a number, or NaN when one is not a digit. */
function digitsAt(text: string, start: number, end: number): number {
  let value = 0
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return NaN
    value = value * 10 + d
  }
  return value
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1]
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
}

/**
 * `YYYY-MM-DD` or toISOString's `YYYY-MM-DDTHH:MM:SS.sssZ`, read by hand: a
 * ledger of 60,000 events passes through here, and Date.parse is slow and
 * takes 30 February for 2 March. NaN when the text is neither.
 */
function parseCanonical(text: string): number {
  if (text.length !== 10 && !(text.length === 24 && text[10] === 'T' && text[23] === 'Z')) return NaN
  if (text[4] !== '-' || text[7] !== '-') return NaN
  const year = digitsAt(text, 0, 4)
  const month = digitsAt(text, 5, 7)
  const dayOfMonth = digitsAt(text, 8, 10)
  if (!(month >= 1 && month <= 12 && dayOfMonth >= 1 && dayOfMonth <= daysInMonth(year, month))) return NaN
  const midnight = Date.UTC(year, month - 1, dayOfMonth)
  if (text.length === 10) return midnight
  if (text[13] !== ':' || text[16] !== ':' || text[19] !== '.') return NaN
  const hours = digitsAt(text, 11, 13)
  const minutes = digitsAt(text, 14, 16)
  const seconds = digitsAt(text, 17, 19)
  const millis = digitsAt(text, 20, 23)
  if (!(hours <= 23 && minutes <= 59 && seconds <= 59 && millis >= 0)) return NaN
  return midnight + ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis
}

/** An instant as epoch milliseconds; a date-time without a zone is read as UTC. `what` names it in the error. */
export function toMs(instant: Instant, what: string): number {
  const ms = readInstant(instant)
  if (Number.isNaN(ms)) throw badInstant(instant, what)
  return ms
}

export function badInstant(instant: unknown, what: string): UserError {
  return new UserError(
    `${what} must be an ISO date or date-time in UTC (2026-01-31, 2026-01-31T12:00:00Z) or epoch milliseconds, from 1970 to 9999, not "${String(instant)}"`,
  )
}

/** An instant as epoch milliseconds, or NaN when it is none: for loops that build their error message only when needed. */
export function readInstant(instant: Instant): number {
  const ms = anyInstant(instant)
  return ms >= EARLIEST && ms <= LATEST ? ms : NaN
}

function anyInstant(instant: Instant): number {
  if (typeof instant === 'number') {
    if (Number.isSafeInteger(instant)) return instant
  } else if (typeof instant === 'string') {
    const canonical = parseCanonical(instant)
    if (!Number.isNaN(canonical)) return canonical
    const text = instant.trim()
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(text) && !Number.isNaN(parseCanonical(text.slice(0, 10)))) {
      const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`
      const ms = Date.parse(zoned.replace(' ', 'T'))
      if (!Number.isNaN(ms)) return ms
    } else if (text !== instant) {
      const ms = parseCanonical(text)
      if (!Number.isNaN(ms)) return ms
    }
  }
  return NaN
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n))
const DAYS = new Map<number, string>()

/** `YYYY-MM-DD` of an instant (UTC), remembered per day: reports name the same days again and again. */
export function day(ms: number): string {
  const number = Math.floor(ms / DAY_MS)
  let text = DAYS.get(number)
  if (text === undefined) {
    text = new Date(number * DAY_MS).toISOString().slice(0, 10)
    if (DAYS.size > 100_000) DAYS.clear()
    DAYS.set(number, text)
  }
  return text
}

/** An instant as toISOString writes it (`2026-01-31T00:00:00.000Z`), built from its remembered day. */
export function iso(ms: number): string {
  const within = ms - Math.floor(ms / DAY_MS) * DAY_MS
  if (ms < 0 || ms > 253_402_300_799_999) return new Date(ms).toISOString()
  const millis = within % 1000
  const seconds = Math.floor(within / 1000) % 60
  const minutes = Math.floor(within / 60_000) % 60
  const hours = Math.floor(within / 3_600_000)
  const fraction = millis < 10 ? `00${millis}` : millis < 100 ? `0${millis}` : String(millis)
  return `${day(ms)}T${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.${fraction}Z`
}
