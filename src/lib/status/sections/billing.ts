import {billingOverview, type BillingAlertKind} from '../../billing/alerts.js'
import {neverRun, type SectionReport, type SectionState, type StatusContext, type StatusSection} from '../types.js'

/** How each kind of alert weighs on the section: money owed or not collected warns; the rest is shown. */
const ALERT_STATE: Record<BillingAlertKind, SectionState> = {overdue: 'warn', 'failed-payment': 'warn', contraction: 'ok', 'trial-ending': 'ok'}

const KIND_LABEL: Record<BillingAlertKind, string> = {
  overdue: 'overdue periods',
  'failed-payment': 'failed payments',
  contraction: 'large contractions',
  'trial-ending': 'trials ending',
}

/**
 * Billing: subscriptions by status, MRR now per currency, and the billing
 * alerts by kind (worst first, as `billing:alerts` lists them with its
 * defaults). Warn while a period is overdue or a payment failed.
 */
export const billingSection: StatusSection = {
  key: 'billing',
  title: 'Billing',
  permission: 'billing.view',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const overview = await billingOverview(ctx, {graceDays: ctx.billingGraceDays})
    const data = {...overview}
    if (overview.subscriptions === 0) return {...neverRun('no subscription yet (raiops billing:set TENANT --plan CODE)'), data}
    const kinds = (Object.keys(overview.alerts) as BillingAlertKind[]).filter((k) => overview.alerts[k] > 0)
    const state: SectionState = kinds.some((k) => ALERT_STATE[k] === 'warn') ? 'warn' : 'ok'
    const statuses = Object.entries(overview.byStatus)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s.replace('_', ' ')}`)
    const alertCount = kinds.reduce((sum, k) => sum + overview.alerts[k], 0)
    return {
      state,
      summary: `${overview.subscriptions} subscription(s): ${statuses.join(', ')}`,
      facts: [
        ...overview.mrr.map((m) => ({label: `MRR ${m.currency}`, value: `${m.mrr} (${m.customers} paying)`})),
        {
          label: 'alerts',
          value: alertCount === 0 ? 'none' : `${kinds.map((k) => `${overview.alerts[k]} ${KIND_LABEL[k]}`).join(', ')} — run \`raiops billing:alerts\``,
          tone: state,
        },
      ],
      data,
    }
  },
}
