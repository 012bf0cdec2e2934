import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {operatorColumns} from '../../cli/reporters/operator.js'
import {listOperators, type OperatorView} from '../../lib/operator/service.js'

export default class OperatorList extends BaseCommand<OperatorView[]> {
  static override summary = 'list operators'
  static override description =
    'Shows every operator: email, name, role, whether active, last sign-in, and a lock after failed logins. Password hashes are never shown.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --format csv --output operators.csv']
  static override permission = 'operator.view' as const
  static override flags = {...listFlags}

  async run(): Promise<OperatorView[]> {
    const {flags} = await this.parse(OperatorList)
    const rows = await listOperators(await this.context())
    this.renderList(rows, operatorColumns(this.color), flags)
    return rows
  }
}
