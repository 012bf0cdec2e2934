import {Flags} from '@oclif/core'

import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {billingAlertColumns, billingAlertsHeader} from '../../cli/reporters/billing-alerts.js'
import {billingAlerts, type BillingAlertsResult} from '../../lib/billing/alerts.js'
import {ExitCode} from '../../lib/errors/index.js'

export default class BillingAlerts extends BaseCommand<BillingAlertsResult> {
  static override summary = 'billing alerts: overdue periods, failed payments, large contractions, trials ending'
  static override description = `The billing alerts now, worst first, each with its tenant, since when, the amount and what to do: periods that ended unpaid more than RAIOPS_BILLING_GRACE_DAYS (default 7) ago (the subscription is past due), failed payments within --since not followed by a succeeded one, contractions and churn within --since of at least --min-contraction percent of the tenant's MRR before, and trials ending within --trial-days. Reads the ledger; writes nothing.

Exit codes: 4 when there is an alert, 0 when there is none (for cron), 2 on bad input.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --trial-days 14 --since 7d --min-contraction 30',
    '<%= config.bin %> <%= command.id %> --format csv --output billing-alerts.csv',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static override permission = 'billing.view' as const
  static override flags = {
    ...listFlags,
    format: Flags.option({options: ['table', 'json', 'csv'] as const, default: 'table' as const, description: 'output format', char: 'f'})(),
    'trial-days': Flags.integer({description: 'trials ending within this many days', default: 7}),
    since: Flags.string({description: 'failed payments and contractions from this time on: ISO date or time, or a duration back (30d)', default: '30d'}),
    'min-contraction': Flags.integer({description: 'a contraction or churn of at least this percent of the MRR before it', default: 20}),
  }

  async run(): Promise<BillingAlertsResult> {
    const {flags} = await this.parse(BillingAlerts)
    const ctx = await this.context()
    const input = {trialDays: flags['trial-days'], since: flags.since, minContractionPercent: flags['min-contraction']}
    const result = await billingAlerts(ctx, {...input, graceDays: this.runtime.config.billingGraceDays})
    if (flags.format === 'table') this.note(billingAlertsHeader(result))
    this.renderList(result.alerts, billingAlertColumns(this.color), flags, ctx.now())
    this.exitWith(result.alerts.length > 0 ? ExitCode.unhealthy : ExitCode.ok)
    return result
  }
}
