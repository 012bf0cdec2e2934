import {Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {ruleChanges, ruleFlags} from '../../../cli/flags/alerts-rules.js'
import {ruleLine} from '../../../cli/reporters/alerts-rules.js'
import {createRule} from '../../../lib/alerts/rules.js'
import type {AlertRule} from '../../../lib/alerts/types.js'

export default class AlertsRulesCreate extends BaseCommand<AlertRule> {
  static override summary = 'create an alert rule of a kind, with its parameters, for, severity and labels'
  static override description =
    'Adds a rule that alerts:run evaluates from its next run. The kind decides what is watched (alerts:rules:kinds lists the kinds and their parameters); --for is how long the condition must hold before the alert fires. Everything is checked before anything is written (exit 2); the change is audited.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --name ghosts-stale --kind sync_stale --param sync=ghost-users --param maxAge=1d --severity info',
    '<%= config.bin %> <%= command.id %> --name rds-down-fast --kind rds_down --for 1m --severity critical --label team=dba --description "page the DBA at once"',
    '<%= config.bin %> <%= command.id %> --name jobs-stuck-long --kind jobs_stuck --param after=2h --keep-firing-for 10m --disabled',
  ]
  static override permission = 'alerts.manage-rules' as const
  static override flags = {
    name: Flags.string({description: 'the rule name: letters, digits, -, _ and . (the alertname label of its alerts)', required: true}),
    kind: Flags.string({description: 'what it watches (see alerts:rules:kinds)', required: true}),
    ...ruleFlags,
    disabled: Flags.boolean({description: 'create it disabled (alerts:rules:enable turns it on)'}),
  }

  async run(): Promise<AlertRule> {
    const {flags} = await this.parse(AlertsRulesCreate)
    const ctx = await this.context()
    const rule = await createRule(ctx, {name: flags.name, kind: flags.kind, ...ruleChanges(flags), enabled: !flags.disabled})
    this.print(`created alert rule ${ruleLine(rule)}\n`)
    return rule
  }
}
