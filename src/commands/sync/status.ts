import {BaseCommand, tableFlags} from '../../cli/base-command.js'
import {syncOutputFlags} from '../../cli/flags/sync.js'
import {syncStatusReporter} from '../../cli/reporters/sync.js'
import {syncStatus, type SyncStatusReport} from '../../lib/sync/status.js'

export default class SyncStatus extends BaseCommand<SyncStatusReport> {
  static override summary = 'when each sync last ran, its outcome and counts, and how stale the data is'
  static override description = `Per sync kind (tenants, routing) and per RDS: the last run, its outcome and counts, the age of the data (time since the last successful run), and which machine runs one right now. Read from the control database only; no server is contacted.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  static override permission = 'sync.view' as const
  static override flags = {...syncOutputFlags, ...tableFlags}

  async run(): Promise<SyncStatusReport> {
    const {flags} = await this.parse(SyncStatus)
    const report = await syncStatus(await this.context())
    this.emitOutput(syncStatusReporter(flags.format)(this.color, report, false, this.tableLayout(flags)), flags.output)
    return report
  }
}
