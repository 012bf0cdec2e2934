import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {alertArg} from '../../cli/flags/alerts-ops.js'
import {ackLine} from '../../cli/reporters/alerts-ops.js'
import {ackAlert, parseAlertId} from '../../lib/alerts/ack.js'
import type {AlertListItem} from '../../lib/alerts/query.js'

export default class AlertsAck extends BaseCommand<AlertListItem> {
  static override summary = 'acknowledge an alert: someone is on it'
  static override description = `Records who acknowledged a pending, firing or unknown alert and when (alerts:list shows it); its repeat notifications stop, its changes are still notified. An alert resolved or inactive is exit 2. Audited, with the comment.`

  static override examples = ['<%= config.bin %> <%= command.id %> 12', '<%= config.bin %> <%= command.id %> 12 --comment "restarting eu-2"']

  static override permission = 'alerts.silence' as const
  static override args = {id: alertArg}
  static override flags = {comment: Flags.string({description: 'what is being done (one line, audited)'})}

  async run(): Promise<AlertListItem> {
    const {args, flags} = await this.parse(AlertsAck)
    const ctx = await this.context()
    const alert = await ackAlert(ctx, {id: parseAlertId(args.id), comment: flags.comment})
    this.print(ackLine(alert))
    return alert
  }
}
