import {Flags} from '@oclif/core'

import type {MrrPolicies} from '../../lib/billing/mrr/index.js'
import {readRatesFile, type BillingExplainInput, type BillingReportInput} from '../../lib/billing/report.js'
import type {RaiopsConfig} from '../../lib/config/index.js'
import {UserError} from '../../lib/errors/index.js'
import {REPORT_EXPORTS, type ReportExport} from '../reporters/billing-report.js'

/** The report's policies as flags; unset, RAIOPS_BILLING_* and then the engine's defaults. */
export const policyFlags = {
  'limited-discounts': Flags.option({
    options: ['ignore', 'apply'] as const,
    description: 'whether a discount with an end date reduces MRR (RAIOPS_BILLING_LIMITED_DISCOUNTS; default ignore)',
  })(),
  'past-due-days': Flags.integer({
    min: 0,
    max: 3650,
    description: 'days a past-due subscription still counts before it is churn (RAIOPS_BILLING_PAST_DUE_DAYS; default 30)',
  }),
  pause: Flags.option({options: ['contraction', 'churn'] as const, description: 'what a pause is (RAIOPS_BILLING_PAUSE; default contraction)'})(),
  'churn-at': Flags.option({
    options: ['period-end', 'cancellation'] as const,
    description: 'when a cancellation is churn (RAIOPS_BILLING_CHURN_AT; default period-end)',
  })(),
  'merge-minutes': Flags.integer({
    min: 0,
    max: 1440,
    description: 'changes of a tenant this close together are one movement (RAIOPS_BILLING_MERGE_MINUTES; default 60)',
  }),
}

const FROM = 'the first day (YYYY-MM-DD, UTC), inclusive'
const TO = 'the end (YYYY-MM-DD, UTC), exclusive: --from 2026-01-01 --to 2026-02-01 is January'

export const rangeFlags = {
  from: Flags.string({description: FROM}),
  to: Flags.string({description: TO}),
}

export const billingReportFlags = {
  from: Flags.string({description: FROM, required: true}),
  to: Flags.string({description: TO, required: true}),
  by: Flags.option({options: ['month', 'week'] as const, default: 'month' as const, description: 'calendar months or ISO weeks (UTC)'})(),
  currency: Flags.string({description: 'only this currency (ISO 4217)'}),
  'convert-to': Flags.string({description: 'also every currency converted to this one, at --rates (FX impact on its own line)'}),
  rates: Flags.string({description: 'a JSON file of rates to --convert-to: {"EUR": "1.08"} or dated {"EUR": [{"from": "2026-01-01", "rate": "1.08"}]}'}),
  rds: Flags.string({description: 'only tenants on this RDS (name or id)'}),
  ...policyFlags,
  format: Flags.option({
    options: ['table', 'json', 'csv'] as const,
    default: 'table' as const,
    char: 'f',
    description: 'output format; csv needs reports.export',
  })(),
  export: Flags.option({options: REPORT_EXPORTS, description: 'with --format csv on stdout: which export (default summary)'})(),
  output: Flags.string({
    char: 'o',
    description: 'with --format csv: a directory to write the three exports to (mrr-by-tenant.csv, mrr-summary.csv, mrr-movements.csv)',
  }),
  wide: Flags.boolean({description: 'tables in full, however wide'}),
}

type PolicyFlagValues = {
  'limited-discounts'?: 'ignore' | 'apply'
  'past-due-days'?: number
  pause?: 'contraction' | 'churn'
  'churn-at'?: 'period-end' | 'cancellation'
  'merge-minutes'?: number
}

/** The policies: each flag given, else its RAIOPS_BILLING_* setting; unset ones are left to the engine's defaults. */
export function policiesOf(flags: PolicyFlagValues, config: RaiopsConfig): Partial<MrrPolicies> {
  const given: Partial<MrrPolicies> = {
    limitedDiscounts: flags['limited-discounts'],
    pastDueDays: flags['past-due-days'],
    pause: flags.pause,
    churnAt: flags['churn-at'],
    mergeMinutes: flags['merge-minutes'],
  }
  const policies: Record<string, unknown> = {}
  for (const [key, value] of Object.entries({...config.billingPolicies})) if (value !== undefined) policies[key] = value
  for (const [key, value] of Object.entries(given)) if (value !== undefined) policies[key] = value
  return policies as Partial<MrrPolicies>
}

type ReportFlagValues = PolicyFlagValues & {
  from: string
  to: string
  by: 'month' | 'week'
  currency?: string
  'convert-to'?: string
  rates?: string
  rds?: string
  format: 'table' | 'json' | 'csv'
  export?: ReportExport
  output?: string
}

/** billing:report's input; flag combinations that make no sense are bad input, before any work. */
export function billingReportInput(flags: ReportFlagValues, config: RaiopsConfig): BillingReportInput {
  if (flags.output !== undefined && flags.format !== 'csv')
    throw new UserError('--output DIR writes the three CSV exports', {hint: 'add --format csv, or drop --output'})
  if (flags.export !== undefined && (flags.format !== 'csv' || flags.output !== undefined))
    throw new UserError('--export picks one CSV export for standard output', {hint: 'use it with --format csv and without --output'})
  if (flags.rates !== undefined && flags['convert-to'] === undefined)
    throw new UserError('--rates is used with --convert-to', {hint: 'add --convert-to USD (or another currency)'})
  return {
    from: flags.from,
    to: flags.to,
    by: flags.by,
    currency: flags.currency,
    convertTo: flags['convert-to'],
    rates: flags.rates === undefined ? undefined : readRatesFile(flags.rates),
    rds: flags.rds,
    policies: policiesOf(flags, config),
    graceDays: config.billingGraceDays,
  }
}

export function billingExplainInput(tenant: string, flags: PolicyFlagValues & {from?: string; to?: string}, config: RaiopsConfig): BillingExplainInput {
  return {tenant, from: flags.from, to: flags.to, policies: policiesOf(flags, config), graceDays: config.billingGraceDays}
}
