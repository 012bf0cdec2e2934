import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {dateFlag} from '../../cli/flags/billing.js'
import {renderPaymentResult} from '../../cli/reporters/billing.js'
import {refundPayment, type PaymentResult} from '../../lib/billing/payments.js'

export default class BillingRefund extends BaseCommand<PaymentResult> {
  static override summary = 'refund some or all of a payment'
  static override description =
    'Records a refund as its own payment row (status refunded) pointing at the succeeded payment it returns money of: all of what is left of it, or --amount in its currency. Refunds never change MRR and leave the period paid; billing:show counts them in the period’s balance.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> 812 --reason "charged twice"',
    '<%= config.bin %> <%= command.id %> 812 --amount 10.00 --reason "goodwill for the outage"',
  ]
  static override permission = 'billing.edit' as const
  static override args = {payment: Args.string({description: 'the payment id (billing:show lists them)', required: true})}
  static override flags = {
    amount: Flags.string({description: "how much, a decimal in the payment's currency (default: what is left of it)"}),
    reason: Flags.string({description: 'why: kept with the refund and in the audit trail', required: true}),
    date: dateFlag('date', 'when the money was returned (default now): not before the payment, at most 5 years ahead'),
  }

  async run(): Promise<PaymentResult> {
    const {args, flags} = await this.parse(BillingRefund)
    const result = await refundPayment(await this.context(), {
      paymentId: args.payment,
      amount: flags.amount,
      reason: flags.reason,
      date: flags.date,
      graceDays: this.runtime.config.billingGraceDays,
    })
    this.print(renderPaymentResult(this.color, result))
    return result
  }
}
