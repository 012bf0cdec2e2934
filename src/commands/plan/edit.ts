import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {planEditFlags} from '../../cli/flags/plan.js'
import {renderPlanEdit} from '../../cli/reporters/plan.js'
import {editPlan, type PlanEditResult} from '../../lib/billing/plan-changes.js'

export default class PlanEdit extends BaseCommand<PlanEditResult> {
  static override summary = 'change a plan: in place, or as a new version from a date'
  static override description =
    'The name, trial days and features change in place, at once, on the version in effect and any scheduled after it. A change of price, unit price, included units, unit, interval or currency makes a new version of the plan, applying from --effective (default now; not before the latest version applies): existing subscriptions keep the version they are on until they are changed. Every change is audited with its old and new values; --dry-run shows them and writes nothing.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> starter --name "Starter" --feature pos --feature loyalty',
    '<%= config.bin %> <%= command.id %> starter --price 59.00 --effective 2027-01-01 --dry-run',
    '<%= config.bin %> <%= command.id %> starter --currency EUR --price 55.00 --unit-price 9.00',
  ]
  static override permission = 'billing.edit' as const
  static override args = {code: Args.string({description: 'the plan code', required: true})}
  static override flags = {...planEditFlags}

  async run(): Promise<PlanEditResult> {
    const {args, flags} = await this.parse(PlanEdit)
    const result = await editPlan(await this.context(), {
      code: args.code,
      name: flags.name,
      trialDays: flags['trial-days'],
      features: flags['clear-features'] ? [] : flags.feature,
      currency: flags.currency,
      interval: flags.interval,
      price: flags.price,
      unit: flags.unit,
      unitPrice: flags['unit-price'],
      includedUnits: flags['included-units'],
      effective: flags.effective,
      dryRun: flags['dry-run'],
    })
    this.print(renderPlanEdit(this.color, result))
    return result
  }
}
