import {BaseCommand, STOPPING_SYNC, tableFlags} from '../../cli/base-command.js'
import {rdsSelectionFlags, syncOutputFlags, tenantSyncFlags, tenantSyncInput, waitFlag} from '../../cli/flags/sync.js'
import {showTenantSync, tenantSyncEvent, tenantSyncReporter} from '../../cli/reporters/sync.js'
import {runTenantSync, type TenantSyncReport} from '../../lib/sync/index.js'

export default class SyncTenants extends BaseCommand<TenantSyncReport> {
  static override summary = 'sync the tenant registry (tenant_master) from every active RDS'
  static override description = `Reads each RDS's tenants with their user counts (ghost users not counted) and location counts in three queries per server, whatever its number of tenants, and upserts them into tenant_master in batches. A tenant gone upstream is marked (remote_missing_at) and kept; one that comes back is cleared. Servers run concurrently (--concurrency), each within --timeout and in its own transaction: a server that fails leaves its tenants as they were, and the others' work is kept. An RDS synced successfully within --max-age is skipped unless --force. A tenant whose name is NULL is stored with an empty name, one without a usable id left out; both are counted as invalid, with the reason and their ids.

Only one tenant sync runs at a time (per --shard): a second one exits 6 with who holds the lock, or waits with --wait. The lock is a lease renewed while the run lives; a killed run's lease expires within a minute and is taken over. Ctrl-C or SIGTERM stops cleanly (each RDS's transaction rolled back, the lock released) and exits 130/143.

Exit codes: 0 every RDS synced or skipped, 3 some RDS failed, 6 another sync holds the lock.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rds eu-2 --force',
    '<%= config.bin %> <%= command.id %> --shard 1/4 --format ndjson',
    '<%= config.bin %> <%= command.id %> --wait 120 --json',
  ]

  static override permission = 'sync.run' as const
  static override flags = {...rdsSelectionFlags, ...tenantSyncFlags, wait: waitFlag, ...syncOutputFlags, ...tableFlags}

  async run(): Promise<TenantSyncReport> {
    const {flags} = await this.parse(SyncTenants)
    const ctx = await this.context()
    const stream = flags.format === 'ndjson' && !flags.output
    const progress = await this.progress('syncing tenants')
    const report = await runTenantSync(ctx, {
      ...tenantSyncInput(flags),
      signal: this.stopSignal(STOPPING_SYNC),
      onEvent: showTenantSync(this.color, progress, {phases: true, finished: (result) => stream && this.print(tenantSyncEvent(result))}),
    })
    progress.stop()
    this.emitOutput(tenantSyncReporter(flags.format)(this.color, report, stream, this.tableLayout(flags)), flags.output)
    this.exitAfterStoppableWork(report.status === 'partial' || report.status === 'failed')
    return report
  }
}
