import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rdsArg} from '../../cli/flags/rds.js'
import {confirmRdsRemoval} from '../../cli/prompts/rds.js'
import {renderRdsRemoved} from '../../cli/reporters/rds.js'
import {removeRds, type RemoveRdsResult} from '../../lib/rds/remove.js'

export default class RdsRemove extends BaseCommand<RemoveRdsResult> {
  static override summary = 'remove an RDS instance from the registry'
  static override description =
    "Removes the RDS from raiops' registry (its server is not touched). Asks for confirmation unless --yes. Refuses while tenants in tenant_master live on it; --force removes those registry rows too (never rows with billing history). To keep an RDS but leave it out of syncs, use `rds:edit NAME --no-active` instead."

  static override examples = [
    '<%= config.bin %> <%= command.id %> old-eu',
    '<%= config.bin %> <%= command.id %> 4 --yes',
    '<%= config.bin %> <%= command.id %> old-eu --yes --force',
  ]
  static override permission = 'rds.manage' as const
  static override args = {rds: rdsArg}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    force: Flags.boolean({description: 'also remove the tenant_master rows of its tenants'}),
  }

  async run(): Promise<RemoveRdsResult> {
    const {args, flags} = await this.parse(RdsRemove)
    const ctx = await this.context()
    await confirmRdsRemoval(ctx, {ref: args.rds, yes: flags.yes, interactive: this.interactive()})
    const result = await removeRds(ctx, {ref: args.rds, force: flags.force})
    this.print(renderRdsRemoved(this.color, result))
    return result
  }
}
