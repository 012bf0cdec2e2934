import {BaseCommand, STOPPING_SYNC, tableFlags} from '../../cli/base-command.js'
import {ghostSyncFlags, ghostSyncInput, rdsSelectionFlags, syncOutputFlags, waitFlag} from '../../cli/flags/sync.js'
import {ghostSyncReporter, showGhostSync} from '../../cli/reporters/sync.js'
import {runGhostUserSync, type GhostSyncReport} from '../../lib/sync/index.js'

export default class SyncGhostUsers extends BaseCommand<GhostSyncReport> {
  static override summary = 'give every tenant one ghost user per operator allowed to impersonate'
  static override description = `A ghost user is the account an impersonation link logs in as: one per active operator whose role holds tenant.impersonate, on every tenant of every active RDS (or --rds, --shard), with is_ghost set (never counted as the customer's user), the email ghost+<operator id>@<RAIOPS_GHOST_DOMAIN, default raiops.invalid>, the name "RAI support (<operator name>)", an unusable random password and no routing entry on the master. Missing ghosts are created and renamed operators' ghosts renamed, set-based: per operator and RDS one INSERT … SELECT and one UPDATE, whatever the number of tenants. A second run changes nothing and says so. A run first reads, from indexes only, each RDS's tenant count, highest id and sum of ids and its ghost emails' counts; when they, the plan (operators, names, domain, --prune) and the RDS's database are as the last run left them, that RDS has nothing to do and no ghost row is read. Otherwise, with --full, and once a day since an RDS's last full check, every ghost row there is checked (a name or status edited on the RDS itself is found then).

--prune suspends (status suspended) the ghosts of operators who were disabled or whose role lost tenant.impersonate. They are suspended rather than deleted: the RAI application's rows may refer to the user, and a deleted row would break them; a suspended ghost cannot log in, and a run after the operator regains the permission makes it active again. --dry-run counts what would change on each RDS and writes nothing.

Each RDS runs in its own transaction within --timeout. A server that is down, or whose users table has no is_ghost column, is reported and nothing is written there; the others are done (exit 3). One ghost-user sync runs at a time: a second exits 6, or waits with --wait. A run that changed something is written to the audit trail with its counts.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --rds eu-2 --dry-run',
    '<%= config.bin %> <%= command.id %> --operator ana@example.com --prune',
    '<%= config.bin %> <%= command.id %> --full --prune',
    '<%= config.bin %> <%= command.id %> --format ndjson >> /var/log/raiops/ghosts.ndjson',
  ]

  static override permission = 'sync.run' as const
  static override flags = {...rdsSelectionFlags, ...ghostSyncFlags, wait: waitFlag, ...syncOutputFlags, ...tableFlags}

  async run(): Promise<GhostSyncReport> {
    const {flags} = await this.parse(SyncGhostUsers)
    const ctx = await this.context()
    const stream = flags.format === 'ndjson' && !flags.output ? (line: string) => this.print(line) : undefined
    const report = await this.withProgress('syncing ghost users', (progress) =>
      runGhostUserSync(ctx, {
        ...ghostSyncInput(flags, this.runtime.config.ghostDomain),
        signal: this.stopSignal(STOPPING_SYNC),
        onEvent: showGhostSync(this.color, progress, {dryRun: flags['dry-run'], stream}),
      }),
    )
    this.emitOutput(ghostSyncReporter(flags.format)(this.color, report, stream !== undefined, this.tableLayout(flags)), flags.output)
    this.exitAfterStoppableWork(report.status === 'partial' || report.status === 'failed')
    return report
  }
}
