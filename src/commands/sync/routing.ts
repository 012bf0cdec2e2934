import {BaseCommand, STOPPING_SYNC} from '../../cli/base-command.js'
import {routingMode, routingModeFlags, syncOutputFlags, waitFlag} from '../../cli/flags/sync.js'
import {routingSyncReporter, showRoutingSync} from '../../cli/reporters/sync.js'
import {runRoutingSync, type RoutingSyncReport} from '../../lib/sync/index.js'

export default class SyncRouting extends BaseCommand<RoutingSyncReport> {
  static override summary = "copy the master RDS's user_email_routing into the routing cache"
  static override description = `Copies the email routing directory from the master RDS into user_email_routing_cache: emails lower-cased, each row linked to its tenant_master row (a row whose tenant is not in tenant_master is kept without the link, counted and reported). Password hashes are never copied.

By default incremental: rows changed since the last run's watermark (source updated_at and id, read again with a 5-minute overlap so a row whose transaction committed late is not missed), committed page by page with the watermark. --full compares every row with the cache and writes only what differs, including rows deleted on the master. --truncate rebuilds the cache from scratch. A --full or --truncate run is atomic for readers: routing:lookup sees the previous cache until it commits, and a failure leaves it intact. Rows are read in keyset pages, so memory stays flat whatever the table size. For fast incremental runs the master's user_email_routing needs an index on (updated_at, id).

A source row without an email or a usable id is left out, and one whose updated_at is NULL is never read by an incremental run (--full and --truncate copy it): each run counts them as invalid, with the reason and their first ids.

Only one routing sync runs at a time: a second one exits 6, or waits with --wait. Exit codes: 0 ok, 3 the sync failed (the cache keeps its last committed state), 6 locked.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --full',
    '<%= config.bin %> <%= command.id %> --truncate --json',
  ]

  static override permission = 'sync.run' as const
  static override flags = {...routingModeFlags, wait: waitFlag, ...syncOutputFlags}

  async run(): Promise<RoutingSyncReport> {
    const {flags} = await this.parse(SyncRouting)
    const ctx = await this.context()
    const mode = routingMode(flags)
    const report = await this.withProgress(`syncing routing (${mode})`, (progress) =>
      runRoutingSync(ctx, {mode, waitMs: flags.wait, signal: this.stopSignal(STOPPING_SYNC), onProgress: showRoutingSync(progress, mode)}),
    )
    this.emitOutput(routingSyncReporter(flags.format)(this.color, report, false), flags.output)
    this.exitAfterStoppableWork(report.status === 'failed')
    return report
  }
}
