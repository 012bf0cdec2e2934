import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rdsArg} from '../../cli/flags/rds.js'
import {renderRdsShown} from '../../cli/reporters/rds.js'
import {REVEAL_PERMISSION, showRdsSettings} from '../../lib/rds/show.js'
import type {RdsView} from '../../lib/rds/types.js'

export default class RdsShow extends BaseCommand<RdsView & {password?: string | null}> {
  static override summary = 'show one RDS instance'
  static override description = `Shows every setting of an RDS and its last known health. The password is not shown: only whether one is stored.

--reveal also prints the stored password, for an operator whose role has rds.secrets (system_admin); every reveal is written to the audit trail.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> main',
    '<%= config.bin %> <%= command.id %> 3 --json',
    '<%= config.bin %> <%= command.id %> main --reveal',
  ]
  static override permission = 'rds.view' as const
  static override flagPermissions = {reveal: REVEAL_PERMISSION}
  static override args = {rds: rdsArg}
  static override flags = {reveal: Flags.boolean({description: `also show the stored password (needs ${REVEAL_PERMISSION}; audited)`})}

  async run(): Promise<RdsView & {password?: string | null}> {
    const {args, flags} = await this.parse(RdsShow)
    const shown = await showRdsSettings(await this.context(), {ref: args.rds, reveal: flags.reveal})
    this.print(renderRdsShown(this.color, shown))
    return shown
  }
}
