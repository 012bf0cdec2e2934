import type {ChalkInstance} from 'chalk'

import {formatMoney} from '../../lib/billing/money.js'
import type {Discount} from '../../lib/billing/mrr/types.js'
import type {BillingShow, PaymentResult, PaymentView} from '../../lib/billing/payments.js'
import type {BillingEventView, SubscriptionChangeResult, SubscriptionView} from '../../lib/billing/subscriptions.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {renderRecord, renderTable} from '../output/render.js'

/** "10 %" or "5.00 USD off each term", with its end. */
export function discountText(discount: Discount | null, currency: string, until: string | null): string {
  if (discount === null) return '-'
  const what =
    'percentBp' in discount ? `${(discount.percentBp / 100).toFixed(discount.percentBp % 100 === 0 ? 0 : 2)} %` : formatMoney(discount.amountMinor, currency)
  return `${what} off each term${until ? ` until ${until}` : ' (permanent)'}`
}

function statusText(c: ChalkInstance, status: string): string {
  if (status === 'past_due') return c.red(status)
  if (status === 'canceled' || status === 'paused') return c.yellow(status)
  return status
}

function subscriptionLines(c: ChalkInstance, s: SubscriptionView): Array<readonly [string, string]> {
  const quantity = s.quantityMode === 'fixed' ? String(s.quantity) : `${s.quantity} (the tenant's ${s.quantityMode} when last set)`
  return [
    ['status', statusText(c, s.status)],
    ['plan', s.plan ? `${s.plan.name} (${s.plan.code} v${s.plan.version}, per ${s.plan.interval})` : '-'],
    ['quantity', quantity],
    ['discount', discountText(s.discount, s.currency, s.discountUntil)],
    ['trial until', s.trialUntil ?? '-'],
    ['MRR', `${s.mrr} (a month, net of tax; a limited discount not deducted)`],
    ['next billing', s.nextBillingAt ?? '-'],
    ['paid through', s.paidThrough ?? '-'],
  ]
}

function changesText(event: BillingEventView): string {
  const parts = Object.entries(event.changes).map(
    ([key, value]) => `${key}=${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`,
  )
  return parts.join(' ')
}

/** billing:set, billing:cancel, billing:pause, billing:resume: the event, then the subscription as it now is. */
export function renderSubscriptionChange(c: ChalkInstance, result: SubscriptionChangeResult): string {
  const safe = escapeControlDeep(result)
  const e = safe.event
  const head = `${e.type} for ${safe.tenant.name} (#${safe.tenant.id}): event ${e.id}, effective ${e.effectiveAt}${e.backdated ? c.yellow(` (backdated: recorded ${e.recordedAt}; every later state recomputed)`) : ''}`
  const mrr = `MRR after it at that date: ${formatMoney(e.mrrMinor, e.currency)} (${e.mrrDeltaMinor >= 0 ? '+' : ''}${formatMoney(e.mrrDeltaMinor, e.currency)})`
  return `${head}\n${mrr}\n\n${renderRecord(safe.subscription, (s) => subscriptionLines(c, s))}`
}

function paymentRows(payments: readonly PaymentView[]): string {
  return renderTable(payments, [
    {header: 'id', cell: (p) => String(p.id)},
    {header: 'date', cell: (p) => p.paidAt},
    {header: 'status', cell: (p) => (p.refundOf === null ? p.status : `${p.status} #${p.refundOf}`)},
    {header: 'amount', cell: (p) => p.amount},
    {header: 'period', cell: (p) => (p.periodStart ? p.periodStart.slice(0, 10) : '-')},
    {header: 'method', cell: (p) => p.method ?? ''},
    {header: 'reference', cell: (p) => p.reference ?? '', overflow: 'truncate'},
  ])
}

/** billing:payment and billing:refund: the row written, and the subscription after it. */
export function renderPaymentResult(c: ChalkInstance, result: PaymentResult): string {
  const safe = escapeControlDeep(result)
  const p = safe.payment
  const what = p.refundOf === null ? `${p.status} payment` : `refund of payment ${p.refundOf}`
  const period = p.periodStart ? ` for the period ${p.periodStart.slice(0, 10)} to ${p.periodEnd?.slice(0, 10)}` : ''
  return `recorded ${what} ${p.id}: ${p.amount}${period} (${safe.tenant.name})\n\n${renderRecord(safe.subscription, (s) => subscriptionLines(c, s))}`
}

/** billing:show: the subscription, the current period's balance, the periods, events and payments. */
export function renderBillingShow(c: ChalkInstance, shown: BillingShow): string {
  const safe = escapeControlDeep(shown)
  const title = `${c.bold(safe.tenant.name)} (#${safe.tenant.id})\n`
  if (safe.subscription === null) return `${title}no subscription: put the tenant on a plan with \`raiops billing:set\`\n`
  const s = safe.subscription
  const out = [title, renderRecord(s, (row) => [...subscriptionLines(c, row), ['balance', `${row.balance} due for the current period`]])]
  out.push(`\n${c.bold('Billing periods')} (past due ${shown.graceDays} days after an unpaid period ends)\n`)
  out.push(
    renderTable(safe.periods, [
      {header: 'start', cell: (p) => p.start.slice(0, 10)},
      {header: 'end', cell: (p) => p.end.slice(0, 10)},
      {header: 'plan', cell: (p) => p.planCode},
      {header: 'due', cell: (p) => formatMoney(p.dueMinor, p.currency)},
      {header: 'paid', cell: (p) => formatMoney(p.paidMinor, p.currency)},
      {header: 'refunded', cell: (p) => (p.refundedMinor === 0 ? '' : formatMoney(p.refundedMinor, p.currency))},
      {header: 'balance', cell: (p) => (p.overdue ? c.red(formatMoney(p.balanceMinor, p.currency)) : formatMoney(p.balanceMinor, p.currency))},
    ]),
  )
  out.push(`\n${c.bold('Events')} (in effective order)\n`)
  out.push(
    renderTable(safe.events, [
      {header: 'id', cell: (e) => String(e.id)},
      {header: 'effective', cell: (e) => e.effectiveAt},
      {header: 'type', cell: (e) => e.type},
      {header: 'changes', cell: (e) => changesText(e), overflow: 'truncate'},
      {header: 'by', cell: (e) => e.actor},
      {header: 'recorded', cell: (e) => (e.backdated ? c.yellow(`${e.recordedAt} (backdated)`) : e.recordedAt)},
      {header: 'reason', cell: (e) => e.reason ?? '', overflow: 'truncate'},
    ]),
  )
  out.push(`\n${c.bold('Payments')}\n`)
  out.push(safe.payments.length === 0 ? '  (none)\n' : paymentRows(safe.payments))
  return out.map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('')
}
