import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {billingExplainInput, policyFlags, rangeFlags} from '../../cli/flags/billing-report.js'
import {renderBillingExplain} from '../../cli/reporters/billing-report.js'
import {billingExplain, type BillingExplanation} from '../../lib/billing/report.js'
import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'

export default class BillingExplain extends BaseCommand<BillingExplanation> {
  static override summary = 'every MRR movement of one tenant, the billing event behind it and the arithmetic'
  static override description = `Reads the tenant's billing ledger and shows each event (what it set, the monthly value it computes to: term / months, less a permanent discount) and each movement it caused (new, expansion, contraction, churn, reactivation, with MRR before and after), under the same policies as billing:report (RAIOPS_BILLING_* or the flags). --from/--to keep the events and movements of a range; MRR before it still counts.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> "Harbor Bakery"',
    '<%= config.bin %> <%= command.id %> main:17 --from 2026-01-01 --to 2026-07-01',
    '<%= config.bin %> <%= command.id %> 42 --churn-at cancellation --json',
  ]

  static override permission = 'billing.view' as const
  static override args = {tenant: Args.string({required: true, description: `the tenant: ${TENANT_REF_HELP}`})}
  static override flags = {...rangeFlags, ...policyFlags}

  async run(): Promise<BillingExplanation> {
    const {args, flags} = await this.parse(BillingExplain)
    const result = await billingExplain(await this.context(), billingExplainInput(args.tenant, flags, this.runtime.config))
    this.print(renderBillingExplain(this.color, result, this.tableLayout({})))
    return result
  }
}
