import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {newPassword} from '../../cli/prompts/password.js'
import {addOperator, type OperatorView} from '../../lib/operator/service.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

export default class OperatorAdd extends BaseCommand<OperatorView> {
  static override summary = 'add an operator (a person who signs in to raiops)'
  static override description =
    'Creates an operator with an email, a name and a role; the password is asked on a hidden prompt (twice) or read with --password-stdin, never from a flag, and stored as a bcrypt hash. The operator then signs in with `raiops auth:login`.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --email ana@example.com --name "Ana Ops" --role support_admin',
    '<%= config.bin %> <%= command.id %> --email ci@example.com --name CI --role read_only --password-stdin < password.txt',
  ]

  static override permission = 'operator.manage' as const
  static override flags = {
    email: Flags.string({description: 'the email they sign in with', required: true}),
    name: Flags.string({description: 'their name', required: true}),
    role: Flags.string({description: 'their role (see role:list)', required: true}),
    'password-stdin': Flags.boolean({description: 'read the password from standard input (first line)'}),
  }

  async run(): Promise<OperatorView> {
    const {flags} = await this.parse(OperatorAdd)
    const ctx = await this.context()
    const password = await newPassword({
      stdin: flags['password-stdin'],
      interactive: this.interactive(),
      what: `the password of ${flags.email}`,
    })
    const operator = await addOperator(ctx, {email: flags.email, name: flags.name, role: flags.role, password})
    const shown = escapeControlDeep(operator)
    this.print(`added operator ${shown.email} (${shown.role}), id ${shown.id}\n`)
    return operator
  }
}
