import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {roleColumns} from '../../cli/reporters/auth.js'
import {listRoles, type RoleView} from '../../lib/role/roles.js'

export default class RoleList extends BaseCommand<RoleView[]> {
  static override summary = 'list roles, their permissions and who holds them'
  static override description =
    'Shows every role (built-in or custom), how many permissions it grants, and how many operators and active tokens hold it. `role:show ROLE` lists its permissions.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override permission = 'operator.view' as const
  static override flags = {...listFlags}

  async run(): Promise<RoleView[]> {
    const {flags} = await this.parse(RoleList)
    const rows = await listRoles(await this.context())
    this.renderList(rows, roleColumns, flags)
    return rows
  }
}
