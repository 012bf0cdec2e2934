import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {declaredCommands} from '../../cli/flags/access.js'
import {permissionColumns} from '../../cli/reporters/access.js'
import {listPermissions, type PermissionView} from '../../lib/access/list.js'

export default class AccessList extends BaseCommand<PermissionView[]> {
  static override summary = 'list every permission, what it allows and which roles grant it'
  static override description =
    'Shows each permission a role can grant: what it allows and the built-in and custom roles that grant it; --json also lists the commands (and flags, such as rds:show --reveal) that need it. `access:explain` answers for one operator or token and one command.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format csv --output permissions.csv',
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override permission = 'operator.view' as const
  static override flags = {...listFlags}

  async run(): Promise<PermissionView[]> {
    const {flags} = await this.parse(AccessList)
    const rows = await listPermissions(await this.context(), {commands: declaredCommands(this.config)})
    this.renderList(rows, permissionColumns, flags)
    return rows
  }
}
