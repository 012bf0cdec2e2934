import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {rdsColumns} from '../../cli/reporters/rds.js'
import {listRds} from '../../lib/rds/service.js'
import type {RdsView} from '../../lib/rds/types.js'

export default class RdsList extends BaseCommand<RdsView[]> {
  static override summary = 'list the registered RDS instances'
  static override description =
    'Shows every registered RDS with its engine, endpoint, master flag, state (online/draining/locked) and last known health. Passwords are never shown.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --format csv --output rds.csv',
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override permission = 'rds.view' as const
  static override flags = {...listFlags}

  async run(): Promise<RdsView[]> {
    const {flags} = await this.parse(RdsList)
    const rows = await listRds({db: await this.runtime.db()})
    this.renderList(rows, rdsColumns(this.color), flags)
    return rows
  }
}
