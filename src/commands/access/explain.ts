import {BaseCommand} from '../../cli/base-command.js'
import {explainArgs, explainFlags, explainTarget} from '../../cli/flags/access.js'
import {renderAccess} from '../../cli/reporters/access.js'
import {explainAccess, type AccessExplanation} from '../../lib/access/explain.js'

export default class AccessExplain extends BaseCommand<AccessExplanation> {
  static override summary = 'say whether an operator or a token may run a command, and why'
  static override description = `Looks up every permission the command needs (its own, and those of the flags named after it, such as rds:show --reveal), who would run it (an operator, active or disabled, or with --token a service token, active, expired or revoked) and what their role grants, and says yes or no with the reason.

Exit 0 either way; the answer is in the output ("allowed", and each permission in "needs", under --json). The command's own arguments and flag values may be left in: only its flags are read.`

  static override usage = ['<%= command.id %> OPERATOR COMMAND [FLAGS…]', '<%= command.id %> --token NAME COMMAND [FLAGS…]']
  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com rds:add',
    '<%= config.bin %> <%= command.id %> ana@example.com rds:show --reveal',
    '<%= config.bin %> <%= command.id %> --token ci-health rds:health',
    '<%= config.bin %> <%= command.id %> 3 sync:all --json',
  ]
  static override permission = 'operator.view' as const
  // The flags after COMMAND are that command's, not this one's: kept as words (strict off), not refused as unknown ('--' off).
  static override strict = false
  static readonly '--' = false
  static override args = explainArgs
  static override flags = explainFlags

  async run(): Promise<AccessExplanation> {
    const {argv, flags} = await this.parse(AccessExplain)
    const answer = await explainAccess(await this.context(), explainTarget(argv as string[], flags.token, this.config))
    this.print(renderAccess(this.color, answer))
    return answer
  }
}
