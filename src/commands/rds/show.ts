import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rdsArg} from '../../cli/flags/rds.js'
import {renderRecord} from '../../cli/output/render.js'
import {rdsRecord} from '../../cli/reporters/rds.js'
import {assertPermitted} from '../../lib/auth/identity.js'
import {revealRdsPassword, showRds} from '../../lib/rds/service.js'
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
  static override args = {rds: rdsArg}
  static override flags = {reveal: Flags.boolean({description: 'also show the stored password (needs rds.secrets; audited)'})}

  async run(): Promise<RdsView & {password?: string | null}> {
    const {args, flags} = await this.parse(RdsShow)
    if (flags.reveal) {
      assertPermitted(await this.runtime.identity(), 'rds.secrets', 'rds:show --reveal')
      const {rds, password} = await revealRdsPassword(await this.context(), {ref: args.rds})
      this.log(renderRecord({rds, password}, (r) => [...rdsRecord(this.color, r.rds), ['password', r.password ?? '(none stored)']]).trimEnd())
      return {...rds, password}
    }
    const rds = await showRds({db: await this.runtime.db()}, {ref: args.rds})
    this.log(renderRecord(rds, (r) => rdsRecord(this.color, r)).trimEnd())
    return rds
  }
}
