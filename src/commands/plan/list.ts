import {Flags} from '@oclif/core'

import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {planColumns} from '../../cli/reporters/plan.js'
import {listPlans, type PlanListRow} from '../../lib/billing/plans.js'

export default class PlanList extends BaseCommand<PlanListRow[]> {
  static override summary = 'list subscription plans'
  static override description =
    'Shows each plan as the version in effect now: its price per term and per month (the base price divided by the months of the term, rounded half away from zero to a minor unit), currency, interval, unit pricing, trial days, version, and the next version when one is scheduled. Archived plans only with --all. Amounts are decimals in each plan’s own currency; --json gives them in minor units too.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all --format csv --output plans.csv']
  static override permission = 'billing.view' as const
  static override flags = {...listFlags, all: Flags.boolean({description: 'archived plans too'})}

  async run(): Promise<PlanListRow[]> {
    const {flags} = await this.parse(PlanList)
    const ctx = await this.context()
    const rows = await listPlans(ctx, {all: flags.all})
    this.renderList(rows, planColumns(this.color), flags, ctx.now())
    return rows
  }
}
