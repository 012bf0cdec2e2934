import {Flags} from '@oclif/core'

import {PLAN_INTERVAL_NAMES, PLAN_UNITS} from '../../lib/billing/plans.js'
import {parseTimeFlag} from '../../lib/time/parse-time.js'

const priceText = (what: string) => `${what}, a decimal in the currency (49.00 USD, 4900 JPY, 12.500 KWD)`
const NAME = 'the name people see'
const CURRENCY = 'ISO 4217 code (USD, EUR, JPY…)'
const PRICE = priceText('the base price per term')

/** What plan:create and plan:edit both take. */
const planFields = {
  name: Flags.string({description: NAME}),
  currency: Flags.string({description: CURRENCY}),
  interval: Flags.option({options: PLAN_INTERVAL_NAMES, description: 'the billing term'})(),
  price: Flags.string({description: PRICE}),
  'unit-price': Flags.string({description: priceText('the price per unit per term, beyond the included units')}),
  'included-units': Flags.integer({description: 'units the base price includes (with --unit)', min: 0}),
  'trial-days': Flags.integer({description: 'days of free trial a new subscription starts with', min: 0}),
  feature: Flags.string({description: 'a feature the plan includes (repeat it for several)', multiple: true}),
}

/** plan:create's flags. */
export const planCreateFlags = {
  ...planFields,
  name: Flags.string({description: NAME, required: true}),
  currency: Flags.string({description: CURRENCY, required: true}),
  interval: Flags.option({options: PLAN_INTERVAL_NAMES, description: 'the billing term', required: true})(),
  price: Flags.string({description: PRICE, required: true}),
  unit: Flags.option({options: PLAN_UNITS, description: 'price per unit of the tenant too: its locations or its users'})(),
}

/** plan:edit's flags. */
export const planEditFlags = {
  ...planFields,
  unit: Flags.option({options: [...PLAN_UNITS, 'none'] as const, description: 'price per location or user, or none (no unit pricing any more)'})(),
  'clear-features': Flags.boolean({description: 'the plan lists no features (replaces --feature)', exclusive: ['feature']}),
  effective: Flags.custom<Date>({
    description: 'when a new version (a change of price, interval, unit pricing or currency) applies from: a date or time (default now)',
    parse: async (input) => parseTimeFlag(input, '--effective'),
  })(),
  'dry-run': Flags.boolean({description: 'show what would change, and change nothing'}),
}
