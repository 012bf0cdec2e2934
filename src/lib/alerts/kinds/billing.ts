import {z} from 'zod'

import {billingAlertsOf, loadLedgers, type BillingAlert, type LoadedLedgers} from '../../billing/alerts.js'
import {formatAmount} from '../../billing/money.js'
import {DEFAULT_BILLING_GRACE_DAYS} from '../../billing/timelines.js'
import {defineRuleKind, type ActiveSample, type EvaluationContext, type EvaluationTime} from '../kind.js'
import {describeAge, durationMs, durationParam, wholeParam} from './params.js'

const DAY_MS = 86_400_000

/** billing:alerts at the evaluation time: the same ledger read and the same arithmetic, so the numbers agree. */
async function alertsAt(ctx: EvaluationContext, at: EvaluationTime, input: {graceDays?: number; trialDays?: number}) {
  const graceDays = input.graceDays ?? ctx.billingGraceDays ?? DEFAULT_BILLING_GRACE_DAYS
  // The billing rules of one run read the ledgers once between them (at.shared), when their grace days agree.
  const key = `billing-ledgers:${graceDays}`
  let loaded = at.shared?.get(key) as Promise<LoadedLedgers> | undefined
  if (loaded === undefined) {
    loaded = loadLedgers(ctx.db, at.now.getTime(), graceDays)
    at.shared?.set(key, loaded)
    // A failed read is not kept: the next rule reads again.
    loaded.catch(() => at.shared?.delete(key))
  }
  return billingAlertsOf(await loaded, {graceDays, trialDays: input.trialDays}, at.now)
}

export const billingOverdue = defineRuleKind({
  kind: 'billing_overdue',
  description: 'a tenant with a billing period unpaid past the grace days (billing:alerts overdue), one alert per tenant and currency',
  labelNames: ['tenant', 'currency'],
  params: z
    .object({graceDays: wholeParam('graceDays', 0, 36_500, 'days after an unpaid period ends before it is overdue (default: RAIOPS_BILLING_GRACE_DAYS, 7)')})
    .strict(),
  async evaluate(ctx, params, at) {
    const result = await alertsAt(ctx, at, {graceDays: params.graceDays})
    // One instance per tenant and currency: its unpaid periods summed, since the oldest.
    const groups = new Map<string, BillingAlert[]>()
    for (const alert of result.alerts) {
      if (alert.kind !== 'overdue') continue
      const key = JSON.stringify([alert.tenantName, alert.currency])
      groups.set(key, [...(groups.get(key) ?? []), alert])
    }
    const active: ActiveSample[] = []
    for (const alerts of groups.values()) {
      const [first] = alerts
      const amount = formatAmount(
        alerts.reduce((sum, a) => sum + a.amountMinor, 0),
        first.currency,
      )
      const oldest = alerts.map((a) => a.at).sort()[0]
      active.push({
        labels: {tenant: first.tenantName, currency: first.currency},
        summary: `${first.tenantName}: ${amount} ${first.currency} unpaid in ${alerts.length} period(s), past due since ${oldest} (${describeAge(at.now.getTime() - Date.parse(oldest))})`,
        value: Number(amount),
      })
    }
    return {noData: false, active}
  },
})

export const trialEnding = defineRuleKind({
  kind: 'trial_ending',
  description: 'a tenant whose trial ends within the given time (billing:alerts trial-ending)',
  labelNames: ['tenant'],
  params: z.object({within: durationParam('within', '7d', 'how soon the trial ends')}).strict(),
  async evaluate(ctx, params, at) {
    const withinMs = durationMs(params.within, 'within')
    const now = at.now.getTime()
    // billing:alerts counts whole days: ask for enough of them, then keep those within the duration.
    const result = await alertsAt(ctx, at, {trialDays: Math.min(36_500, Math.ceil(withinMs / DAY_MS))})
    const active: ActiveSample[] = []
    for (const alert of result.alerts) {
      if (alert.kind !== 'trial-ending' || Date.parse(alert.at) - now > withinMs) continue
      active.push({labels: {tenant: alert.tenantName}, summary: `${alert.tenantName}: ${alert.detail} (${alert.at})`, value: Number(alert.amount)})
    }
    return {noData: false, active}
  },
})
