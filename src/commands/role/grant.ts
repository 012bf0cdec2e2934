import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {roleLine} from '../../cli/reporters/auth.js'
import {changeGrants, type RoleView} from '../../lib/role/roles.js'

export default class RoleGrant extends BaseCommand<RoleView> {
  static override summary = 'grant permissions to a custom role'
  static override description =
    'Adds permissions to a custom role; operators and tokens holding it can use them from their next command. Built-in roles are fixed.'
  static override examples = ['<%= config.bin %> <%= command.id %> sync_runner sync.run sync.view']
  static override permission = 'operator.manage' as const
  static override strict = false
  static override args = {
    role: Args.string({description: 'the custom role', required: true}),
    permissions: Args.string({description: 'one or more permissions', required: true}),
  }

  async run(): Promise<RoleView> {
    const {args, argv} = await this.parse(RoleGrant)
    const ctx = await this.context()
    const permissions = (argv as string[]).slice(1)
    const role = await changeGrants(ctx, {role: args.role, permissions, grant: true})
    this.print(`${roleLine(role)}\n`)
    return role
  }
}
