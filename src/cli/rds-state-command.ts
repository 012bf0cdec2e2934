import {setRdsState, type StateChangeResult} from '../lib/rds/service.js'
import type {RdsState} from '../lib/rds/types.js'
import {escapeControl} from '../lib/text/escape.js'
import {BaseCommand} from './base-command.js'
import {rdsArg} from './flags/rds.js'
import {colourState} from './reporters/rds.js'

/** rds:drain, rds:lock and rds:online: one RDS argument, one state each. */
export abstract class RdsStateCommand extends BaseCommand<StateChangeResult> {
  static override examples = ['<%= config.bin %> <%= command.id %> main', '<%= config.bin %> <%= command.id %> 3 --json']
  static override permission = 'rds.manage' as const
  static override args = {rds: rdsArg}

  protected abstract readonly state: RdsState

  async run(): Promise<StateChangeResult> {
    // oclif spreads the command class into its parser options, which drops inherited static
    // args; hand them over explicitly.
    const ctor = this.ctor as typeof RdsStateCommand
    const {args} = await this.parse({args: ctor.args, flags: ctor.flags, baseFlags: ctor.baseFlags, enableJsonFlag: ctor.enableJsonFlag})
    const result = await setRdsState(await this.context(), {ref: args.rds, state: this.state})
    const name = escapeControl(result.rds.name)
    this.log(
      result.changed
        ? `RDS ${name}: ${colourState(this.color, result.previous)} → ${colourState(this.color, result.rds.state)}`
        : `RDS ${name} is already ${colourState(this.color, result.rds.state)}: nothing changed`,
    )
    return result
  }
}
