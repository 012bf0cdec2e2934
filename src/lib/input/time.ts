import {UserError} from '../errors/index.js'
import {parseDuration} from './duration.js'

/**
 * A point in time given as an ISO date or date-time (`2026-01-02`,
 * `2026-01-02T03:04:05Z`) or as a duration back from now (`24h`, `7d`).
 */
export function parseTimeFlag(text: string, flag: string, now = new Date()): Date {
  const input = text.trim()
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(input)) {
    const ms = Date.parse(input.length === 10 ? `${input}T00:00:00Z` : input)
    if (!Number.isNaN(ms)) return new Date(ms)
  }
  try {
    return new Date(now.getTime() - parseDuration(input, flag))
  } catch {
    throw new UserError(`${flag} must be an ISO date or time (2026-01-02, 2026-01-02T03:04:05Z) or a duration back from now (24h, 7d), not "${text}"`)
  }
}
