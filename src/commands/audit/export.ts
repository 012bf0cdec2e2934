import {Flags} from '@oclif/core'
import {stringify} from 'csv-stringify/sync'

import {BaseCommand} from '../../cli/base-command.js'
import {auditFilterFlags} from '../../cli/flags/audit.js'
import {auditFilter} from '../../lib/audit/query.js'
import {auditPages, type AuditView} from '../../lib/audit/read.js'
import {escapeControl} from '../../lib/text/escape.js'
import {openOutputStream} from '../../cli/output/output-file.js'

const CSV_COLUMNS = ['id', 'seq', 'occurred_at', 'actor_type', 'actor', 'action', 'target_type', 'target_id', 'rds_instance_id', 'tenant_master_id', 'old_values', 'new_values', 'source_host', 'source_command', 'source_ip']

const csvRow = (e: AuditView) => [
  e.id,
  e.seq,
  e.occurredAt,
  e.actorType,
  e.actor,
  e.action,
  e.targetType,
  e.targetId,
  e.rdsInstanceId,
  e.tenantMasterId,
  e.oldValues === null ? null : JSON.stringify(e.oldValues),
  e.newValues === null ? null : JSON.stringify(e.newValues),
  e.source.host,
  e.source.command,
  e.source.ip,
]

export default class AuditExport extends BaseCommand<{file: string; format: string; entries: number}> {
  static override summary = 'export the audit trail (or part of it) to a CSV or NDJSON file'
  static override description = `Writes every entry matching the filters, oldest first, to --output: CSV (one row per entry, old and new values as JSON) or NDJSON (one entry per line). The trail is read in pages, so memory stays flat whatever its size, and a file appears only once complete (written beside it, then renamed), readable by its owner only (mode 0600). A device or FIFO (/dev/stdout) is written through; - writes to standard output.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --format csv --output audit.csv',
    '<%= config.bin %> <%= command.id %> --format ndjson --output audit-2026-01.ndjson --since 2026-01-01 --until 2026-02-01',
    '<%= config.bin %> <%= command.id %> --format csv --output rds-changes.csv --action "rds.*"',
  ]

  static override permission = 'audit.view' as const
  static override flags = {
    ...auditFilterFlags,
    format: Flags.option({options: ['csv', 'ndjson'] as const, char: 'f', description: 'file format', required: true})(),
    output: Flags.string({char: 'o', description: 'the file to write (mode 0600; - is stdout)', required: true}),
  }

  async run(): Promise<{file: string; format: string; entries: number}> {
    const {flags} = await this.parse(AuditExport)
    const toStdout = this.outputIsStdout(flags.output)
    const ctx = await this.context()
    const filter = await auditFilter(ctx, {...flags, limit: 1})
    const out = await openOutputStream(flags.output)
    let entries = 0
    try {
      const progress = await this.progress('exporting the audit trail')
      if (flags.format === 'csv') await out.write(stringify([CSV_COLUMNS]))
      for await (const raw of auditPages(ctx, filter)) {
        const page = raw.map((entry) => this.piiAudit(entry))
        await out.write(flags.format === 'csv' ? stringify(page.map(csvRow)) : page.map((e) => `${JSON.stringify(e)}\n`).join(''))
        entries += page.length
        progress.update(`exporting the audit trail: ${entries} entries`)
      }
      await out.commit()
      progress.stop()
    } catch (error) {
      await out.abort()
      throw error
    }
    this.note(`wrote ${entries} entries to ${toStdout ? 'standard output' : escapeControl(flags.output)}`)
    return {file: flags.output, format: flags.format, entries}
  }
}
