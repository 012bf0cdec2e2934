import {BaseCommand} from '../../base-command.js'
import {renderRecord} from '../../lib/output/render.js'
import {rdsArg} from '../../lib/rds/flags.js'
import {rdsRecord} from '../../lib/rds/present.js'
import {showRds} from '../../lib/rds/service.js'
import type {RdsView} from '../../lib/rds/types.js'

export default class RdsShow extends BaseCommand<RdsView> {
  static override summary = 'show one RDS instance'
  static override description = 'Shows every setting of an RDS and its last known health. The password is never shown: only whether one is stored.'
  static override examples = ['<%= config.bin %> <%= command.id %> main', '<%= config.bin %> <%= command.id %> 3 --json']
  static override permission = 'rds.view' as const
  static override args = {rds: rdsArg}

  async run(): Promise<RdsView> {
    const {args} = await this.parse(RdsShow)
    const rds = await showRds({db: await this.runtime.db()}, args.rds)
    this.log(renderRecord(rdsRecord(this.color, rds)).trimEnd())
    return rds
  }
}
