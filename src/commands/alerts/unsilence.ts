import {BaseCommand} from '../../cli/base-command.js'
import {silenceArg} from '../../cli/flags/alerts-ops.js'
import {silenceLine} from '../../cli/reporters/alerts-ops.js'
import {expireSilence, parseSilenceId, type SilenceView} from '../../lib/alerts/silences.js'

export default class AlertsUnsilence extends BaseCommand<SilenceView> {
  static override summary = 'lift a silence before its end'
  static override description = `The alerts it muted are notified again: the next alerts:run notifies those firing. Audited. A silence already over is exit 2.`

  static override examples = ['<%= config.bin %> <%= command.id %> 4']

  static override permission = 'alerts.silence' as const
  static override args = {id: silenceArg}

  async run(): Promise<SilenceView> {
    const {args} = await this.parse(AlertsUnsilence)
    const ctx = await this.context()
    const silence = await expireSilence(ctx, {id: parseSilenceId(args.id)})
    this.print(silenceLine(silence))
    return silence
  }
}
