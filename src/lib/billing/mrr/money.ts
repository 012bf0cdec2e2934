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
