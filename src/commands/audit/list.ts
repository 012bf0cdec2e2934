import {Flags} from '@oclif/core'

import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {auditFilterFlags} from '../../cli/flags/audit.js'
import {auditColumns} from '../../cli/reporters/audit.js'
import {listAuditEntries} from '../../lib/audit/query.js'
import type {AuditView} from '../../lib/audit/read.js'

export default class AuditList extends BaseCommand<AuditView[]> {
  static override summary = 'list audit entries, newest first, with filters'
  static override description = `Reads the audit trail: who changed what, when and from where. Filters combine (all must match); --actor and --action take * wildcards. The old and new values of an entry are in --json and in \`raiops audit:show ID\`. Secrets never reach the trail.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --action "rds.*" --since 24h',
    '<%= config.bin %> <%= command.id %> --rds main --since 2026-01-01 --until 2026-02-01 --format csv --output audit.csv',
    '<%= config.bin %> <%= command.id %> --actor "alice@*" --limit 500 --json',
  ]

  static override permission = 'audit.view' as const
  static override flags = {
    ...auditFilterFlags,
    limit: Flags.integer({char: 'n', description: 'at most this many entries', default: 50, min: 1, max: 100_000}),
    ...listFlags,
  }

  async run(): Promise<AuditView[]> {
    const {flags} = await this.parse(AuditList)
    const ctx = await this.context()
    const rows = (await listAuditEntries(ctx, flags)).map((entry) => this.piiAudit(entry))
    this.renderList(rows, auditColumns(this.color), flags, ctx.now())
    return rows
  }
}
