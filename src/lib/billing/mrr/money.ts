import {UserError} from '../../errors/index.js'
import {currencyExponent} from '../money.js'

/** How many decimals a currency's minor unit has (JPY 0, USD 2, KWD 3): ISO 4217's, as billing's money module keeps them. */
export function currencyDigits(currency: string): number {
  return currencyExponent(currency)
}

/** `numerator / denominator` rounded to an integer, half away from zero, exactly (BigInt, no float). */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero')
  if (denominator < 0n) return divRound(-numerator, -denominator)
  const negative = numerator < 0n
  const n = negative ? -numerator : numerator
  const q = (2n * n + denominator) / (2n * denominator)
  return negative ? -q : q
}

/**
 * What `percentBp` basis points of `termMinor` are: `|termMinor| × percentBp / 10,000`
 * rounded half up, with the term's sign, in exact doubles below 2^53, else in
 * BigInt. A percentage discount takes this off a term, so the MRR engine and
 * the ledger's billed amounts round it the same way.
 */
export function percentOfMinor(termMinor: number, percentBp: number): number {
  const product = Math.abs(termMinor) * percentBp
  let rounded: number
  if (Number.isSafeInteger(product)) {
    // The quotient is corrected by its remainder, which is exact, so a quotient rounded up or down by the division does not matter.
    let quotient = Math.floor(product / 10_000)
    let remainder = product - quotient * 10_000
    if (remainder < 0) [quotient, remainder] = [quotient - 1, remainder + 10_000]
    else if (remainder >= 10_000) [quotient, remainder] = [quotient + 1, remainder - 10_000]
    rounded = remainder >= 5_000 ? quotient + 1 : quotient
  } else rounded = Number((BigInt(Math.abs(termMinor)) * BigInt(percentBp) + 5_000n) / 10_000n)
  return termMinor < 0 ? -rounded : rounded
}

/** Integer minor units as a decimal with thousands separators: 200000 → "2,000.00", JPY 4900 → "4,900". */
export function formatMinor(minor: number | bigint, digits: number): string {
  const negative = minor < 0
  const digitsText = (negative ? -minor : minor).toString().padStart(digits + 1, '0')
  const whole = digitsText.slice(0, digitsText.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  const fraction = digits > 0 ? `.${digitsText.slice(digitsText.length - digits)}` : ''
  return `${negative ? '-' : ''}${whole}${fraction}`
}

/** Basis points as a percentage: 1000 → "10%", 1050 → "10.5%". */
export function formatBasisPoints(bp: number): string {
  const text = (bp / 100).toFixed(2).replace(/\.?0+$/, '')
  return `${text}%`
}

/** An exact decimal: value = numerator / denominator, the denominator a power of ten. */
export interface ExactDecimal {
  numerator: bigint
  denominator: bigint
}

/** Parses a positive decimal written as text ("1.08", "0.0065", "150") exactly; `what` names it in the error. */
export function parseDecimal(text: string, what: string): ExactDecimal {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim())
  if (match === null)
    throw new UserError(`${what} must be a decimal number such as 1.08, not "${text}"`, {hint: 'write rates as strings with a dot and no exponent'})
  const fraction = match[2] ?? ''
  const numerator = BigInt(match[1] + fraction)
  if (numerator === 0n) throw new UserError(`${what} must be above 0, not "${text}"`)
  return {numerator, denominator: 10n ** BigInt(fraction.length)}
}

/** A ratio as its exact parts and as a percentage rounded to two decimals, half away from zero; null when nothing to divide by. */
export interface Ratio {
  numerator: number
  denominator: number
  /** e.g. "2.50" for 2.5 %; null when the denominator is 0. */
  percent: string | null
}

export function ratio(numerator: number, denominator: number): Ratio {
  if (denominator === 0) return {numerator, denominator, percent: null}
  const hundredths = divRound(BigInt(numerator) * 10_000n, BigInt(denominator))
  const negative = hundredths < 0n
  const text = formatMinor(negative ? -hundredths : hundredths, 2).replace(/,/g, '')
  return {numerator, denominator, percent: `${negative ? '-' : ''}${text}`}
}
