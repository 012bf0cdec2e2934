import {BaseCommand} from '../../cli/base-command.js'
import {billingReportFlags, billingReportInput} from '../../cli/flags/billing-report.js'
import {renderJson} from '../../cli/output/render.js'
import {renderBillingReport, renderReportCsv, writeReportExports} from '../../cli/reporters/billing-report.js'
import {assertPermitted} from '../../lib/auth/identity.js'
import {billingReport, type BillingReport as BillingReportResult} from '../../lib/billing/report.js'

export default class BillingReport extends BaseCommand<BillingReportResult> {
  static override summary = 'revenue report: MRR, ARR and their movements per currency, per month or week, with the policies they follow'
  static override description = `Reads the billing ledger and computes, for each currency on its own and each period of --from (inclusive) to --to (exclusive): MRR at start and end, ARR, new, expansion, contraction, churn and reactivation (which add up exactly to the change), customers, logo churn, gross and net MRR churn, ARPA, MRR by plan and by RDS. The policies used (settings RAIOPS_BILLING_* or the flags) head every report and its JSON. --convert-to USD --rates FILE adds every currency converted at stated rates, what the rates change shown as FX impact, never as a movement. --format csv gives three exports: per tenant per period MRR, the roll-forward summary, the movement log (--output DIR writes all three; on stdout --export picks one); exports, and --format json (the same data typed), need reports.export.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --from 2026-01-01 --to 2027-01-01',
    '<%= config.bin %> <%= command.id %> --from 2026-11-02 --to 2026-12-28 --by week --currency EUR',
    '<%= config.bin %> <%= command.id %> --from 2026-01-01 --to 2027-01-01 --convert-to USD --rates rates.json',
    '<%= config.bin %> <%= command.id %> --from 2026-01-01 --to 2027-01-01 --format csv --output reports/2026',
    '<%= config.bin %> <%= command.id %> --from 2026-01-01 --to 2027-01-01 --format csv --export movements --churn-at cancellation',
  ]

  static override permission = 'reports.view' as const
  static override flagPermissions = {output: 'reports.export', export: 'reports.export'} as const
  static override flags = billingReportFlags

  async run(): Promise<BillingReportResult> {
    const {flags} = await this.parse(BillingReport)
    // JSON carries what the CSV exports do (per tenant MRR, the movement log): both are exports.
    const exported = flags.format === 'csv' || flags.format === 'json' || this.jsonEnabled()
    if (exported) assertPermitted(await this.runtime.identity(), 'reports.export', `${this.id} --format ${this.jsonEnabled() ? 'json' : flags.format}`)
    const input = {...billingReportInput(flags, this.runtime.config), detail: exported}
    const result = await billingReport(await this.context(), input)
    if (flags.format === 'csv' && flags.output !== undefined) this.note(`wrote ${writeReportExports(flags.output, result).join(', ')}`)
    else if (flags.format === 'csv') this.print(renderReportCsv(result, flags.export ?? 'summary'))
    else if (flags.format === 'json') this.print(renderJson(result))
    else this.print(renderBillingReport(this.color, result, this.tableLayout(flags)))
    return result
  }
}
