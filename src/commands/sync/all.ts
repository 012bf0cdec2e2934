import {BaseCommand, STOPPING_SYNC, tableFlags} from '../../cli/base-command.js'
import {routingMode, routingModeFlags, syncOutputFlags, tenantSyncFlags, tenantSyncInput, waitFlag, withGhostsFlag} from '../../cli/flags/sync.js'
import {allSyncReporter, showRoutingSync, showTenantSync, tenantSyncEvent} from '../../cli/reporters/sync.js'
import {runAllSyncs, type AllSyncReport} from '../../lib/sync/index.js'

export default class SyncAll extends BaseCommand<AllSyncReport> {
  static override summary = 'sync the tenant registry, then the routing cache: the job cron runs'
  static override description = `Runs sync:tenants (every active RDS), then sync:routing (incremental unless --full or --truncate), so routing rows link to the tenants just synced, then with --with-ghosts sync:ghost-users (no pruning), and prints one summary. Each part takes its own lock (exit 6 when another run holds one, or wait with --wait) and records its runs (see sync:status).

Exit codes: 0 all synced, 3 some RDS or the routing sync failed (the rest is kept), 6 locked, 130/143 stopped by Ctrl-C/SIGTERM.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format ndjson >> /var/log/raiops/sync.ndjson',
    '<%= config.bin %> <%= command.id %> --force --full',
    '<%= config.bin %> <%= command.id %> --with-ghosts',
  ]

  static override permission = 'sync.run' as const
  static override flags = {...tenantSyncFlags, ...routingModeFlags, ...withGhostsFlag, wait: waitFlag, ...syncOutputFlags, ...tableFlags}

  async run(): Promise<AllSyncReport> {
    const {flags} = await this.parse(SyncAll)
    const mode = routingMode(flags)
    const stream = flags.format === 'ndjson' && !flags.output
    const report = await this.withProgress('syncing tenants', async (progress) =>
      runAllSyncs(await this.context(), {
        ...tenantSyncInput(flags),
        mode,
        signal: this.stopSignal(STOPPING_SYNC),
        onEvent: showTenantSync(this.color, progress, {phases: false, finished: (result) => stream && this.print(tenantSyncEvent(result, 'tenants'))}),
        onProgress: showRoutingSync(progress, mode),
        ghosts: flags['with-ghosts'] ? {domain: this.runtime.config.ghostDomain, prune: false} : undefined,
      }),
    )
    this.emitOutput(allSyncReporter(flags.format)(this.color, report, stream, this.tableLayout(flags)), flags.output)
    this.exitAfterStoppableWork(report.status !== 'ok')
    return report
  }
}
