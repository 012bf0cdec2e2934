/**
 * The MRR engine: from tenants' effective-dated subscription states to MRR,
 * its movements and the revenue report. Pure: no database, no clock, no output.
 */
export {convert, convertMinor, type ConvertedLine, type ConvertedPeriod, type ConvertedReport, type ConvertOptions, type RateSpec} from './convert.js'
export {
  explain,
  mrrAt,
  movements,
  report,
  reportBuilder,
  type CurrencyMrr,
  type CurrencyReport,
  type ExplainedEvent,
  type MrrAtResult,
  type MrrExplanation,
  type MrrReport,
  type MrrShare,
  type PeriodFigures,
  type ReportBuilder,
  type ReportOptions,
  type ReportRange,
  type TenantMrr,
  type TenantPeriodRow,
} from './engine.js'
export {currencyDigits, formatMinor, type Ratio} from './money.js'
export {isoWeekLabel, splitPeriods, type Period, type PeriodUnit} from './periods.js'
export {describePolicies, resolvePolicies, type PolicyLine} from './policies.js'
export * from './types.js'
