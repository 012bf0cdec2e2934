import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderPlanArchive} from '../../cli/reporters/plan.js'
import {setPlanArchived, type PlanArchiveResult} from '../../lib/billing/plan-changes.js'

export default class PlanUnarchive extends BaseCommand<PlanArchiveResult> {
  static override summary = 'bring an archived plan back into use'
  static override description =
    'Clears the archive of every version of the plan, so that new subscriptions may use it again. A plan in use already changes nothing.'
  static override examples = ['<%= config.bin %> <%= command.id %> starter-2025']
  static override permission = 'billing.edit' as const
  static override args = {code: Args.string({description: 'the plan code', required: true})}

  async run(): Promise<PlanArchiveResult> {
    const {args} = await this.parse(PlanUnarchive)
    const result = await setPlanArchived(await this.context(), {code: args.code, archived: false})
    this.print(renderPlanArchive(result))
    return result
  }
}
