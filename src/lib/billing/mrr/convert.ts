import {UserError} from '../../errors/index.js'
import type {MrrReport, PeriodFigures} from './engine.js'
import {iso, toMs} from './instant.js'
import {currencyDigits, divRound, parseDecimal, ratio, type ExactDecimal} from './money.js'
import type {Instant} from './types.js'

/**
 * The rate of one currency: units of the target currency per unit of it
 * (`EUR: '1.08'` to USD), as text, exact. One rate for the whole report, or
 * dated rates, each in force from its date until the next.
 */
export type RateSpec = string | readonly {from: Instant; rate: string}[]

export interface ConvertOptions {
  /** ISO 4217 code of the currency to convert to. */
  to: string
  rates: Readonly<Record<string, RateSpec>>
  /** Decimals of the target currency; by default from ISO 4217. */
  digits?: number
}

/** One source currency's part of a converted period. */
export interface ConvertedLine {
  currency: string
  rateStart: string
  rateEnd: string
  mrrStartMinor: number
  mrrEndMinor: number
  newMinor: number
  expansionMinor: number
  contractionMinor: number
  churnMinor: number
  reactivationMinor: number
  fxImpactMinor: number
}

/** A period of the converted report: the figures a currency's period has (converted), and what exchange rates did. */
export type ConvertedPeriod = Pick<
  PeriodFigures,
  | 'period'
  | 'start'
  | 'end'
  | 'mrrStartMinor'
  | 'mrrEndMinor'
  | 'arrStartMinor'
  | 'arrEndMinor'
  | 'newMinor'
  | 'expansionMinor'
  | 'contractionMinor'
  | 'churnMinor'
  | 'reactivationMinor'
  | 'netChangeMinor'
  | 'customersStart'
  | 'payingCustomersEnd'
  | 'grossMrrChurnRate'
  | 'netMrrChurnRate'
  | 'arpaMinor'
> & {
  /** What exchange rates (and rounding) changed: mrrEnd − mrrStart − netChange. Never a movement. */
  fxImpactMinor: number
  lines: ConvertedLine[]
}

export interface ConvertedReport {
  currency: string
  digits: number
  from: string
  to: string
  by: MrrReport['by']
  /** How amounts were converted, in words, for the report's header. */
  method: string
  periods: ConvertedPeriod[]
}

interface DatedRate {
  from: number
  text: string
  rate: ExactDecimal
}

function rateTable(currency: string, spec: RateSpec | undefined, target: string): DatedRate[] {
  if (spec === undefined) {
    if (currency === target) return [{from: -Infinity, text: '1', rate: {numerator: 1n, denominator: 1n}}]
    throw new UserError(`no exchange rate for ${currency} to ${target}`, {hint: `add ${currency} to the rates file (units of ${target} per ${currency})`})
  }
  if (typeof spec === 'string') return [{from: -Infinity, text: spec.trim(), rate: parseDecimal(spec, `the ${currency} rate`)}]
  const table = spec.map((r) => ({
    from: toMs(r.from, `the date of a ${currency} rate`),
    text: r.rate.trim(),
    rate: parseDecimal(r.rate, `the ${currency} rate`),
  }))
  if (table.length === 0) throw new UserError(`no exchange rate for ${currency} to ${target}`, {hint: `give ${currency} at least one rate`})
  return table.sort((a, b) => a.from - b.from)
}

function rateAt(table: DatedRate[], at: number, currency: string): DatedRate {
  let found: DatedRate | undefined
  for (const r of table) {
    if (r.from > at) break
    found = r
  }
  if (found === undefined)
    throw new UserError(`no ${currency} rate in force at ${iso(at)}`, {hint: `give ${currency} a rate dated on or before ${iso(at).slice(0, 10)}`})
  return found
}

/** An amount of minor units of one currency in another's, at an exact rate, rounded half away from zero. */
export function convertMinor(amount: number, rate: ExactDecimal, fromDigits: number, toDigits: number): number {
  const numerator = BigInt(amount) * rate.numerator * 10n ** BigInt(toDigits)
  const denominator = rate.denominator * 10n ** BigInt(fromDigits)
  return Number(divRound(numerator, denominator))
}

const MOVEMENT_FIELDS = ['newMinor', 'expansionMinor', 'contractionMinor', 'churnMinor', 'reactivationMinor'] as const

/**
 * A report's currencies converted to one and summed. Each period's MRR at
 * start is converted at the rate in force at its start, its movements too, and
 * its MRR at end at the rate in force at its end (the next period's start), so
 * one period's end is the next one's start; what the rates change is the FX
 * impact line: mrrEnd = mrrStart + movements + FX impact, exactly.
 */
export function convert(source: MrrReport, options: ConvertOptions): ConvertedReport {
  const target = options.to
  if (!/^[A-Z]{3}$/.test(target)) throw new UserError(`the currency to convert to must be an ISO 4217 code such as USD, not "${target}"`)
  const digits = options.digits ?? currencyDigits(target)
  const tables = new Map(source.currencies.map((c) => [c.currency, rateTable(c.currency, options.rates[c.currency], target)]))
  const count = source.currencies[0]?.periods.length ?? 0
  const periods: ConvertedPeriod[] = []
  for (let k = 0; k < count; k++) {
    const lines: ConvertedLine[] = source.currencies.map((c) => {
      const f: PeriodFigures = c.periods[k]
      const table = tables.get(c.currency) ?? []
      const atStart = rateAt(table, Date.parse(f.start), c.currency)
      const atEnd = rateAt(table, Date.parse(f.end), c.currency)
      const at = (amount: number, r: DatedRate) => convertMinor(amount, r.rate, c.digits, digits)
      const line: ConvertedLine = {
        currency: c.currency,
        rateStart: atStart.text,
        rateEnd: atEnd.text,
        mrrStartMinor: at(f.mrrStartMinor, atStart),
        mrrEndMinor: at(f.mrrEndMinor, atEnd),
        newMinor: at(f.newMinor, atStart),
        expansionMinor: at(f.expansionMinor, atStart),
        contractionMinor: at(f.contractionMinor, atStart),
        churnMinor: at(f.churnMinor, atStart),
        reactivationMinor: at(f.reactivationMinor, atStart),
        fxImpactMinor: 0,
      }
      line.fxImpactMinor =
        line.mrrEndMinor - line.mrrStartMinor - (line.newMinor + line.expansionMinor + line.reactivationMinor - line.contractionMinor - line.churnMinor)
      return line
    })
    const sum = (field: keyof ConvertedLine) => lines.reduce((total, line) => total + (line[field] as number), 0)
    const first = source.currencies[0].periods[k]
    const p: ConvertedPeriod = {
      period: first.period,
      start: first.start,
      end: first.end,
      mrrStartMinor: sum('mrrStartMinor'),
      mrrEndMinor: sum('mrrEndMinor'),
      arrStartMinor: 0,
      arrEndMinor: 0,
      newMinor: 0,
      expansionMinor: 0,
      contractionMinor: 0,
      churnMinor: 0,
      reactivationMinor: 0,
      netChangeMinor: 0,
      fxImpactMinor: sum('fxImpactMinor'),
      customersStart: source.currencies.reduce((n, c) => n + c.periods[k].customersStart, 0),
      payingCustomersEnd: source.currencies.reduce((n, c) => n + c.periods[k].payingCustomersEnd, 0),
      grossMrrChurnRate: ratio(0, 0),
      netMrrChurnRate: ratio(0, 0),
      arpaMinor: null,
      lines,
    }
    for (const field of MOVEMENT_FIELDS) p[field] = sum(field)
    p.arrStartMinor = p.mrrStartMinor * 12
    p.arrEndMinor = p.mrrEndMinor * 12
    p.netChangeMinor = p.newMinor + p.expansionMinor + p.reactivationMinor - p.contractionMinor - p.churnMinor
    p.grossMrrChurnRate = ratio(p.churnMinor + p.contractionMinor, p.mrrStartMinor)
    p.netMrrChurnRate = ratio(p.churnMinor + p.contractionMinor - p.expansionMinor - p.reactivationMinor, p.mrrStartMinor)
    p.arpaMinor = p.payingCustomersEnd === 0 ? null : Number(divRound(BigInt(p.mrrEndMinor), BigInt(p.payingCustomersEnd)))
    periods.push(p)
  }
  const method =
    `converted to ${target} at stated rates (units of ${target} per unit of each currency): MRR at a period's start and its movements at the rate in force at its start, ` +
    `MRR at its end at the rate in force at its end; what the rates change is the FX impact line, never a movement; each figure rounded half away from zero`
  return {currency: target, digits, from: source.from, to: source.to, by: source.by, method, periods}
}
