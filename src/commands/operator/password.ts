import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {newPassword} from '../../cli/prompts/password.js'
import {setOperatorPassword, type OperatorView} from '../../lib/operator/service.js'
import {escapeControl} from '../../lib/text/escape.js'

export default class OperatorPassword extends BaseCommand<OperatorView> {
  static override summary = "set an operator's password (and lift a lock)"
  static override description =
    'Sets a new password, asked on a hidden prompt (twice) or read with --password-stdin, never from a flag. A lock after failed logins is lifted. The change is audited, the password never is.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com',
    '<%= config.bin %> <%= command.id %> ana@example.com --password-stdin < new-password.txt',
  ]
  static override permission = 'operator.manage' as const
  static override args = {operator: Args.string({description: 'email or id', required: true})}
  static override flags = {'password-stdin': Flags.boolean({description: 'read the password from standard input (first line)'})}

  async run(): Promise<OperatorView> {
    const {args, flags} = await this.parse(OperatorPassword)
    const ctx = await this.context()
    const password = await newPassword({
      stdin: flags['password-stdin'],
      interactive: this.interactive(),
      what: `the new password of ${args.operator}`,
    })
    const operator = await setOperatorPassword(ctx, {ref: args.operator, password})
    this.print(`password of ${escapeControl(operator.email)} set\n`)
    return operator
  }
}
