import {stringify} from 'csv-stringify/sync'

import type {OpsContext} from '../context.js'
import {auditFilter, type AuditFilterInput} from './query.js'
import {auditPages, type AuditView} from './read.js'

export type AuditExportFormat = 'csv' | 'ndjson'

const CSV_COLUMNS = [
  'id',
  'seq',
  'occurred_at',
  'actor_type',
  'actor',
  'action',
  'target_type',
  'target_id',
  'rds_instance_id',
  'tenant_master_id',
  'old_values',
  'new_values',
  'source_host',
  'source_command',
  'source_ip',
]

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

/** Where an export goes: written piece by piece, then committed (or abandoned on an error). */
export interface ExportSink {
  write(chunk: string): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

export interface AuditExportInput {
  filter: Omit<AuditFilterInput, 'limit'>
  format: AuditExportFormat
  /** Opens the destination, once the filter is known to be valid. */
  open: () => Promise<ExportSink>
  /** The entry as the caller may see it (emails masked without pii.view). */
  view: (entry: AuditView) => AuditView
  /** Called after each page with the entries written so far (progress display). */
  onProgress?: (entries: number) => void
}

/**
 * `audit:export`: every entry matching the filter, oldest first, as CSV (a
 * header, then a row per entry, old and new values as JSON) or NDJSON. Read in
 * pages, so memory stays flat whatever the trail's size; the sink is committed
 * once every page is written, abandoned on an error. Returns the entries written.
 */
export async function exportAudit(ctx: Pick<OpsContext, 'db' | 'now'>, input: AuditExportInput): Promise<number> {
  const filter = await auditFilter(ctx, {...input.filter, limit: 1})
  const out = await input.open()
  let entries = 0
  try {
    if (input.format === 'csv') await out.write(stringify([CSV_COLUMNS]))
    for await (const raw of auditPages(ctx, filter)) {
      const page = raw.map((entry) => input.view(entry))
      await out.write(input.format === 'csv' ? stringify(page.map(csvRow)) : page.map((e) => `${JSON.stringify(e)}\n`).join(''))
      entries += page.length
      input.onProgress?.(entries)
    }
    await out.commit()
  } catch (error) {
    await out.abort()
    throw error
  }
  return entries
}
