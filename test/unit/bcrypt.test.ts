import bcrypt from 'bcryptjs'
import {describe, expect, it} from 'vitest'

import {costOf, DEFAULT_COST, fleetCost, MAX_COST, usableCost, verifyPassword} from '../../src/lib/password/bcrypt.js'

// A real hash at cost 4, and the same salt and digest claiming other costs (as a damaged row would).
const real = bcrypt.hashSync('the-password-1', 4).replace(/^\$2b\$/, '$2y$')
const claiming = (cost: number) => real.replace(/^\$2y\$04\$/, `$2y$${String(cost).padStart(2, '0')}$`)

describe('bcrypt costs raiops will compute or check', () => {
  it('reads the cost of any bcrypt prefix, and none of other values', () => {
    expect(costOf(real)).toBe(4)
    expect(costOf(claiming(31))).toBe(31)
    expect(costOf(real.replace('$2y$', '$2a$'))).toBe(4)
    expect(costOf('!not-a-hash')).toBeNull()
    expect(costOf(claiming(32))).toBeNull()
  })

  it(`takes costs up to ${MAX_COST} as usable; a hash claiming more is neither the fleet's cost nor checked`, async () => {
    expect(usableCost(claiming(MAX_COST))).toBe(MAX_COST)
    expect(usableCost(claiming(MAX_COST + 1))).toBeNull()
    expect(usableCost(claiming(31))).toBeNull()
    // One damaged hash at 31 among two at 10: the fleet's cost is 10, not 31; only damaged ones: the default.
    expect(fleetCost([claiming(31), claiming(10), claiming(10), null])).toBe(10)
    expect(fleetCost([claiming(31), claiming(31)])).toBe(DEFAULT_COST)
    // The right password against a hash that claims cost 31 is not checked (days of work): false, at once.
    expect(await verifyPassword('the-password-1', real)).toBe(true)
    expect(await verifyPassword('the-password-1', claiming(31))).toBe(false)
  })
})
