import {BaseCommand} from '../../cli/base-command.js'
import {paymentFlags, tenantArg} from '../../cli/flags/billing.js'
import {renderPaymentResult} from '../../cli/reporters/billing.js'
import {recordPayment, type PaymentResult} from '../../lib/billing/payments.js'

export default class BillingPayment extends BaseCommand<PaymentResult> {
  static override summary = 'record a payment, a failed attempt or a refund for a billing period'
  static override description =
    "Records a payment against one billing period of the tenant's subscription: the one starting on --period, by default the oldest unpaid one (or the next when all are paid). The amount is a decimal in the subscription's currency, stored in minor units. A period is paid once its succeeded payments reach what it costs; a failed payment pays nothing. Recording a payment never changes MRR."
  static override examples = [
    '<%= config.bin %> <%= command.id %> "Harbor Bakery" --amount 79.00 --currency USD --method card --reference ch_3Nx --status succeeded --date 2026-12-02',
    '<%= config.bin %> <%= command.id %> main:17 --amount 79.00 --currency USD --method card --reference ch_3Ny --status failed --date 2026-12-02 --period 2026-11-01',
  ]
  static override permission = 'billing.edit' as const
  static override args = {...tenantArg}
  static override flags = {...paymentFlags}

  async run(): Promise<PaymentResult> {
    const {args, flags} = await this.parse(BillingPayment)
    const result = await recordPayment(await this.context(), {
      tenant: args.tenant,
      amount: flags.amount,
      currency: flags.currency,
      method: flags.method,
      reference: flags.reference,
      status: flags.status,
      date: flags.date as Date,
      period: flags.period,
      graceDays: this.runtime.config.billingGraceDays,
    })
    this.print(renderPaymentResult(this.color, result))
    return result
  }
}
