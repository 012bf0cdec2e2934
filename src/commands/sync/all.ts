import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../lib/errors/index.js'
import {escapeControl} from '../../lib/text/escape.js'
import {renderJson, renderList} from '../../cli/output/render.js'
import {routingModeFlags, syncOutputFlags, tenantSyncFlags, waitFlag} from '../../cli/flags/sync.js'
import {runAllSyncs, type AllSyncReport} from '../../lib/sync/index.js'
import {routingSyncSummary, tenantSyncColumns, tenantSyncLine, tenantSyncSummary} from '../../cli/reporters/sync.js'

export default class SyncAll extends BaseCommand<AllSyncReport> {
  static override summary = 'sync the tenant registry, then the routing cache: the job cron runs'
  static override description = `Runs sync:tenants (every active RDS), then sync:routing (incremental unless --full or --truncate), so routing rows link to the tenants just synced, and prints one summary. Each part takes its own lock (exit 6 when another run holds one, or wait with --wait) and records its runs (see sync:status).

Exit codes: 0 all synced, 3 some RDS or the routing sync failed (the rest is kept), 6 locked, 130/143 stopped by Ctrl-C/SIGTERM.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format ndjson >> /var/log/raiops/sync.ndjson',
    '<%= config.bin %> <%= command.id %> --force --full',
  ]

  static override permission = 'sync.run' as const
  static override flags = {...tenantSyncFlags, ...routingModeFlags, wait: waitFlag, ...syncOutputFlags}

  async run(): Promise<AllSyncReport> {
    const {flags} = await this.parse(SyncAll)
    const ctx = await this.context()
    const mode = flags.truncate ? 'truncate' : flags.full ? 'full' : 'incremental'
    const streaming = flags.format === 'ndjson' && !flags.output && !this.jsonEnabled()
    const progress = await this.progress('syncing tenants')
    const report = await runAllSyncs(ctx, {
      force: flags.force,
      maxAgeMs: flags['max-age'],
      concurrency: flags.concurrency,
      deadlineMs: flags.timeout,
      waitMs: flags.wait,
      mode,
      signal: this.stopSignal(),
      onEvent: (event) => {
        if (event.type !== 'done') return
        if (streaming) process.stdout.write(`${JSON.stringify({type: 'rds', kind: 'tenants', ...event.result})}\n`)
        progress.log(tenantSyncLine(this.color, event.result))
        progress.update(`syncing tenants: ${event.done}/${event.total} RDS done`)
      },
      onProgress: ({read, written}) => progress.update(`syncing routing (${mode}): ${read} rows read, ${written} written`),
    })
    progress.stop()
    const {rds, ...tenantSummary} = report.tenants
    let text: string
    if (flags.format === 'json') text = renderJson(report)
    else if (flags.format === 'ndjson') {
      const lines = streaming ? [] : rds.map((r) => JSON.stringify({type: 'rds', kind: 'tenants', ...r}))
      lines.push(JSON.stringify({type: 'summary', ...tenantSummary}))
      if (report.routing) lines.push(JSON.stringify({type: 'summary', ...report.routing}))
      text = `${lines.join('\n')}\n`
    } else {
      text = `${rds.length > 0 ? renderList(rds, tenantSyncColumns(this.color), 'table') : ''}${tenantSyncSummary(this.color, report.tenants)}\n${report.routing ? routingSyncSummary(this.color, report.routing) : `routing: ${escapeControl(report.routingError ?? '')}`}\n`
    }
    this.emitOutput(text, flags.output)
    if (report.status !== 'ok') this.exitWith(ExitCode.partial)
    this.exitIfInterrupted()
    return report
  }
}
