import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {convert, report, type SubscriptionState, type TenantTimeline} from '../../src/lib/billing/mrr/index.js'
import {iso, toMs} from '../../src/lib/billing/mrr/instant.js'
import {divRound, formatMinor, ratio} from '../../src/lib/billing/mrr/money.js'
import {RaiopsError} from '../../src/lib/errors/index.js'

const active = (at: string, termAmountMinor: number, eventId: string): SubscriptionState => ({
  at,
  status: 'active',
  planCode: 'pro',
  termAmountMinor,
  intervalMonths: 1,
  eventId,
})

const timelines: TenantTimeline[] = [
  {tenantId: 1, tenantName: 'Trattoria Roma', currency: 'EUR', states: [active('2025-12-01', 10_000, 'e1'), active('2026-02-10', 12_000, 'e2')]},
  {tenantId: 2, tenantName: 'Diner 66', currency: 'USD', states: [active('2025-12-01', 5_000, 'u1')]},
  {tenantId: 3, tenantName: 'Sushi Ken', currency: 'JPY', states: [active('2026-01-20', 4_900, 'j1')]},
]

const rates = {
  EUR: [
    {from: '2026-01-01', rate: '1.08'},
    {from: '2026-02-01', rate: '1.10'},
  ],
  JPY: '0.0065',
}

describe('converting a report to one currency', () => {
  const r = report(timelines, {from: '2026-01-01', to: '2026-04-01', by: 'month'})
  const usd = convert(r, {to: 'USD', rates})

  it('keeps each currency on its own before conversion', () => {
    expect(r.currencies.map((c) => [c.currency, c.periods[0].mrrEndMinor])).toEqual([
      ['EUR', 10_000],
      ['JPY', 4_900],
      ['USD', 5_000],
    ])
  })

  it('converts each period at the rates in force, and shows what the rates changed as FX impact, not as a movement', () => {
    const [jan, feb, mar] = usd.periods
    // January: EUR 100.00 at 1.08 at the start, at 1.10 at the end (1 February): +2.00 of FX impact.
    // JPY 4,900 new at 0.0065 = 31.85 USD; USD 50.00 as it is.
    expect(jan).toMatchObject({
      mrrStartMinor: 10_800 + 5_000,
      newMinor: 3_185,
      mrrEndMinor: 11_000 + 3_185 + 5_000,
      netChangeMinor: 3_185,
      fxImpactMinor: 200,
    })
    expect(jan.lines.find((l) => l.currency === 'EUR')).toMatchObject({rateStart: '1.08', rateEnd: '1.10', fxImpactMinor: 200})
    // February: the EUR expansion of 20.00 at 1.10 = 22.00; no rate change, no FX impact.
    expect(feb).toMatchObject({mrrStartMinor: jan.mrrEndMinor, expansionMinor: 2_200, fxImpactMinor: 0, mrrEndMinor: jan.mrrEndMinor + 2_200})
    expect(mar.fxImpactMinor).toBe(0)
    for (const p of usd.periods) expect(p.mrrEndMinor).toBe(p.mrrStartMinor + p.netChangeMinor + p.fxImpactMinor)
    expect(jan.arrEndMinor).toBe(jan.mrrEndMinor * 12)
    expect(usd.method).toContain('FX impact line, never a movement')
  })

  it('refuses a currency without a rate, a rate before its first date, and a rate that is not a decimal', () => {
    const refused = (run: () => unknown, words: string) => {
      let error: unknown
      try {
        run()
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(RaiopsError)
      expect((error as RaiopsError).exitCode).toBe(2)
      expect((error as Error).message).toContain(words)
    }
    refused(() => convert(r, {to: 'USD', rates: {EUR: '1.08'}}), 'no exchange rate for JPY to USD')
    refused(() => convert(r, {to: 'USD', rates: {...rates, EUR: [{from: '2026-02-01', rate: '1.1'}]}}), 'no EUR rate in force at 2026-01-01')
    refused(() => convert(r, {to: 'USD', rates: {...rates, JPY: '6.5e-3'}}), 'the JPY rate must be a decimal number')
    refused(() => convert(r, {to: 'USD', rates: {...rates, JPY: '0'}}), 'the JPY rate must be above 0')
    refused(() => convert(r, {to: 'dollars', rates}), 'ISO 4217')
  })
})

describe('money and time arithmetic', () => {
  it('rounds half away from zero, exactly', () => {
    expect([divRound(5n, 2n), divRound(-5n, 2n), divRound(4n, 3n), divRound(200_000n, 12n), divRound(10n ** 20n + 1n, 2n)]).toEqual([
      3n,
      -3n,
      1n,
      16_667n,
      5n * 10n ** 19n + 1n,
    ])
    expect([formatMinor(200_000, 2), formatMinor(4_900, 0), formatMinor(12_500, 3), formatMinor(-5, 2), formatMinor(0, 2)]).toEqual([
      '2,000.00',
      '4,900',
      '12.500',
      '-0.05',
      '0.00',
    ])
    expect([ratio(1, 3).percent, ratio(2, 3).percent, ratio(-1, 8).percent, ratio(0, 0).percent]).toEqual(['33.33', '66.67', '-12.50', null])
  })

  it('reads and writes instants as toISOString and Date.parse do, and refuses days that do not exist', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: 253_402_300_799_999}), (ms) => {
        const text = new Date(ms).toISOString()
        expect(iso(ms)).toBe(text)
        expect(toMs(text, 'x')).toBe(ms)
        expect(toMs(text.slice(0, 10), 'x')).toBe(Date.parse(`${text.slice(0, 10)}T00:00:00Z`))
      }),
      {numRuns: 3000},
    )
    expect(toMs('2026-01-31T12:00:00+02:00', 'x')).toBe(Date.UTC(2026, 0, 31, 10))
    expect(toMs('2026-01-31 12:00', 'x')).toBe(Date.UTC(2026, 0, 31, 12))
    for (const bad of ['2026-02-30', '2026-02-30T00:00:00.000Z', '2026-13-01', '31/01/2026', '', '2026-01-01T25:00:00.000Z']) {
      expect(() => toMs(bad, 'the date')).toThrow(/the date must be an ISO date/)
    }
    expect(() => toMs(1.5, 'the date')).toThrow(/epoch milliseconds/)
    expect(() => toMs(9e15, 'the date')).toThrow(/from 1970 to 9999/)
    expect(() => toMs('1969-12-31', 'the date')).toThrow(/from 1970 to 9999/)
  })
})
