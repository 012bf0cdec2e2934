import {BaseCommand} from '../../../cli/base-command.js'
import {ruleNameArg} from '../../../cli/flags/alerts-rules.js'
import {ruleLine} from '../../../cli/reporters/alerts-rules.js'
import {setRuleEnabled} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesEnable extends BaseCommand<AlertRule> {
  static override summary = 'enable an alert rule: alerts:run evaluates it again from its next run'
  static override description =
    'Turns a disabled rule back on. Its alerts continue from their stored states (a gap longer than twice the interval makes them unknown, never resolved). Audited.'
  static override examples = ['<%= config.bin %> <%= command.id %> trials-ending', '<%= config.bin %> <%= command.id %> jobs-stuck --json']
  static override permission = 'alerts.manage-rules' as const
  static override args = {name: ruleNameArg}

  async run(): Promise<AlertRule> {
    const {args} = await this.parse(AlertsRulesEnable)
    const rule = await setRuleEnabled(await this.context(), {name: args.name, enabled: true})
    this.print(`alert rule ${ruleLine(rule)}\n`)
    return rule
  }
}
