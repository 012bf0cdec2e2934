import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderMigration} from '../../cli/reporters/db.js'
import {migrateControlDb, type MigrateResult} from '../../lib/db/migrate.js'

export default class DbMigrate extends BaseCommand<MigrateResult> {
  static override summary = 'apply pending control database migrations'
  static override description =
    'Brings the control database (SQLite in RAIOPS_HOME, or RAIOPS_DATABASE_URL) up to the schema this version of raiops needs. Safe to run at any time: applied migrations are skipped. `--status` only reports.'

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --status --json']
  // Like init, it runs before any operator or session can exist (and on an upgrade, before the tables
  // sign-in needs are there): the control database credentials are what it requires.
  static override permission = null

  static override flags = {
    status: Flags.boolean({description: 'list applied and pending migrations without applying any'}),
  }

  async run(): Promise<MigrateResult> {
    const {flags} = await this.parse(DbMigrate)
    const result = await migrateControlDb({db: await this.runtime.db({prepare: true})}, {target: this.runtime.target, statusOnly: flags.status})
    this.print(renderMigration(this.color, result, flags.status))
    return result
  }
}
