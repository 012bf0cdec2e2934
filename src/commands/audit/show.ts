import {BaseCommand} from '../../cli/base-command.js'
import {auditIdArg} from '../../cli/flags/audit.js'
import {renderAuditEntry} from '../../cli/reporters/audit.js'
import {showAudit, type AuditChange, type AuditView} from '../../lib/audit/read.js'

export default class AuditShow extends BaseCommand<AuditView & {changes: AuditChange[]}> {
  static override summary = 'show one audit entry, its old and new values as a diff'
  static override description =
    'Shows an audit entry in full: when, who (operator, token, system or the RAI application), the action and its target, the host and command line it came from, and each changed field with its old (-) and new (+) value. Secrets are stored redacted: a secret that changed shows as "password: changed (redacted)".'
  static override examples = ['<%= config.bin %> <%= command.id %> 42', '<%= config.bin %> <%= command.id %> 42 --json']
  static override permission = 'audit.view' as const
  static override args = {id: auditIdArg}

  async run(): Promise<AuditView & {changes: AuditChange[]}> {
    const {args} = await this.parse(AuditShow)
    const ctx = await this.context()
    const entry = this.piiAudit(await showAudit(ctx, {id: args.id}))
    this.print(renderAuditEntry(this.color, entry, ctx.now()))
    return entry
  }
}
