import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {commandArg} from '../../cli/flags/access.js'
import {renderAccess} from '../../cli/reporters/operator.js'
import {explainAccess, type AccessExplanation} from '../../lib/access/explain.js'

export default class AccessExplain extends BaseCommand<AccessExplanation> {
  static override summary = 'say whether an operator may run a command, and why'
  static override description =
    'Looks up the permission the command needs, the operator (active or not) and what their role grants, and says yes or no with the reason. Exit 0 either way; the answer is in the output (and "allowed" under --json).'
  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com rds:add', '<%= config.bin %> <%= command.id %> 3 sync:all --json']
  static override permission = 'operator.view' as const
  static override args = {
    operator: Args.string({description: 'email or id', required: true}),
    command: commandArg,
  }

  async run(): Promise<AccessExplanation> {
    const {args} = await this.parse(AccessExplain)
    const answer = await explainAccess(await this.context(), {operator: args.operator, command: args.command})
    this.print(renderAccess(this.color, answer))
    return answer
  }
}
