import {readFileSync} from 'node:fs'

import type {OpsContext} from '../context.js'
import {RDS_TABLE} from '../db/tables.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {getRds} from '../rds/repository.js'
import {getTenant, type TenantRef} from '../tenant/reference.js'
import {currencyCode} from './money.js'
import {
  convert,
  explain,
  reportBuilder,
  type ConvertedReport,
  type Movement,
  type MrrExplanation,
  type MrrPolicies,
  type MrrReport,
  type PeriodUnit,
  type RateSpec,
  type TenantTimeline,
} from './mrr/index.js'
import {DEFAULT_BILLING_GRACE_DAYS, eachTimeline, loadTimelines} from './timelines.js'

/**
 * The revenue report and a tenant's explanation: the billing ledger read by
 * `loadTimelines`, run through the MRR engine (./mrr) with the policies in
 * force, and returned as plain data. Never summed across currencies unless a
 * conversion at stated rates is asked for.
 */

export type ReportContext = Pick<OpsContext, 'db' | 'now'>

export interface BillingReportInput {
  /** The first day of the report, inclusive (YYYY-MM-DD or an ISO date-time in UTC). */
  from: string
  /** The end of the report, exclusive. */
  to: string
  by?: PeriodUnit
  /** Only this currency (ISO 4217). */
  currency?: string
  /** Also a report converted to this currency, at `rates`. */
  convertTo?: string
  /** Units of `convertTo` per unit of each currency (see `parseRates`). */
  rates?: Readonly<Record<string, RateSpec>>
  /** Overrides of the settings (RAIOPS_BILLING_* and the engine's defaults). */
  policies?: Partial<MrrPolicies>
  /** Days an unpaid period may stay unpaid before past due (RAIOPS_BILLING_GRACE_DAYS). */
  graceDays?: number
  /** Only the tenants on this RDS (name or id). */
  rds?: string
  /**
   * With the per-tenant rows and the movement log (default true): the exports
   * and the JSON need them, a terminal's table and chart do not.
   */
  detail?: boolean
}

/** An RDS a report names, by id. */
export interface ReportRds {
  id: number
  name: string
}

export interface BillingReport extends MrrReport {
  /** When the ledger was read: later events and payments are not in it. */
  asOf: string
  graceDays: number
  filters: {currency: string | null; rds: string | null}
  /** The RDS that the MRR-by-RDS figures name. */
  rds: ReportRds[]
  /** The report converted to one currency, with FX impact as its own line; null without --convert-to. */
  converted: ConvertedReport | null
}

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]00:00)?)?$/

/** A --from/--to value as the engine reads it: a date, or a date-time in UTC; anything else is bad input. */
export function reportInstant(text: string, flag: string): string {
  const value = text.trim()
  const ms = DATE.test(value) ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : /Z|[+-]00:00$/.test(value) ? value : `${value}Z`) : NaN
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value.slice(0, 10))
    throw new UserError(`${flag} must be a date (2026-01-31) or a date-time in UTC (2026-01-31T12:00:00Z), not "${text}"`, {
      hint: 'months and days as two digits, a real calendar day',
    })
  return new Date(ms).toISOString()
}

/**
 * A rates file: JSON, each currency to its rate in the target currency as a
 * decimal string (`{"EUR": "1.08"}`), or to dated rates, each in force from
 * its date (`{"EUR": [{"from": "2026-01-01", "rate": "1.08"}]}`). Numbers are
 * refused: written as JSON numbers, rates would pass through floating point.
 */
export function parseRates(text: string, file: string): Record<string, RateSpec> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UserError(`the rates file ${file} is not JSON`, {hint: 'write {"EUR": "1.08", "JPY": "0.0065"}: units of the target currency per unit of each'})
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UserError(`the rates file ${file} must be a JSON object of currencies`, {hint: 'as {"EUR": "1.08"}'})
  const rates: Record<string, RateSpec> = {}
  const rate = (value: unknown, currency: string): string => {
    if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value.trim()) || !/[1-9]/.test(value))
      throw new UserError(`the ${currency} rate in ${file} must be a positive decimal written as a string, not ${JSON.stringify(value)}`, {
        hint: `as "${currency}": "1.08" (quoted: a JSON number would pass through floating point)`,
      })
    return value.trim()
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const currency = currencyCode(key)
    if (Array.isArray(value)) {
      rates[currency] = value.map((entry: unknown) => {
        const dated = (entry ?? {}) as {from?: unknown; rate?: unknown}
        if (typeof dated.from !== 'string')
          throw new UserError(`a dated ${currency} rate in ${file} needs "from": a date`, {hint: `as {"from": "2026-01-01", "rate": "1.08"}`})
        return {from: reportInstant(dated.from, `the date of a ${currency} rate`), rate: rate(dated.rate, currency)}
      })
    } else rates[currency] = rate(value, currency)
  }
  return rates
}

/** The rates file at `path`, read and parsed; a missing file is bad input. */
export function readRatesFile(path: string): Record<string, RateSpec> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UserError(`cannot read the rates file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
      hint: 'give --rates a readable JSON file',
    })
  }
  return parseRates(text, path)
}

async function reportRds(ctx: ReportContext, ids: Iterable<number | string | null>): Promise<ReportRds[]> {
  const wanted = [...new Set([...ids].filter((id): id is number | string => id !== null).map(Number))]
  if (wanted.length === 0) return []
  const rows: Array<{id: number; name: string}> = await ctx.db(RDS_TABLE).whereIn('id', wanted).select('id', 'name')
  return rows.map((r) => ({id: Number(r.id), name: r.name})).sort((a, b) => a.id - b.id)
}

/** The revenue report of `input.from`–`input.to`: per currency, per month or week, with its exports and its policies. */
export async function billingReport(ctx: ReportContext, input: BillingReportInput): Promise<BillingReport> {
  const from = reportInstant(input.from, '--from')
  const to = reportInstant(input.to, '--to')
  if (to <= from)
    throw new UserError(`--to (${input.to}) must be after --from (${input.from})`, {hint: '--to is exclusive: --from 2026-01-01 --to 2026-02-01 is January'})
  const currency = input.currency === undefined ? null : currencyCode(input.currency)
  const convertTo = input.convertTo === undefined ? null : currencyCode(input.convertTo)
  if (convertTo !== null && input.rates === undefined)
    throw new UserError(`--convert-to ${convertTo} needs --rates FILE`, {
      hint: 'a JSON file such as {"EUR": "1.08"}: units of the target per unit of each currency',
    })
  const rds = input.rds === undefined ? null : await getRds(ctx.db, input.rds)
  const now = ctx.now()
  const builder = reportBuilder({from, to, by: input.by ?? 'month'}, input.policies, {detail: input.detail ?? true})
  await eachTimeline(ctx.db, {until: now, graceDays: input.graceDays}, (t) => {
    if ((currency === null || t.currency === currency) && (rds === null || Number(t.rdsId) === Number(rds.id))) builder.add(t)
  })
  const result = builder.finish()
  const converted = convertTo === null ? null : convert(result, {to: convertTo, rates: input.rates ?? {}})
  const rdsIds = result.currencies.flatMap((c) => c.periods.flatMap((p) => p.byRds.map((s) => s.key)))
  return {
    ...result,
    asOf: now.toISOString(),
    graceDays: input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS,
    filters: {currency, rds: rds === null ? null : rds.name},
    rds: await reportRds(ctx, rdsIds),
    converted,
  }
}

export interface BillingExplainInput {
  tenant: string
  /** Only the movements and events from this instant (inclusive). */
  from?: string
  /** … and before this one (exclusive). */
  to?: string
  policies?: Partial<MrrPolicies>
  graceDays?: number
}

export interface BillingExplanation {
  tenant: TenantRef
  asOf: string
  from: string | null
  to: string | null
  graceDays: number
  /** One per currency the tenant was billed in (most tenants: one). */
  currencies: MrrExplanation[]
}

/** Every movement of one tenant, the event behind each and the arithmetic: what `billing:explain` shows. */
export async function billingExplain(ctx: ReportContext, input: BillingExplainInput): Promise<BillingExplanation> {
  const from = input.from === undefined ? null : reportInstant(input.from, '--from')
  const to = input.to === undefined ? null : reportInstant(input.to, '--to')
  if (from !== null && to !== null && to <= from) throw new UserError(`--to (${input.to}) must be after --from (${input.from})`, {hint: '--to is exclusive'})
  const tenant = await getTenant(ctx.db, input.tenant)
  const now = ctx.now()
  const timelines: TenantTimeline[] = await loadTimelines(ctx.db, {tenantIds: [tenant.id], until: now, graceDays: input.graceDays})
  if (timelines.length === 0) throw new NotFoundError(`${tenant.name} has no billing history`, {hint: 'see `raiops billing:show` and `raiops billing:set`'})
  const within = (at: string) => (from === null || at >= from) && (to === null || at < to)
  const currencies = timelines.map((timeline) => {
    const explained = explain(timeline, input.policies)
    return {
      ...explained,
      movements: explained.movements.filter((m: Movement) => within(m.at)),
      events: explained.events.filter((e) => within(e.at) || (e.effectiveAt !== null && within(e.effectiveAt))),
    }
  })
  return {tenant, asOf: now.toISOString(), from, to, graceDays: input.graceDays ?? DEFAULT_BILLING_GRACE_DAYS, currencies}
}
