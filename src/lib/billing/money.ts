import isoCurrencies from 'currency-codes'

import {UserError} from '../errors/index.js'

/**
 * Money as raiops keeps it: an integer number of the currency's minor units
 * (cents of USD, yen of JPY, fils of KWD), never a float. A currency's exponent
 * (how many minor-unit digits a major unit has) is the one of the ISO 4217
 * table (the `currency-codes` package carries it): USD 2, JPY 0, KWD 3, HUF 2.
 * Node's ICU formats some currencies with fewer digits than ISO gives them
 * (HUF, IDR, COP, PKR: 0), a display habit, not their minor unit. The codes
 * accepted are those ISO lists that Node's ICU also knows as a current currency,
 * without the IMF's units (XDR, XSU, XUA): no fund codes (CLF, USN), no metals
 * (XAU), no test codes (XTS, XXX). The test of this module pins every exponent
 * that is not 2, so that an update of the table that changed one fails the tests
 * rather than silently rescaling stored amounts.
 */

/** The largest amount any money function accepts, in minor units. */
export const MAX_MINOR = Number.MAX_SAFE_INTEGER

/**
 * The largest amount raiops stores or bills, in minor units: a plan's price or
 * unit price, a payment, a refund, a discount, the price of a term for its
 * quantity (so an MRR, never more than a term's price). 10^12 (10,000,000,000.00
 * USD): exact as a JavaScript number, and so is the sum of 9,000 of them (a
 * report's totals); well within the 64-bit columns that hold them, and
 * over it: refused, exit 2.
 */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000

/** ISO 4217 units of the IMF that ICU lists among currencies: not something a plan is priced in. */
const NOT_BILLABLE = new Set(['XDR', 'XSU', 'XUA'])

let known: ReadonlyMap<string, number> | undefined

/** Every accepted code with its exponent. */
function table(): ReadonlyMap<string, number> {
  if (!known) {
    const current = new Set(Intl.supportedValuesOf('currency'))
    known = new Map(
      isoCurrencies
        .codes()
        .filter((code) => current.has(code) && !NOT_BILLABLE.has(code))
        .map((code) => [code, isoCurrencies.code(code)?.digits ?? 2] as const)
        .sort(([a], [b]) => (a < b ? -1 : 1)),
    )
  }
  return known
}

/** Every currency code raiops accepts, upper case, sorted. */
export function currencyCodes(): readonly string[] {
  return [...table().keys()]
}

/**
 * The ISO 4217 code as raiops stores it: trimmed and upper-cased (`usd` is
 * USD). A code that is not a current currency (see the module's comment) is refused.
 */
export function currencyCode(text: string): string {
  const code = text.trim().toUpperCase()
  if (!/^[A-Z]{3}$/.test(code) || !table().has(code))
    throw new UserError(`unknown currency ${JSON.stringify(text)}`, {hint: 'give an ISO 4217 code: USD, EUR, GBP, JPY, KWD…'})
  return code
}

/** How many minor-unit digits the currency has (ISO 4217): USD 2, JPY 0, KWD 3. */
export function currencyExponent(currency: string): number {
  return table().get(currencyCode(currency)) as number
}

/** "2 decimals", "no decimals": how a currency's exponent is said in messages. */
function decimalsText(exponent: number): string {
  return exponent === 0 ? 'no decimals' : `at most ${exponent} decimal${exponent === 1 ? '' : 's'}`
}

export interface ParseAmountOptions {
  /** What the amount is, in messages ("--price"). */
  what?: string
  /** The largest amount accepted, in minor units (default MAX_MINOR). */
  maxMinor?: number
}

/**
 * A decimal amount as text (`49.00`, `49`, `12.500`) in integer minor units of
 * the currency (4900 USD cents, 12500 KWD fils), exactly: the digits are read
 * as a string, never through a float. Refused (UserError): a sign, an exponent
 * (`1e3`), thousands separators, anything but digits and one decimal point,
 * more decimals than the currency has, more than `maxMinor`.
 */
export function parseAmount(text: string, currency: string, options: ParseAmountOptions = {}): number {
  const what = options.what ?? 'the amount'
  const code = currencyCode(currency)
  const exponent = currencyExponent(code)
  const input = text.trim()
  const example = exponent === 0 ? '4900' : `49.${'0'.repeat(exponent)}`
  const match = /^(\d+)(?:\.(\d+))?$/.exec(input)
  if (!match) {
    const why = input.startsWith('-') ? 'cannot be negative' : 'must be a plain decimal number'
    throw new UserError(`${what} ${why}, not ${JSON.stringify(text)}`, {
      hint: `write it in ${code} with digits and a decimal point only, e.g. ${example} (no sign, no separators, no exponent)`,
    })
  }
  const [, whole, fraction = ''] = match
  if (fraction.length > exponent)
    throw new UserError(`${what} ${JSON.stringify(text)} has more decimals than ${code} allows (${decimalsText(exponent)})`, {
      hint: exponent === 0 ? `${code} has no minor unit: give a whole number, e.g. ${example}` : `${code}'s minor unit has ${exponent} digits: e.g. ${example}`,
    })
  const digits = `${whole}${fraction.padEnd(exponent, '0')}`.replace(/^0+(?=\d)/, '')
  const max = options.maxMinor ?? MAX_MINOR
  // Compared as text first: a number this long would not be exact.
  if (digits.length > String(MAX_MINOR).length || Number(digits) > max)
    throw new UserError(`${what} ${JSON.stringify(text)} is too large`, {hint: `the largest is ${formatMoney(max, code)}`})
  return Number(digits)
}

function assertMinor(minor: number): void {
  if (!Number.isSafeInteger(minor)) throw new Error(`an amount of money must be a whole number of minor units, not ${minor}`)
}

/** An amount in minor units as a decimal in the currency's major unit: 4900 USD → `49.00`, 4900 JPY → `4900`, 12500 KWD → `12.500`. */
export function formatAmount(minor: number, currency: string): string {
  assertMinor(minor)
  const exponent = currencyExponent(currency)
  const sign = minor < 0 ? '-' : ''
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0')
  if (exponent === 0) return `${sign}${digits}`
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
}

/** An amount with its currency: `49.00 USD`. */
export function formatMoney(minor: number, currency: string): string {
  return `${formatAmount(minor, currency)} ${currencyCode(currency)}`
}

/**
 * `minor / divisor` as a whole number of minor units, rounded half away from
 * zero (166,666.5 → 166,667; −0.5 → −1), in integers only.
 */
export function divideRounded(minor: number, divisor: number): number {
  assertMinor(minor)
  if (!Number.isSafeInteger(divisor) || divisor <= 0) throw new Error(`cannot divide money by ${divisor}`)
  // In BigInt: near MAX_MINOR a float quotient is not exact.
  const magnitude = BigInt(Math.abs(minor))
  const by = BigInt(divisor)
  const quotient = magnitude / by
  const rounded = Number(2n * (magnitude % by) >= by ? quotient + 1n : quotient)
  return minor < 0 ? -rounded : rounded
}
