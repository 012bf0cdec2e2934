import {Args, Flags} from '@oclif/core'

import {PAYMENT_STATUSES} from '../../lib/db/tables.js'
import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'
import {parseTimeFlag} from '../../lib/time/parse-time.js'

/** A date flag: an ISO date or time, or a duration back from now. */
export const dateFlag = (name: string, description: string, required = false) =>
  Flags.custom<Date>({description, parse: async (input) => parseTimeFlag(input, `--${name}`)})({required})

/** The tenant argument of every billing command. */
export const tenantArg = {tenant: Args.string({description: `the tenant: ${TENANT_REF_HELP}`, required: true})}

/** What billing:cancel, billing:pause and billing:resume take. */
export const statusChangeFlags = (reasonRequired: boolean) => ({
  effective: dateFlag(
    'effective',
    'when it takes effect: a date or time (default now), at most 5 years ahead; a past date is a backdated change, audited as such',
  ),
  reason: Flags.string({description: 'why: kept with the event and in the audit trail', required: reasonRequired}),
})

/** The service input of billing:cancel, billing:pause and billing:resume, from their argument and flags. */
export const statusChangeInput = (tenant: string, flags: {effective?: Date; reason?: string}, config: {billingGraceDays: number}) => ({
  tenant,
  effective: flags.effective,
  reason: flags.reason,
  graceDays: config.billingGraceDays,
})

export const setFlags = {
  plan: Flags.string({description: 'the plan code (see plan:list)', required: true}),
  'plan-version': Flags.integer({description: 'this version of the plan (default: the one in effect at the effective date)', min: 1}),
  quantity: Flags.integer({description: 'units priced (locations or users, as the plan prices)', min: 0, exclusive: ['quantity-from']}),
  'quantity-from': Flags.option({options: ['locations', 'users'] as const, description: "price the tenant's locations or users, as counted now"})(),
  discount: Flags.string({description: 'off each term: a percentage (10%, 12.5%), an amount in the plan currency (5.00), or none'}),
  'discount-until': dateFlag('discount-until', 'when the discount ends (default: permanent)'),
  'trial-until': dateFlag('trial-until', 'trialing until then: nothing is billed and MRR counts 0'),
  'force-currency': Flags.boolean({description: "allow a plan in another currency than the tenant's payments"}),
  ...statusChangeFlags(true),
}

/** The subscription terms `setFlags` give, as billing:set and tenant:create --plan pass them on. */
export const subscriptionTerms = (flags: {
  'plan-version'?: number
  quantity?: number
  'quantity-from'?: 'locations' | 'users'
  discount?: string
  'discount-until'?: Date
  'trial-until'?: Date
  'force-currency'?: boolean
}) => ({
  planVersion: flags['plan-version'],
  quantity: flags.quantity,
  quantityFrom: flags['quantity-from'],
  discount: flags.discount,
  discountUntil: flags['discount-until'],
  trialUntil: flags['trial-until'],
  forceCurrency: flags['force-currency'] || undefined,
})

export const paymentFlags = {
  amount: Flags.string({description: 'a decimal in the currency (49.00 USD, 4900 JPY)', required: true}),
  currency: Flags.string({description: "ISO 4217 code: the subscription's currency", required: true}),
  method: Flags.string({description: 'how it was paid: card, transfer…', required: true}),
  reference: Flags.string({description: "the processor's or bank's reference", required: true}),
  status: Flags.option({options: PAYMENT_STATUSES, description: 'what happened to it', required: true})(),
  date: dateFlag('date', 'when it was paid (or failed): at most 5 years ahead', true),
  period: dateFlag('period', 'the day the billing period it pays starts, YYYY-MM-DD (default: the oldest unpaid one in the payment’s currency)'),
}
