import {UserError} from '../errors/index.js'
import {isDuration, parseDuration} from './duration.js'

const EARLIEST = Date.UTC(1970, 0, 1)
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/**
 * A point in time given as an ISO date or date-time (`2026-01-02`,
 * `2026-01-02T03:04:05Z`) or as a duration back from now (`24h`, `7d`).
 */
export function parseTimeFlag(text: string, flag: string, now = new Date()): Date {
  const input = text.trim()
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(input)) {
    const ms = Date.parse(input.length === 10 ? `${input}T00:00:00Z` : input)
    if (!Number.isNaN(ms)) {
      // A time every control database stores: MySQL's DATETIME ends with the year 9999; raiops has nothing before 1970.
      if (ms < EARLIEST || ms > LATEST) throw new UserError(`${flag} must be a time from 1970 to 9999, not "${text}"`)
      return new Date(ms)
    }
  }
  // A duration's own errors (too long) are said as they are; anything else is neither a time nor a duration.
  if (isDuration(input)) return new Date(now.getTime() - parseDuration(input, flag))
  throw new UserError(`${flag} must be an ISO date or time (2026-01-02, 2026-01-02T03:04:05Z) or a duration back from now (24h, 7d), not "${text}"`)
}
