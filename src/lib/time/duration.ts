import {UserError} from '../errors/index.js'

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}

/**
 * The longest duration any flag takes: 100 years. A time that far from now is
 * still a date every control database stores (MySQL's DATETIME ends in 9999).
 */
export const MAX_DURATION_MS = 36_500 * 86_400_000

/** Whether `text` is written as a duration (`90s`, `1h30m`), whatever its length. */
export function isDuration(text: string): boolean {
  return /^(\d+(\.\d+)?\s*(ms|s|m|h|d|w))+$/.test(text.trim().toLowerCase())
}

/**
 * Parses a duration such as `90s`, `15m`, `24h`, `7d`, `1w` or `1h30m` into
 * milliseconds, at most `maxMs`. A unit is required; `flag` names the input in the error.
 */
export function parseDuration(text: string, flag: string, maxMs = MAX_DURATION_MS): number {
  const input = text.trim().toLowerCase()
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/gy
  let total = 0
  let match: RegExpExecArray | null
  let consumed = 0
  while ((match = part.exec(input)) !== null) {
    total += Number(match[1]) * UNIT_MS[match[2]]
    consumed = part.lastIndex
  }
  if (input === '' || consumed !== input.length || !Number.isFinite(total) || total <= 0) {
    throw new UserError(`${flag} must be a duration such as 90s, 15m, 24h or 7d, not "${text}"`)
  }
  if (total > maxMs) throw new UserError(`${flag} must be at most ${describeMs(maxMs)}, not "${text}"`)
  return Math.round(total)
}

/** A positive number of seconds (fractions allowed, e.g. 0.5) up to `max`, as milliseconds. */
export function parseSeconds(text: string, flag: string, max = 3600): number {
  const value = Number(text.trim())
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new UserError(`${flag} must be a number of seconds above 0 and at most ${max}, not "${text}"`)
  }
  return Math.round(value * 1000)
}

/** A bound in the largest whole unit it is a multiple of: `36500d`, `5m`. */
function describeMs(ms: number): string {
  const [unit, size] = Object.entries(UNIT_MS)
    .filter(([, size]) => ms % size === 0)
    .sort((a, b) => b[1] - a[1])[0]
  return `${ms / size}${unit}`
}
