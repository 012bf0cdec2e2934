import {BaseCommand, listFlags} from '../../cli/base-command.js'
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
    this.renderList(
      rows,
      [
        {header: 'Role', cell: (r) => r.name},
        {header: 'Kind', cell: (r) => (r.builtin ? 'built-in' : 'custom')},
        {header: 'Permissions', cell: (r) => String(r.permissions.length), plain: (r) => r.permissions.join(' ')},
        {header: 'Operators', cell: (r) => String(r.operators), plain: (r) => r.operators},
        {header: 'Tokens', cell: (r) => String(r.tokens), plain: (r) => r.tokens},
        {header: 'Description', cell: (r) => r.description ?? ''},
      ],
      flags,
    )
    return rows
  }
}
