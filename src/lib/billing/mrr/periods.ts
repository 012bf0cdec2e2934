import {UserError} from '../../errors/index.js'

export type PeriodUnit = 'month' | 'week'

/** A reporting period, `[start, end)` in epoch milliseconds, named `2026-01` (month) or `2026-W05` (ISO week). */
export interface Period {
  label: string
  start: number
  end: number
}

/** The most periods one report holds: 100 years of months, 20 of weeks. */
export const MAX_PERIODS = 1200

const DAY_MS = 86_400_000

/** The first instant of the calendar month (UTC) after the one holding `ms`. */
function nextMonth(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** Monday 00:00 UTC of the ISO week after the one holding `ms`. */
function nextWeek(ms: number): number {
  const d = new Date(ms)
  const monday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - ((d.getUTCDay() + 6) % 7) * DAY_MS
  return monday + 7 * DAY_MS
}

/** The ISO 8601 week of an instant: `2026-W01` is the week holding the year's first Thursday. */
export function isoWeekLabel(ms: number): string {
  const d = new Date(ms)
  const dayNumber = (d.getUTCDay() + 6) % 7
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - dayNumber * DAY_MS + 3 * DAY_MS
  const year = new Date(thursday).getUTCFullYear()
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1
  return `${year}-W${String(week).padStart(2, '0')}`
}

/**
 * The calendar months or ISO weeks (UTC) that cover `[from, to)`; the first
 * and last are cut at `from` and `to` when these fall inside a period.
 */
export function splitPeriods(from: number, to: number, by: PeriodUnit): Period[] {
  if (by !== 'month' && by !== 'week') throw new UserError(`a report goes by month or week, not "${String(by)}"`)
  if (!(to > from)) throw new UserError('the end of a report must be after its start', {hint: 'give --to a later date than --from (--to is exclusive)'})
  const periods: Period[] = []
  for (let start = from; start < to;) {
    const end = Math.min(by === 'month' ? nextMonth(start) : nextWeek(start), to)
    const label = by === 'month' ? new Date(start).toISOString().slice(0, 7) : isoWeekLabel(start)
    periods.push({label, start, end})
    if (periods.length > MAX_PERIODS) {
      throw new UserError(`a report holds at most ${MAX_PERIODS} periods`, {hint: 'shorten the range or report by month'})
    }
    start = end
  }
  return periods
}
