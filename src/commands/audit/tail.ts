import {BaseCommand} from '../../cli/base-command.js'
import {auditTailFlags} from '../../cli/flags/audit.js'
import {printTail, tailRenderer} from '../../cli/reporters/audit.js'
import {tailAudit} from '../../lib/audit/tail.js'

export default class AuditTail extends BaseCommand<void> {
  static override summary = 'print the last audit entries, then follow new ones as they land'
  static override description = `Prints the last N entries (oldest first), and with --follow every new entry as it lands, polling the control database every --interval seconds on the entries' primary key. Under --json each entry is one JSON line (NDJSON), for log shippers.

When the control database stops answering (a restart), the poll is retried with a doubling back-off up to 30 s and each attempt is reported on stderr; after --max-retries failed attempts in a row the command exits 1, so a supervisor can restart it. Ctrl-C stops it and exits 130.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -n 100 --action "rds.*"',
    '<%= config.bin %> <%= command.id %> --follow',
    '<%= config.bin %> <%= command.id %> --follow --json --max-retries 10 >> /var/log/raiops-audit.ndjson',
  ]

  static override permission = 'audit.view' as const
  static override flags = auditTailFlags

  async run(): Promise<void> {
    const {flags} = await this.parse(AuditTail)
    const ctx = await this.context()
    const render = tailRenderer(this.color, {
      json: this.jsonEnabled(),
      maxRetries: flags['max-retries'],
      now: () => ctx.now(),
      view: (entry) => this.piiAudit(entry),
    })
    const tail = {filter: flags, last: flags.lines, follow: flags.follow, intervalMs: flags.interval, maxRetries: flags['max-retries']}
    // Ctrl-C is how following ends: a clean stop, exit 130.
    await printTail(tailAudit(ctx, {...tail, signal: this.stopSignal()}), render)
    this.exitIfInterrupted()
  }
}
