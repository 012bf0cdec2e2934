import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderPlanArchive} from '../../cli/reporters/plan.js'
import {setPlanArchived, type PlanArchiveResult} from '../../lib/billing/plan-changes.js'

export default class PlanArchive extends BaseCommand<PlanArchiveResult> {
  static override summary = 'archive a plan: no new subscription can use it'
  static override description =
    'Archives every version of the plan. Plans are never deleted: subscriptions on it keep it, reports still name it, and plan:unarchive brings it back. Archiving an archived plan changes nothing and says so. plan:list shows archived plans with --all.'
  static override examples = ['<%= config.bin %> <%= command.id %> starter-2025']
  static override permission = 'billing.edit' as const
  static override args = {code: Args.string({description: 'the plan code', required: true})}

  async run(): Promise<PlanArchiveResult> {
    const {args} = await this.parse(PlanArchive)
    const result = await setPlanArchived(await this.context(), {code: args.code, archived: true})
    this.print(renderPlanArchive(result))
    return result
  }
}
