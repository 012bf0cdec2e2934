import {Flags} from '@oclif/core'

import {BaseCommand, listFlags} from '../../../cli/base-command.js'
import {ruleColumns} from '../../../cli/reporters/alerts-rules.js'
import {listRules} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesList extends BaseCommand<AlertRule[]> {
  static override summary = 'list the alert rules: kind, parameters, for, severity, enabled'
  static override description =
    'Shows every alert rule alerts:run evaluates (the built-in ones raiops seeds, and those operators created), by name. alerts:rules:show NAME shows one in full.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --enabled',
    '<%= config.bin %> <%= command.id %> --format csv --output rules.csv',
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override permission = 'alerts.view' as const
  static override flags = {
    ...listFlags,
    enabled: Flags.boolean({description: 'only enabled rules (--no-enabled: only disabled ones)', allowNo: true}),
  }

  async run(): Promise<AlertRule[]> {
    const {flags} = await this.parse(AlertsRulesList)
    const rules = await listRules(await this.context(), {enabled: flags.enabled})
    this.renderList(rules, ruleColumns, flags)
    return rules
  }
}
