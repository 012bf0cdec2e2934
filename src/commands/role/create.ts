import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {roleLine} from '../../cli/reporters/auth.js'
import {createRole, type RoleView} from '../../lib/role/roles.js'

export default class RoleCreate extends BaseCommand<RoleView> {
  static override summary = 'create a custom role with the permissions it grants'
  static override description =
    'Creates a role for operators and tokens (for example one that may only run the syncs, for cron). Permissions are named as role:show system_admin lists them; more can be granted or revoked later.'
  static override examples = ['<%= config.bin %> <%= command.id %> sync_runner --permission sync.run --permission sync.view --description "cron: the syncs"']
  static override permission = 'operator.manage' as const
  static override args = {name: Args.string({description: 'the role name (lower case, digits, _)', required: true})}
  static override flags = {
    permission: Flags.string({char: 'p', description: 'a permission it grants (repeatable)', multiple: true}),
    description: Flags.string({description: 'what the role is for'}),
  }

  async run(): Promise<RoleView> {
    const {args, flags} = await this.parse(RoleCreate)
    const ctx = await this.context()
    const role = await createRole(ctx, {name: args.name, description: flags.description, permissions: flags.permission ?? []})
    this.print(`created role ${roleLine(role)}\n`)
    return role
  }
}
