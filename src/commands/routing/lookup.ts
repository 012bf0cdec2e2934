import {Args, Flags} from '@oclif/core'

import {BaseCommand, tableFlags} from '../../cli/base-command.js'
import {renderRoutingLookup, routingLookupNote} from '../../cli/reporters/routing.js'
import {lookupRouting, type RoutingLookup} from '../../lib/routing/lookup.js'

export default class RoutingLookupCommand extends BaseCommand<RoutingLookup> {
  static override summary = 'which tenants and servers an email belongs to'
  static override description = `Looks the email up (case-insensitively) in the routing cache and shows each tenant and RDS it routes to, with the age of the cache. An email no tenant has is not an error: it says so on stderr and exits 0 (--json: an empty cache list). --live also asks the master RDS directly and shows how the cache differs from it (missing, gone, or changed rows).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com',
    '<%= config.bin %> <%= command.id %> Ana@Example.com --live',
    '<%= config.bin %> <%= command.id %> ana@example.com --json',
  ]

  static override permission = 'tenant.view' as const
  static override args = {email: Args.string({description: 'the email address', required: true})}
  static override flags = {live: Flags.boolean({description: 'also ask the master RDS, and show how the cache differs'}), ...tableFlags}

  async run(): Promise<RoutingLookup> {
    const {args, flags} = await this.parse(RoutingLookupCommand)
    const result = this.pii(await lookupRouting(await this.context(), {email: args.email, live: flags.live}))
    this.print(renderRoutingLookup(this.color, result, new Date(), this.tableLayout(flags)))
    const none = routingLookupNote(result)
    if (none) this.note(none)
    return result
  }
}
