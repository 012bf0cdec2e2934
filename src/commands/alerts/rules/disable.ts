import {BaseCommand} from '../../../cli/base-command.js'
import {ruleNameArg} from '../../../cli/flags/alerts-rules.js'
import {ruleLine} from '../../../cli/reporters/alerts-rules.js'
import {setRuleEnabled} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesDisable extends BaseCommand<AlertRule> {
  static override summary = 'disable an alert rule: alerts:run stops evaluating it'
  static override description = 'Turns a rule off without deleting it (built-in rules cannot be deleted). Its alerts stay as they were last evaluated. Audited.'
  static override examples = ['<%= config.bin %> <%= command.id %> trials-ending', '<%= config.bin %> <%= command.id %> jobs-stuck --json']
  static override permission = 'alerts.manage-rules' as const
  static override args = {name: ruleNameArg}

  async run(): Promise<AlertRule> {
    const {args} = await this.parse(AlertsRulesDisable)
    const rule = await setRuleEnabled(await this.context(), {name: args.name, enabled: false})
    this.print(`alert rule ${ruleLine(rule)}\n`)
    return rule
  }
}
