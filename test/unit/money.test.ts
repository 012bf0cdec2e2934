import {describe, expect, it} from 'vitest'

import {currencyCode, currencyCodes, currencyExponent, divideRounded, formatAmount, formatMoney, MAX_MINOR, parseAmount} from '../../src/lib/billing/money.js'
import {UserError} from '../../src/lib/errors/index.js'

/**
 * Every currency whose exponent is not 2, as the ISO 4217 table gives it. Stored
 * amounts are minor units: if an update of the table changed one of these, every amount
 * stored in that currency would be read 10^n times off, so the change must be seen.
 */
const NOT_TWO: Record<string, number> = {
  BHD: 3,
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  IQD: 3,
  ISK: 0,
  JOD: 3,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  PYG: 0,
  RWF: 0,
  TND: 3,
  UGX: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
}

describe('currencies', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['KWD', 3],
    ['BHD', 3],
    // ISO 4217 gives these minor units that ICU does not display.
    ['HUF', 2],
    ['IDR', 2],
    ['IQD', 3],
  ])('%s has exponent %d', (code, exponent) => {
    expect(currencyExponent(code)).toBe(exponent)
  })

  it('every exponent is the one pinned here (2 unless listed)', () => {
    const codes = currencyCodes()
    expect(codes.length).toBeGreaterThan(150)
    const differing = Object.fromEntries(codes.map((code) => [code, currencyExponent(code)]).filter(([, digits]) => digits !== 2))
    expect(differing).toEqual(NOT_TWO)
  })

  it('a lower-case code is the same currency; an unknown or malformed one is refused', () => {
    expect(currencyCode(' usd ')).toBe('USD')
    for (const bad of ['USX', 'US', 'USDD', '', '€', 'XXX', 'CLF']) expect(() => currencyCode(bad), bad).toThrow(`unknown currency ${JSON.stringify(bad)}`)
  })
})

describe('parseAmount', () => {
  it.each([
    ['49.00', 'USD', 4900],
    ['49', 'USD', 4900],
    ['49.5', 'USD', 4950],
    ['0.01', 'USD', 1],
    ['0', 'USD', 0],
    ['007.10', 'EUR', 710],
    ['4900', 'JPY', 4900],
    ['12.500', 'KWD', 12500],
    ['12.5', 'KWD', 12500],
    ['1500.50', 'HUF', 150050],
    ['0.001', 'bhd', 1],
    [' 49.00 ', 'USD', 4900],
    ['90071992547409.91', 'USD', MAX_MINOR],
  ])('%s %s is %d minor units', (text, currency, minor) => {
    expect(parseAmount(text, currency)).toBe(minor)
  })

  it.each([
    ['49.001', 'USD', /has more decimals than USD allows \(at most 2 decimals\)/],
    ['1.5', 'JPY', /has more decimals than JPY allows \(no decimals\)/],
    ['12.5000', 'KWD', /has more decimals than KWD allows \(at most 3 decimals\)/],
    ['-1', 'USD', /cannot be negative/],
    ['-0.50', 'USD', /cannot be negative/],
    ['', 'USD', /must be a plain decimal number/],
    ['1e3', 'USD', /must be a plain decimal number/],
    ['NaN', 'USD', /must be a plain decimal number/],
    ['Infinity', 'USD', /must be a plain decimal number/],
    ['1,000.00', 'USD', /must be a plain decimal number/],
    ['1 000', 'USD', /must be a plain decimal number/],
    ['49,00', 'EUR', /must be a plain decimal number/],
    ['+5', 'USD', /must be a plain decimal number/],
    ['.5', 'USD', /must be a plain decimal number/],
    ['5.', 'USD', /must be a plain decimal number/],
    ['0x10', 'USD', /must be a plain decimal number/],
    ['$5', 'USD', /must be a plain decimal number/],
    ['90071992547409.92', 'USD', /is too large/],
    ['99999999999999999999999', 'JPY', /is too large/],
    ['5', 'USX', /unknown currency "USX"/],
  ])('%s %s is refused', (text, currency, message) => {
    let thrown: unknown
    try {
      parseAmount(text, currency)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(UserError)
    expect((thrown as UserError).message).toMatch(message)
    expect((thrown as UserError).message).not.toContain('\n')
  })

  it('names what the amount is and keeps under a given maximum', () => {
    expect(() => parseAmount('21474836.48', 'USD', {what: '--price', maxMinor: 2_147_483_647})).toThrow('--price "21474836.48" is too large')
    expect(parseAmount('21474836.47', 'USD', {maxMinor: 2_147_483_647})).toBe(2_147_483_647)
    expect(() => parseAmount('1.234', 'USD', {what: '--price'})).toThrow(/^--price "1\.234" has more decimals/)
  })
})

describe('formatAmount and formatMoney', () => {
  it.each([
    [4900, 'USD', '49.00'],
    [5, 'USD', '0.05'],
    [0, 'USD', '0.00'],
    [-1, 'USD', '-0.01'],
    [4900, 'JPY', '4900'],
    [12500, 'KWD', '12.500'],
    [7, 'KWD', '0.007'],
    [MAX_MINOR, 'USD', '90071992547409.91'],
  ])('%d %s is %s', (minor, currency, text) => {
    expect(formatAmount(minor, currency)).toBe(text)
    // And back, for amounts that are not negative.
    if (minor >= 0) expect(parseAmount(text, currency)).toBe(minor)
  })

  it('formatMoney adds the code', () => {
    expect(formatMoney(4900, 'usd')).toBe('49.00 USD')
    expect(formatMoney(4900, 'JPY')).toBe('4900 JPY')
  })

  it('refuses a float', () => {
    expect(() => formatAmount(49.5, 'USD')).toThrow(/whole number of minor units/)
  })
})

describe('divideRounded', () => {
  it.each([
    // A yearly plan of 4 seats billed 2,000.00 in total: 166.67 a month.
    [200_000, 12, 16_667],
    [100, 3, 33],
    [200, 3, 67],
    [150, 100, 2],
    [149, 100, 1],
    [-150, 100, -2],
    [-149, 100, -1],
    [0, 12, 0],
    [4900, 1, 4900],
    [MAX_MINOR, 12, 750_599_937_895_083],
  ])('%d / %d is %d, half away from zero', (minor, by, expected) => {
    expect(divideRounded(minor, by)).toBe(expected)
  })
})
