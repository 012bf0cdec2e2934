import {BaseCommand} from '../../../cli/base-command.js'
import {renderKinds} from '../../../cli/reporters/alerts-rules.js'
import {listRuleKinds, type RuleKindView} from '../../../lib/alerts/rules.js'

export default class AlertsRulesKinds extends BaseCommand<RuleKindView[]> {
  static override summary = 'list the kinds of alert rule, with their parameters and defaults'
  static override description =
    'What each kind watches, the labels its alerts carry, and the parameters alerts:rules:create and alerts:rules:edit take for it (--param key=value), with their defaults.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override permission = 'alerts.view' as const

  async run(): Promise<RuleKindView[]> {
    await this.parse(AlertsRulesKinds)
    const kinds = listRuleKinds()
    this.print(renderKinds(kinds))
    return kinds
  }
}
