import {BaseCommand} from '../../cli/base-command.js'
import {tenantListFlags, tenantListInput} from '../../cli/flags/tenant-list.js'
import {streamList, type StreamFormat} from '../../cli/output/list-stream.js'
import {showsContacts, tenantListColumns, tenantListNextLine, tenantListSummaryLine, tenantStreamNote} from '../../cli/reporters/tenant-list.js'
import {listTenants, streamTenants, type TenantListResult} from '../../lib/tenant/list.js'

export default class TenantList extends BaseCommand<TenantListResult | {tenants: number}> {
  static override summary = 'list tenants across the fleet, with filters, sorting and paging'
  static override description = `Reads the tenant registry (tenant_master, as sync:tenants keeps it): no RDS is contacted. Filters combine. Pages of --limit tenants: the next page is printed on stderr as --after CURSOR (\`next\` in --json); --page N pages by offset. --all streams every match as --format csv or ndjson, to stdout or --output, in constant memory. A summary (how many match, on how many RDS, how fresh) goes to stderr; --json returns {tenants, summary, next}. Contact emails are masked without pii.view.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --search muller',
    '<%= config.bin %> <%= command.id %> --rds eu-1 --status active --sort users --desc --limit 20',
    '<%= config.bin %> <%= command.id %> --sort health --max-health 40 --stale 7d',
    '<%= config.bin %> <%= command.id %> --missing --format csv --all --output missing-tenants.csv',
    '<%= config.bin %> <%= command.id %> --json --after eyJ2IjoxLCJzIjoibmFtZSIsImQiOmZhbHNlLCJrIjoiQWNtZSIsImkiOjQyfQ',
  ]

  static override permission = 'tenant.view' as const
  static override flags = tenantListFlags

  async run(): Promise<TenantListResult | {tenants: number}> {
    const {flags} = await this.parse(TenantList)
    const [input, ctx] = [tenantListInput(flags, this.jsonEnabled()), await this.context()]
    const columns = tenantListColumns(this.color, {contacts: showsContacts(flags)})
    if (flags.all) {
      const options = {format: flags.format as StreamFormat, output: flags.output, columns: this.tableLayout(flags).columns}
      const {batches, summary} = await streamTenants(ctx, input)
      const written = await streamList(batches, columns, {...options, view: (rows) => this.pii(rows), signal: this.stopSignal()})
      this.note(tenantStreamNote(written, flags.output))
      if (written.end === 'complete') this.note(tenantListSummaryLine(await summary, ctx.now()))
      this.exitIfInterrupted()
      return {tenants: written.rows}
    }
    const result = this.pii(await listTenants(ctx, input))
    this.renderList(result.tenants, columns, flags, ctx.now())
    for (const line of [tenantListSummaryLine(result.summary, ctx.now()), tenantListNextLine(result)]) if (line) this.note(line)
    return result
  }
}
