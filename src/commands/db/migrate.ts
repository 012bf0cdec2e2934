import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {migrateLatest, migrationStatus} from '../../lib/control-db/index.js'

export interface MigrateResult {
  database: string
  applied: string[]
  pending: string[]
  appliedNow: string[]
}

export default class DbMigrate extends BaseCommand<MigrateResult> {
  static override summary = 'apply pending control database migrations'
  static override description =
    'Brings the control database (SQLite in RAIOPS_HOME, or RAIOPS_DATABASE_URL) up to the schema this version of raiops needs. Safe to run at any time: applied migrations are skipped. `--status` only reports.'

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --status --json']
  static override permission = 'system.manage' as const

  static override flags = {
    status: Flags.boolean({description: 'list applied and pending migrations without applying any'}),
  }

  async run(): Promise<MigrateResult> {
    const {flags} = await this.parse(DbMigrate)
    const db = await this.runtime.db({prepare: true})
    const appliedNow = flags.status ? [] : await migrateLatest(db)
    const status = await migrationStatus(db)
    const result = {database: this.runtime.target.display, ...status, appliedNow}
    if (flags.status) {
      for (const name of status.applied) this.log(`${this.color.green('applied')}  ${name}`)
      for (const name of status.pending) this.log(`${this.color.yellow('pending')}  ${name}`)
    } else {
      this.log(appliedNow.length > 0 ? `applied ${appliedNow.length} migration(s) to ${result.database}: ${appliedNow.join(', ')}` : `${result.database} is up to date`)
    }
    return result
  }
}
