import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {untilStopped} from '../../cli/output/interrupt.js'
import {auditFilterFlags} from '../../cli/flags/audit.js'
import {auditColumns} from '../../cli/reporters/audit.js'
import {auditFilter} from '../../lib/audit/query.js'
import {tailAudit} from '../../lib/audit/tail.js'
import {parseSeconds} from '../../lib/time/duration.js'
import {escapeControl} from '../../lib/text/escape.js'
import {renderCells} from '../../cli/output/render.js'

export default class AuditTail extends BaseCommand<void> {
  static override summary = 'print the last audit entries, then follow new ones as they land'
  static override description = `Prints the last N entries (oldest first), and with --follow every new entry as it lands, polling the control database every --interval seconds on the entries' primary key. Under --json each entry is one JSON line (NDJSON), for log shippers.

When the control database stops answering (a restart), the poll is retried with a doubling back-off up to 30 s and each attempt is reported on stderr; after --max-retries failed attempts in a row the command exits 1, so a supervisor can restart it. Ctrl-C exits 0.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -n 100 --action "rds.*"',
    '<%= config.bin %> <%= command.id %> --follow',
    '<%= config.bin %> <%= command.id %> --follow --json --max-retries 10 >> /var/log/raiops-audit.ndjson',
  ]

  static override permission = 'audit.view' as const
  static override flags = {
    ...auditFilterFlags,
    lines: Flags.integer({char: 'n', description: 'how many of the last entries to print first', default: 20, min: 0, max: 100_000}),
    follow: Flags.boolean({char: 'F', description: 'keep printing new entries as they land'}),
    interval: Flags.custom<number>({description: 'seconds between two polls when following', default: 1000, parse: async (input) => parseSeconds(input, '--interval', 3600)})(),
    'max-retries': Flags.integer({description: 'failed polls in a row before exiting 1', default: 30, min: 0, max: 1_000_000}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(AuditTail)
    const ctx = await this.context()
    const filter = await auditFilter(ctx, {...flags, limit: 1})
    // Ctrl-C is how following ends: a clean stop, exit 0.
    const stop = untilStopped()
    const columns = auditColumns(this.color, ctx.now())
    const line = (values: string[]) => values.join('  ')
    let header = false
    try {
      for await (const event of tailAudit(ctx, {filter, last: flags.lines, follow: flags.follow, intervalMs: flags.interval, maxRetries: flags['max-retries'], signal: stop.signal})) {
        // Connection notices go to stderr also under --json (stdout carries the entries).
        if (event.type === 'disconnected') {
          process.stderr.write(`control database unreachable (attempt ${event.attempt} of ${flags['max-retries']}): ${escapeControl(event.error)}; retrying in ${Math.round(event.retryInMs / 100) / 10} s\n`)
        } else if (event.type === 'reconnected') {
          process.stderr.write(`control database reachable again after ${event.failures} failed attempt(s)\n`)
        } else if (this.jsonEnabled()) {
          process.stdout.write(`${JSON.stringify(this.piiAudit(event.entry))}\n`)
        } else {
          if (!header) process.stdout.write(`${this.color.dim(line(columns.map((c) => c.header)))}\n`)
          header = true
          process.stdout.write(`${line(renderCells(this.piiAudit(event.entry), columns))}\n`)
        }
      }
    } finally {
      stop.release()
    }
  }
}
