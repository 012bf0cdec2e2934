import {BaseCommand} from '../../../cli/base-command.js'
import {ruleNameArg} from '../../../cli/flags/alerts-rules.js'
import {ruleLine} from '../../../cli/reporters/alerts-rules.js'
import {deleteRule} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesDelete extends BaseCommand<AlertRule> {
  static override summary = 'delete an alert rule an operator created, with its alerts and their history'
  static override description =
    'Removes a rule that is not built-in (a built-in rule can only be disabled: alerts:rules:disable), its alerts and their transitions. Notifications already sent stay in the outbox. Audited with what the rule was.'
  static override examples = ['<%= config.bin %> <%= command.id %> ghosts-stale', '<%= config.bin %> <%= command.id %> rds-down-fast --json']
  static override permission = 'alerts.manage-rules' as const
  static override args = {name: ruleNameArg}

  async run(): Promise<AlertRule> {
    const {args} = await this.parse(AlertsRulesDelete)
    const rule = await deleteRule(await this.context(), {name: args.name})
    this.print(`deleted alert rule ${ruleLine(rule)}\n`)
    return rule
  }
}
