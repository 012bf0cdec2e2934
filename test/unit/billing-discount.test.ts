import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {discountMinor} from '../../src/lib/billing/ledger.js'

describe('discountMinor', () => {
  it.each([
    // [term, basis points, off]: term × bp / 10,000 rounded half away from zero, in integers.
    [10_000, 1000, 1000], // 10 % of 100.00 = 10.00
    [125, 1000, 13], // 12.5 → 13 (a tie rounds up)
    [124, 1000, 12], // 12.4 → 12
    [3, 5000, 2], // 1.5 → 2 (a tie)
    [1, 5000, 1], // 0.5 → 1 (a tie)
    [1, 4999, 0], // 0.4999 → 0
    [4900, 1250, 613], // 12.5 % of 49.00 = 6.125 → 6.13
    [999, 3333, 333], // 332.9667 → 333
    [10_000, 10_000, 10_000], // 100 %
    [0, 5000, 0],
    // Near the largest amount: the product exceeds 2^53, where a float quotient is off by one.
    [999_999_999_999_997, 5000, 499_999_999_999_999], // 499,999,999,999,998.5 → …999 (a tie)
    [555_555_555_555_555, 9999, 555_499_999_999_999], // 555,499,999,999,999.4445 → …999
  ])('%d minor units at %d bp off is %d', (term, percentBp, off) => {
    expect(discountMinor({percentBp}, term)).toBe(off)
  })

  it('an amount off is never more than the term', () => {
    expect(discountMinor({amountMinor: 500}, 400)).toBe(400)
    expect(discountMinor({amountMinor: 500}, 4900)).toBe(500)
    expect(discountMinor(null, 4900)).toBe(0)
  })

  it('agrees with the BigInt arithmetic for every term up to the largest amount and every percentage', () => {
    const exact = (term: number, bp: number) => Number((BigInt(term) * BigInt(bp) + 5_000n) / 10_000n)
    fc.assert(
      fc.property(fc.oneof(fc.integer({min: 0, max: 1_000_000_000}), fc.integer({min: 0, max: 1e15})), fc.integer({min: 0, max: 10_000}), (term, bp) => {
        expect(discountMinor({percentBp: bp}, term)).toBe(Math.min(exact(term, bp), term))
      }),
      {numRuns: 20_000},
    )
  })
})
