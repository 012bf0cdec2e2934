import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ago} from '../../lib/text/age.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {renderList, type Column} from '../../cli/output/render.js'
import {lookupRouting, type RoutingEntry, type RoutingLookup} from '../../lib/routing/lookup.js'

export default class RoutingLookupCommand extends BaseCommand<RoutingLookup> {
  static override summary = 'which tenants and servers an email belongs to'
  static override description = `Looks the email up (case-insensitively) in the routing cache and shows each tenant and RDS it routes to, with the age of the cache. --live also asks the master RDS directly and shows how the cache differs from it (missing, gone, or changed rows).`

  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com', '<%= config.bin %> <%= command.id %> Ana@Example.com --live', '<%= config.bin %> <%= command.id %> ana@example.com --json']

  static override permission = 'tenant.view' as const
  static override args = {email: Args.string({description: 'the email address', required: true})}
  static override flags = {live: Flags.boolean({description: 'also ask the master RDS, and show how the cache differs'})}

  async run(): Promise<RoutingLookup> {
    const {args, flags} = await this.parse(RoutingLookupCommand)
    const result = this.pii(await lookupRouting(await this.context(), {email: args.email, live: flags.live}))
    if (this.jsonEnabled()) return result
    const c = this.color
    const columns: Column<RoutingEntry>[] = [
      {header: 'tenant', cell: (e) => (e.tenantName ? `${e.tenantName} (#${e.tenantMasterId})` : c.yellow(`not in tenant_master (remote ${e.remoteTenantId})`))},
      {header: 'rds', cell: (e) => e.rdsName ?? c.yellow(`unknown RDS ${e.rdsInstanceId}`)},
      {header: 'user id', cell: (e) => String(e.remoteUserId)},
      {header: 'status', cell: (e) => e.status ?? ''},
      {header: 'updated upstream', cell: (e) => e.sourceUpdatedAt ?? ''},
    ]
    const now = new Date()
    // The lines below print the email and the master's values themselves; the tables escape their rows.
    const shown = escapeControlDeep(result)
    if (result.cache.length === 0) this.log(`${shown.email}: not in the routing cache`)
    else {
      this.log(`${shown.email}: ${result.cache.length} entr${result.cache.length === 1 ? 'y' : 'ies'} in the routing cache${result.cacheAgeMs !== null ? `, synced ${ago(new Date(now.getTime() - result.cacheAgeMs).toISOString(), now)}` : ''}`)
      process.stdout.write(renderList(result.cache, columns, 'table'))
    }
    if (result.live) {
      this.log(`live from the master RDS: ${result.live.length} entr${result.live.length === 1 ? 'y' : 'ies'}`)
      if (result.live.length > 0) process.stdout.write(renderList(result.live, columns, 'table'))
      if (result.differences && result.differences.length > 0) {
        for (const d of shown.differences ?? []) this.log(c.yellow(`  row ${d.sourceId}: ${d.difference}`))
        this.log(c.dim('  run `raiops sync:routing` to bring the cache up to date'))
      } else this.log(c.green('  the cache matches the master'))
    }
    return result
  }
}
