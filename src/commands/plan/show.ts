import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderPlanShow} from '../../cli/reporters/plan.js'
import {showPlan, type PlanShow} from '../../lib/billing/plans.js'

export default class PlanShowCommand extends BaseCommand<PlanShow> {
  static override summary = 'show a plan: its versions and who changed it'
  static override description =
    'Shows the version of the plan in effect now (or the one given with --version), every version with the date its prices apply from, and the plan’s history from the audit trail: who created it, edited it, made a new version, archived it, with the old and new values.'
  static override examples = ['<%= config.bin %> <%= command.id %> starter', '<%= config.bin %> <%= command.id %> starter --version 1 --json']
  static override permission = 'billing.view' as const
  static override args = {code: Args.string({description: 'the plan code', required: true})}
  static override flags = {version: Flags.integer({description: 'this version rather than the one in effect now', min: 1})}

  async run(): Promise<PlanShow> {
    const {args, flags} = await this.parse(PlanShowCommand)
    const shown = await showPlan(await this.context(), {code: args.code, version: flags.version})
    this.print(renderPlanShow(this.color, shown))
    return shown
  }
}
