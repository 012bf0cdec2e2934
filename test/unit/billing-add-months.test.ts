import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {addMonths} from '../../src/lib/billing/ledger.js'

/** The same calendar arithmetic through Date's own UTC getters: what addMonths must agree with. */
function byDate(at: number, months: number): number {
  const date = new Date(at)
  const timeOfDay = at - Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate())
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1))
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate()
  return Date.UTC(target.getUTCFullYear(), target.getUTCMonth(), Math.min(date.getUTCDate(), last)) + timeOfDay
}

describe('addMonths', () => {
  it('adds calendar months in UTC, the day clamped to the month’s last', () => {
    const d = (iso: string) => Date.parse(iso)
    expect(addMonths(d('2026-01-31T00:00:00Z'), 1)).toBe(d('2026-02-28T00:00:00Z'))
    expect(addMonths(d('2028-01-31T12:30:00Z'), 1)).toBe(d('2028-02-29T12:30:00Z'))
    expect(addMonths(d('2026-03-31T23:59:59.999Z'), -1)).toBe(d('2026-02-28T23:59:59.999Z'))
    expect(addMonths(d('2026-11-15T00:00:00Z'), 14)).toBe(d('2028-01-15T00:00:00Z'))
    expect(addMonths(d('2100-01-29T00:00:00Z'), 1)).toBe(d('2100-02-28T00:00:00Z'))
    expect(addMonths(d('2000-01-29T00:00:00Z'), 1)).toBe(d('2000-02-29T00:00:00Z'))
    expect(addMonths(d('1970-01-01T00:00:00Z'), 0)).toBe(0)
  })

  it('agrees with Date’s calendar for any instant from 1970 to 9999 and any term', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: Date.UTC(9899, 0, 1)}), fc.integer({min: -1200, max: 1200}), (at, months) => {
        expect(addMonths(at, months)).toBe(byDate(at, months))
      }),
      {numRuns: 20_000},
    )
  })
})
