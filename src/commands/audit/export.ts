import {BaseCommand} from '../../cli/base-command.js'
import {auditExportFlags} from '../../cli/flags/audit.js'
import {openOutputStream} from '../../cli/output/output-file.js'
import {exportAudit} from '../../lib/audit/export.js'
import {escapeControl} from '../../lib/text/escape.js'

export default class AuditExport extends BaseCommand<{file: string; format: string; entries: number}> {
  static override summary = 'export the audit trail (or part of it) to a CSV or NDJSON file'
  static override description = `Writes every entry matching the filters, oldest first, to --output: CSV (one row per entry, old and new values as JSON) or NDJSON (one entry per line). The trail is read in pages, so memory stays flat whatever its size, and a file appears only once complete (written beside it, then renamed), readable by its owner only (mode 0600). A device or FIFO (/dev/stdout) is written through; - writes to standard output.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --format csv --output audit.csv',
    '<%= config.bin %> <%= command.id %> --format ndjson --output audit-2026-01.ndjson --since 2026-01-01 --until 2026-02-01',
    '<%= config.bin %> <%= command.id %> --format csv --output rds-changes.csv --action "rds.*"',
  ]

  static override permission = 'audit.view' as const
  static override flags = auditExportFlags

  async run(): Promise<{file: string; format: string; entries: number}> {
    const {flags} = await this.parse(AuditExport)
    const toStdout = this.outputIsStdout(flags.output)
    const ctx = await this.context()
    const open = () => openOutputStream(flags.output)
    const entries = await this.withProgress('exporting the audit trail', (progress) =>
      exportAudit(ctx, {
        filter: flags,
        format: flags.format,
        open,
        view: (entry) => this.piiAudit(entry),
        onProgress: (n) => progress.update(`exporting the audit trail: ${n} entries`),
      }),
    )
    this.note(`wrote ${entries} entries to ${toStdout ? 'standard output' : escapeControl(flags.output)}`)
    return {file: flags.output, format: flags.format, entries}
  }
}
