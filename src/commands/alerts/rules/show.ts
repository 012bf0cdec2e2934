import {BaseCommand} from '../../../cli/base-command.js'
import {ruleNameArg} from '../../../cli/flags/alerts-rules.js'
import {renderRule} from '../../../cli/reporters/alerts-rules.js'
import {showRule} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesShow extends BaseCommand<AlertRule> {
  static override summary = 'show an alert rule in full'
  static override description =
    'Shows a rule: its kind and parameters, for and keep-firing-for, severity, labels, NoData and Error policies, and who created it.'
  static override examples = ['<%= config.bin %> <%= command.id %> rds-down', '<%= config.bin %> <%= command.id %> sync-routing-stale --json']
  static override permission = 'alerts.view' as const
  static override args = {name: ruleNameArg}

  async run(): Promise<AlertRule> {
    const {args} = await this.parse(AlertsRulesShow)
    const rule = await showRule(await this.context(), {name: args.name})
    this.print(renderRule(rule))
    return rule
  }
}
