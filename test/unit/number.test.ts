import {describe, expect, it} from 'vitest'

import {groupThousands} from '../../src/lib/text/number.js'

describe('groupThousands', () => {
  it.each([0, 7, 999, 1000, 12_345, 100_000, 1_234_567, -1234, 1234.5, 1_000_000_000])('writes %d as toLocaleString("en-US") does', (n) => {
    expect(groupThousands(n)).toBe(n.toLocaleString('en-US'))
  })
})
