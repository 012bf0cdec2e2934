import type {ChalkInstance} from 'chalk'

import type {BillingAlert, BillingAlertKind, BillingAlertsResult} from '../../lib/billing/alerts.js'
import type {Column} from '../output/render.js'

const KIND_TONE: Record<BillingAlertKind, 'red' | 'yellow' | 'cyan'> = {overdue: 'red', 'failed-payment': 'red', contraction: 'yellow', 'trial-ending': 'cyan'}

/** billing:alerts as a table (or CSV): one row per alert, worst first. */
export function billingAlertColumns(c: ChalkInstance): Column<BillingAlert>[] {
  return [
    {header: 'kind', cell: (a) => c[KIND_TONE[a.kind]](a.kind), plain: (a) => a.kind},
    {header: 'tenant id', cell: (a) => String(a.tenantId), plain: (a) => a.tenantId},
    {header: 'tenant', cell: (a) => a.tenantName, overflow: 'truncate'},
    {header: 'since', cell: (a, f) => f.time(a.at), plain: (a) => a.at},
    {header: 'amount', cell: (a) => `${a.amount} ${a.currency}`, plain: (a) => a.amount},
    {header: 'currency', cell: (a) => a.currency, priority: 5},
    {header: 'detail', cell: (a) => a.detail, overflow: 'wrap', priority: 2},
    {header: 'action', cell: (a) => a.action, overflow: 'wrap', priority: 3},
  ]
}

/** The line that says what the alerts were looked for with (stderr, above a table). */
export function billingAlertsHeader(result: BillingAlertsResult): string {
  const {graceDays, trialDays, since, minContractionPercent} = result.settings
  const counts = Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
  return (
    `billing alerts at ${result.generatedAt}: ${counts.length === 0 ? 'none' : counts.join(', ')} ` +
    `(overdue ${graceDays} day(s) after a period's end; trials ending within ${trialDays} day(s); failed payments and contractions of ${minContractionPercent} % or more since ${since})`
  )
}
