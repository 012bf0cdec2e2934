import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {roleLine} from '../../cli/reporters/auth.js'
import {changeGrants, type RoleView} from '../../lib/role/roles.js'

export default class RoleRevoke extends BaseCommand<RoleView> {
  static override summary = 'revoke permissions from a custom role'
  static override description =
    'Takes permissions away from a custom role; operators and tokens holding it lose them from their next command. Built-in roles are fixed.'
  static override examples = ['<%= config.bin %> <%= command.id %> sync_runner sync.run sync.view']
  static override permission = 'operator.manage' as const
  static override strict = false
  static override args = {
    role: Args.string({description: 'the custom role', required: true}),
    permissions: Args.string({description: 'one or more permissions', required: true}),
  }

  async run(): Promise<RoleView> {
    const {args, argv} = await this.parse(RoleRevoke)
    const ctx = await this.context()
    const permissions = (argv as string[]).slice(1)
    const role = await changeGrants(ctx, {role: args.role, permissions, grant: false})
    this.print(`${roleLine(role)}\n`)
    return role
  }
}
