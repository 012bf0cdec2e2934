import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {silenceListFlags} from '../../cli/flags/alerts-ops.js'
import {silenceColumns} from '../../cli/reporters/alerts-ops.js'
import {listSilences, type SilenceView} from '../../lib/alerts/silences.js'

export default class AlertsSilences extends BaseCommand<SilenceView[]> {
  static override summary = 'list the silences in force, or every silence'
  static override description = `Each silence with its matchers, when it ends, how many live alerts (pending, firing, unknown) it matches now, who made it and why. --all adds those ended or lifted, newest first.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all --json']

  static override permission = 'alerts.view' as const
  static override flags = {...silenceListFlags, ...listFlags}

  async run(): Promise<SilenceView[]> {
    const {flags} = await this.parse(AlertsSilences)
    const ctx = await this.context()
    const silences = await listSilences(ctx, {all: flags.all, limit: flags.limit})
    this.renderList(silences, silenceColumns(this.color), flags, ctx.now())
    return silences
  }
}
