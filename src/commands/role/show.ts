import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderRole} from '../../cli/reporters/auth.js'
import {showRole, type RoleView} from '../../lib/role/roles.js'

export default class RoleShow extends BaseCommand<RoleView> {
  static override summary = 'show a role and each permission it grants'
  static override description = 'Lists the permissions a role grants, each with what it allows.'
  static override examples = ['<%= config.bin %> <%= command.id %> support_admin', '<%= config.bin %> <%= command.id %> read_only --json']
  static override permission = 'operator.view' as const
  static override args = {role: Args.string({description: 'the role', required: true})}

  async run(): Promise<RoleView> {
    const {args} = await this.parse(RoleShow)
    const role = await showRole(await this.context(), {name: args.role})
    this.print(renderRole(role))
    return role
  }
}
