import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {planCreateFlags} from '../../cli/flags/plan.js'
import {renderPlanCreated} from '../../cli/reporters/plan.js'
import {createPlan} from '../../lib/billing/plan-changes.js'
import type {PlanVersionView} from '../../lib/billing/plans.js'

export default class PlanCreate extends BaseCommand<PlanVersionView> {
  static override summary = 'create a subscription plan'
  static override description =
    'Creates version 1 of a plan: a code (a lowercase slug), a name, an ISO 4217 currency, a billing interval and a base price per term, written as a decimal in the currency (49.00 USD, 4900 JPY, 12.500 KWD) and stored exactly in minor units. A plan may also price per location or per user beyond some included units, give trial days and list features. A free plan (price 0) is allowed.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> starter --name Starter --currency USD --interval month --price 49.00 --unit location --unit-price 10.00 --included-units 1 --trial-days 14 --feature pos --feature reports',
    '<%= config.bin %> <%= command.id %> pro-yearly --name "Pro yearly" --currency EUR --interval year --price 490.00',
  ]
  static override permission = 'billing.edit' as const
  static override args = {code: Args.string({description: 'the plan code: lower case, digits, - or _ (pro-yearly)', required: true})}
  static override flags = {...planCreateFlags}

  async run(): Promise<PlanVersionView> {
    const {args, flags} = await this.parse(PlanCreate)
    const plan = await createPlan(await this.context(), {
      code: args.code,
      name: flags.name,
      currency: flags.currency,
      interval: flags.interval,
      price: flags.price,
      unit: flags.unit,
      unitPrice: flags['unit-price'],
      includedUnits: flags['included-units'],
      trialDays: flags['trial-days'],
      features: flags.feature,
    })
    this.print(renderPlanCreated(plan))
    return plan
  }
}
