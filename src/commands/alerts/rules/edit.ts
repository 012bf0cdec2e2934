import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {ruleChanges, ruleFlags, ruleNameArg} from '../../../cli/flags/alerts-rules.js'
import {ruleLine} from '../../../cli/reporters/alerts-rules.js'
import {editRule} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesEdit extends BaseCommand<AlertRule> {
  static override summary = 'change an alert rule: only what is given changes'
  static override description =
    "Changes a rule, built-in ones included (seeding never overwrites an edit). --param and --label are merged into what the rule has (key= removes one); another --kind drops the old kind's parameters. Checked whole before anything is written (exit 2); audited with the values before and after."
  static override examples = [
    '<%= config.bin %> <%= command.id %> sync-routing-stale --param maxAge=1h',
    '<%= config.bin %> <%= command.id %> rds-down --for 2m --label team=dba',
    '<%= config.bin %> <%= command.id %> trials-ending --severity warning --description "call them before the first bill"',
  ]
  static override permission = 'alerts.manage-rules' as const
  static override args = {name: ruleNameArg}
  static override flags = {
    kind: Flags.string({description: 'another kind (see alerts:rules:kinds); its parameters start from their defaults'}),
    ...ruleFlags,
  }

  async run(): Promise<AlertRule> {
    const {args, flags} = await this.parse(AlertsRulesEdit)
    const rule = await editRule(await this.context(), {name: args.name, kind: flags.kind, ...ruleChanges(flags)})
    this.print(`alert rule ${ruleLine(rule)}\n`)
    return rule
  }
}
