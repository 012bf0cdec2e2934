import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {explainAccess, type AccessExplanation} from '../../lib/access/explain.js'
import {NotFoundError} from '../../lib/errors/index.js'
import {escapeControl} from '../../lib/text/escape.js'

export default class AccessExplain extends BaseCommand<AccessExplanation> {
  static override summary = 'say whether an operator may run a command, and why'
  static override description =
    'Looks up the permission the command needs, the operator (active or not) and what their role grants, and says yes or no with the reason. Exit 0 either way; the answer is in the output (and "allowed" under --json).'
  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com rds:add', '<%= config.bin %> <%= command.id %> 3 sync:all --json']
  static override permission = 'operator.view' as const
  static override args = {
    operator: Args.string({description: 'email or id', required: true}),
    command: Args.string({description: 'a raiops command, e.g. rds:add', required: true}),
  }

  async run(): Promise<AccessExplanation> {
    const {args} = await this.parse(AccessExplain)
    const id = args.command.replaceAll(' ', ':')
    const command = this.config.findCommand(id)
    if (!command) throw new NotFoundError(`no command "${args.command}"`, {hint: 'see `raiops --help`'})
    const permission = (command as unknown as {permission?: string | null}).permission ?? null
    const answer = await explainAccess(await this.context(), {operator: args.operator, command: {id, permission}})
    this.print(`${answer.allowed ? this.color.green('yes') : this.color.red('no')}: ${escapeControl(answer.reason)}\n`)
    return answer
  }
}
