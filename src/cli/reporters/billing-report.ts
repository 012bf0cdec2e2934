import type {ChalkInstance} from 'chalk'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {
  formatMinor,
  type ConvertedPeriod,
  type CurrencyReport,
  type Movement,
  type PeriodFigures,
  type Ratio,
  type TenantPeriodRow,
} from '../../lib/billing/mrr/index.js'
import type {BillingExplanation, BillingReport} from '../../lib/billing/report.js'
import {UserError} from '../../lib/errors/index.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {wrap} from '../output/fit.js'
import {writeOutputText} from '../output/output-file.js'
import {renderCsv, renderTable, type Column, type TableLayout} from '../output/render.js'

/** The three CSV exports of billing:report. */
export const REPORT_EXPORTS = ['tenants', 'summary', 'movements'] as const
export type ReportExport = (typeof REPORT_EXPORTS)[number]

/** The files billing:report --format csv --output DIR writes, one per export. */
export const EXPORT_FILES: Record<ReportExport, string> = {
  tenants: 'mrr-by-tenant.csv',
  summary: 'mrr-summary.csv',
  movements: 'mrr-movements.csv',
}

const money = (minor: number, digits: number) => formatMinor(minor, digits)
/** An amount as CSV carries it: a plain decimal, no thousands separators. */
const plain = (minor: number, digits: number) => formatMinor(minor, digits).replaceAll(',', '')
const percent = (r: Ratio) => (r.percent === null ? '-' : `${r.percent}%`)

/** The policies in force, in the header of every report and explanation. */
export function policyLines(c: ChalkInstance, definitions: BillingReport['definitions'], graceDays: number, width = 80): string[] {
  const settings = [...definitions.filter((d) => d.setting).map((d) => `${d.key} ${d.value}`), `graceDays ${graceDays}`]
  const rules = definitions.filter((d) => !d.setting).map((d) => `${d.key}: ${d.value}`)
  const lines = (title: string, items: string[]) =>
    wrap(items.join(' · '), Math.min(width, 100) - 10).map((line, i) => `${i === 0 ? c.bold(title.padEnd(8)) : ' '.repeat(8)}  ${line}`)
  return [...lines('Policies', settings), ...lines('Rules', rules)]
}

function rollForwardColumns(digits: number): Column<PeriodFigures>[] {
  return [
    {header: 'period', cell: (f) => f.period},
    {header: 'start', cell: (f) => money(f.mrrStartMinor, digits)},
    {header: '+ new', cell: (f) => money(f.newMinor, digits)},
    {header: '+ exp.', cell: (f) => money(f.expansionMinor, digits)},
    {header: '+ react.', cell: (f) => money(f.reactivationMinor, digits)},
    {header: '- contr.', cell: (f) => money(f.contractionMinor, digits)},
    {header: '- churn', cell: (f) => money(f.churnMinor, digits)},
    {header: 'end', cell: (f) => money(f.mrrEndMinor, digits)},
  ]
}

function customerColumns(digits: number): Column<PeriodFigures>[] {
  return [
    {header: 'period', cell: (f) => f.period},
    {header: 'arr', cell: (f) => money(f.arrEndMinor, digits)},
    {header: 'cust.', cell: (f) => `${f.customersStart} → ${f.customersEnd}`},
    {header: 'lost', cell: (f) => String(f.customersLost)},
    {header: 'logo %', cell: (f) => percent(f.logoChurnRate)},
    {header: 'gross %', cell: (f) => percent(f.grossMrrChurnRate)},
    {header: 'net %', cell: (f) => percent(f.netMrrChurnRate)},
    {header: 'arpa', cell: (f) => (f.arpaMinor === null ? '-' : money(f.arpaMinor, digits))},
  ]
}

/** MRR at the end of each period as a bar of # characters, fitted to `width` (80 by default). */
export function mrrChart(periods: readonly {period: string; mrrEndMinor: number}[], digits: number, width = 80): string[] {
  const amounts = periods.map((p) => money(p.mrrEndMinor, digits))
  const label = Math.max(...periods.map((p) => p.period.length))
  const amount = Math.max(...amounts.map((a) => a.length))
  const room = Math.max(10, Math.min(width, 80) - label - amount - 3)
  const max = Math.max(0, ...periods.map((p) => p.mrrEndMinor))
  return periods.map((p, i) => {
    const bar = max <= 0 || p.mrrEndMinor <= 0 ? '' : '#'.repeat(Math.max(1, Math.round((p.mrrEndMinor / max) * room)))
    return `${p.period.padEnd(label)} ${bar.padEnd(room)} ${amounts[i].padStart(amount)}`
  })
}

function shareTable(c: CurrencyReport, report: BillingReport, layout: TableLayout): string {
  const last = c.periods[c.periods.length - 1]
  if (last === undefined) return ''
  const rdsName = new Map(report.rds.map((r) => [r.id, r.name]))
  const rows = [
    ...last.byPlan.map((s) => ({by: 'plan', key: s.key, mrrMinor: s.mrrMinor, n: s.payingCustomers})),
    ...last.byRds.map((s) => ({
      by: 'rds',
      key: s.key === null ? '-' : (rdsName.get(Number(s.key)) ?? `#${s.key}`),
      mrrMinor: s.mrrMinor,
      n: s.payingCustomers,
    })),
  ]
  if (rows.length === 0) return ''
  return renderTable(
    rows,
    [
      {header: 'by', cell: (r) => r.by},
      {header: 'name', cell: (r) => String(r.key), overflow: 'truncate'},
      {header: 'mrr', cell: (r) => money(r.mrrMinor, c.digits)},
      {header: 'paying customers', cell: (r) => String(r.n)},
    ],
    layout,
  )
}

function convertedColumns(digits: number): Column<ConvertedPeriod>[] {
  return [
    {header: 'period', cell: (p) => p.period},
    {header: 'mrr start', cell: (p) => money(p.mrrStartMinor, digits)},
    {header: 'movements', cell: (p) => money(p.netChangeMinor, digits)},
    {header: 'fx impact', cell: (p) => money(p.fxImpactMinor, digits)},
    {header: 'mrr end', cell: (p) => money(p.mrrEndMinor, digits)},
    {header: 'rates', cell: (p) => p.lines.map((l) => `${l.currency} ${l.rateStart}`).join(' '), overflow: 'truncate', priority: 2},
  ]
}

/** billing:report on a terminal: the policies, then per currency its roll-forward, customers and rates, a chart, MRR by plan and RDS. */
export function renderBillingReport(c: ChalkInstance, shown: BillingReport, layout: TableLayout): string {
  // Only what is shown is escaped: the per-tenant rows and the movement log (most of the report) are not printed here.
  const report: BillingReport = escapeControlDeep({
    ...shown,
    currencies: shown.currencies.map((cur) => ({...cur, tenants: [], movements: []})),
  })
  const filters = [report.filters.currency, report.filters.rds && `rds ${report.filters.rds}`].filter(Boolean).join(', ')
  const out = [
    `${c.bold('Revenue report')} ${report.from.slice(0, 10)} to ${report.to.slice(0, 10)} (exclusive) by ${report.by}${filters ? `, only ${filters}` : ''}`,
    `ledger as of ${report.asOf}`,
    ...policyLines(c, report.definitions, report.graceDays, layout.width),
    '',
  ]
  if (report.currencies.length === 0) out.push('No MRR and no movement in this range.', '')
  for (const cur of report.currencies) {
    const last = cur.periods[cur.periods.length - 1]
    out.push(c.bold(`${cur.currency}: MRR ${money(last.mrrEndMinor, cur.digits)}, ARR ${money(last.arrEndMinor, cur.digits)} at ${last.end.slice(0, 10)}`))
    out.push(`MRR (${cur.currency}): start + new + expansion + reactivation - contraction - churn = end`)
    out.push(renderTable(cur.periods, rollForwardColumns(cur.digits), layout))
    out.push(`ARR, customers, lost, logo churn, gross/net MRR churn, ARPA (${cur.currency})`)
    out.push(renderTable(cur.periods, customerColumns(cur.digits), layout))
    out.push(`MRR at period end (${cur.currency})`, ...mrrChart(cur.periods, cur.digits, layout.width))
    const shares = shareTable(cur, report, layout)
    if (shares) out.push(`MRR by plan and by RDS at ${last.end.slice(0, 10)} (${cur.currency})`, shares)
    out.push('')
  }
  const converted = report.converted
  if (converted) {
    out.push(c.bold(`All currencies in ${converted.currency}, at stated rates (FX impact is not a movement)`))
    out.push(renderTable(converted.periods, convertedColumns(converted.digits), layout))
    out.push(`MRR at period end (${converted.currency}, converted)`, ...mrrChart(converted.periods, converted.digits, layout.width), '')
  }
  return out.join('\n')
}

interface TenantCsvRow extends TenantPeriodRow {
  currency: string
  digits: number
  rdsName: string
}

const tenantColumns: Column<TenantCsvRow>[] = [
  {header: 'period', cell: (r) => r.period},
  {header: 'currency', cell: (r) => r.currency},
  {header: 'tenant_id', cell: (r) => String(r.tenantId)},
  {header: 'tenant', cell: (r) => r.tenantName},
  {header: 'rds', cell: (r) => r.rdsName},
  {header: 'plan', cell: (r) => r.planCode ?? ''},
  {header: 'mrr_start', cell: (r) => plain(r.mrrStartMinor, r.digits)},
  {header: 'mrr_end', cell: (r) => plain(r.mrrEndMinor, r.digits)},
  {header: 'change', cell: (r) => plain(r.mrrEndMinor - r.mrrStartMinor, r.digits)},
]

interface SummaryCsvRow {
  currency: string
  converted: boolean
  digits: number
  f: PeriodFigures | ConvertedPeriod
}

const pct = (r: Ratio | undefined) => r?.percent ?? ''
const summaryColumns: Column<SummaryCsvRow>[] = [
  {header: 'period', cell: (r) => r.f.period},
  {header: 'start', cell: (r) => r.f.start},
  {header: 'end', cell: (r) => r.f.end},
  {header: 'currency', cell: (r) => r.currency},
  {header: 'converted', cell: (r) => (r.converted ? 'true' : 'false')},
  {header: 'mrr_start', cell: (r) => plain(r.f.mrrStartMinor, r.digits)},
  {header: 'new', cell: (r) => plain(r.f.newMinor, r.digits)},
  {header: 'expansion', cell: (r) => plain(r.f.expansionMinor, r.digits)},
  {header: 'reactivation', cell: (r) => plain(r.f.reactivationMinor, r.digits)},
  {header: 'contraction', cell: (r) => plain(r.f.contractionMinor, r.digits)},
  {header: 'churn', cell: (r) => plain(r.f.churnMinor, r.digits)},
  {header: 'fx_impact', cell: (r) => ('fxImpactMinor' in r.f ? plain(r.f.fxImpactMinor, r.digits) : '')},
  {header: 'mrr_end', cell: (r) => plain(r.f.mrrEndMinor, r.digits)},
  {header: 'arr_end', cell: (r) => plain(r.f.arrEndMinor, r.digits)},
  {header: 'customers_start', cell: (r) => String(r.f.customersStart)},
  {header: 'customers_end', cell: (r) => ('customersEnd' in r.f ? String(r.f.customersEnd) : '')},
  {header: 'paying_customers_end', cell: (r) => String(r.f.payingCustomersEnd)},
  {header: 'customers_lost', cell: (r) => ('customersLost' in r.f ? String(r.f.customersLost) : '')},
  {header: 'logo_churn_pct', cell: (r) => ('logoChurnRate' in r.f ? pct(r.f.logoChurnRate) : '')},
  {header: 'gross_mrr_churn_pct', cell: (r) => pct(r.f.grossMrrChurnRate)},
  {header: 'net_mrr_churn_pct', cell: (r) => pct(r.f.netMrrChurnRate)},
  {header: 'arpa', cell: (r) => (r.f.arpaMinor === null ? '' : plain(r.f.arpaMinor, r.digits))},
]

interface MovementCsvRow {
  m: Movement
  digits: number
  rdsName: string
}

const movementColumns: Column<MovementCsvRow>[] = [
  {header: 'at', cell: (r) => r.m.at},
  {header: 'currency', cell: (r) => r.m.currency},
  {header: 'tenant_id', cell: (r) => String(r.m.tenantId)},
  {header: 'tenant', cell: (r) => r.m.tenantName},
  {header: 'rds', cell: (r) => r.rdsName},
  {header: 'type', cell: (r) => r.m.type},
  {header: 'amount', cell: (r) => plain(r.m.amountMinor, r.digits)},
  {header: 'mrr_before', cell: (r) => plain(r.m.mrrBeforeMinor, r.digits)},
  {header: 'mrr_after', cell: (r) => plain(r.m.mrrAfterMinor, r.digits)},
  {header: 'plan', cell: (r) => r.m.planCode ?? ''},
  {header: 'cause', cell: (r) => r.m.cause},
  {header: 'events', cell: (r) => r.m.eventIds.join(' ')},
  {header: 'reason', cell: (r) => r.m.reason},
]

/** One of billing:report's CSV exports: per tenant per period MRR, the roll-forward summary, or the movement log. */
export function renderReportCsv(report: BillingReport, which: ReportExport): string {
  const rdsName = new Map(report.rds.map((r) => [r.id, r.name]))
  const nameOf = (id: string | number | null) => (id === null ? '' : (rdsName.get(Number(id)) ?? String(id)))
  if (which === 'tenants')
    return renderCsv(
      report.currencies.flatMap((c) => c.tenants.map((t) => ({...t, currency: c.currency, digits: c.digits, rdsName: nameOf(t.rdsId)}))),
      tenantColumns,
    )
  if (which === 'summary') {
    const rows: SummaryCsvRow[] = report.currencies.flatMap((c) => c.periods.map((f) => ({currency: c.currency, converted: false, digits: c.digits, f})))
    const converted = report.converted
    if (converted) rows.push(...converted.periods.map((f) => ({currency: converted.currency, converted: true, digits: converted.digits, f})))
    return renderCsv(rows, summaryColumns)
  }
  return renderCsv(
    report.currencies.flatMap((c) => c.movements.map((m) => ({m, digits: c.digits, rdsName: nameOf(m.rdsId)}))),
    movementColumns,
  )
}

/** billing:explain: per currency, the tenant's MRR now, each event with its arithmetic, and each movement. */
export function renderBillingExplain(c: ChalkInstance, shown: BillingExplanation, layout: TableLayout): string {
  const e = escapeControlDeep(shown)
  const range = e.from || e.to ? ` from ${e.from?.slice(0, 10) ?? 'the start'} to ${e.to?.slice(0, 10) ?? 'now'}` : ''
  const out = [`${c.bold(e.tenant.name)} (tenant ${e.tenant.id})${range}, ledger as of ${e.asOf}`]
  for (const cur of e.currencies) {
    out.push(...policyLines(c, cur.definitions, e.graceDays, layout.width), '')
    out.push(c.bold(`${cur.currency}: MRR ${money(cur.mrrMinor, cur.digits)} now (${cur.standing})`))
    out.push(
      'Events',
      renderTable(
        cur.events,
        [
          {header: 'at', cell: (v) => v.at.replace('.000Z', 'Z')},
          {header: 'event', cell: (v) => String(v.eventId)},
          {header: 'status', cell: (v) => v.status},
          {header: 'plan', cell: (v) => v.planCode, overflow: 'truncate'},
          {header: 'arithmetic', cell: (v) => v.arithmetic, overflow: 'wrap', minWidth: 24},
          {header: 'movements', cell: (v) => v.movements.join(', ') || '-'},
        ],
        layout,
      ),
    )
    if (cur.movements.length === 0) out.push('No movement.')
    else
      out.push(
        'Movements',
        renderTable(
          cur.movements,
          [
            {header: 'at', cell: (m) => m.at.replace('.000Z', 'Z')},
            {header: 'type', cell: (m) => m.type},
            {header: 'amount', cell: (m) => money(m.amountMinor, cur.digits)},
            {header: 'mrr', cell: (m) => `${money(m.mrrBeforeMinor, cur.digits)} → ${money(m.mrrAfterMinor, cur.digits)}`},
            {header: 'events', cell: (m) => m.eventIds.join(' ')},
            {header: 'reason', cell: (m) => m.reason, overflow: 'wrap', minWidth: 24},
          ],
          layout,
        ),
      )
    out.push('')
  }
  return out.join('\n')
}

/**
 * The three exports written into `dir` (made, mode 0700, when missing): all
 * rendered first, then each file written to a temporary name and renamed into
 * place, so a file present is a file complete. Returns the paths written.
 */
export function writeReportExports(dir: string, report: BillingReport): string[] {
  const texts = REPORT_EXPORTS.map((which) => [join(dir, EXPORT_FILES[which]), renderReportCsv(report, which)] as const)
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700})
  } catch (error) {
    throw new UserError(`cannot make the directory ${escapeControl(dir)}: ${(error as NodeJS.ErrnoException).code ?? 'failed'}`, {
      hint: '--output names a directory for the three CSV files',
    })
  }
  for (const [path, text] of texts) writeOutputText(path, text)
  return texts.map(([path]) => escapeControl(path))
}
