import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {editOperator, type OperatorView} from '../../lib/operator/service.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

export default class OperatorEdit extends BaseCommand<OperatorView> {
  static override summary = "change an operator's name, role or active state"
  static override description =
    'Changes what is given and nothing else. The last active system_admin cannot be disabled or given another role. A change of role applies to their next command.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com --role read_only',
    '<%= config.bin %> <%= command.id %> 3 --name "Ana Lopez" --active',
  ]
  static override permission = 'operator.manage' as const
  static override args = {operator: Args.string({description: 'email or id', required: true})}
  static override flags = {
    name: Flags.string({description: 'a new name'}),
    role: Flags.string({description: 'a new role (see role:list)'}),
    active: Flags.boolean({description: 'enable (--active) or disable (--no-active)', allowNo: true}),
  }

  async run(): Promise<OperatorView> {
    const {args, flags} = await this.parse(OperatorEdit)
    const ctx = await this.context()
    const operator = await editOperator(ctx, {ref: args.operator, changes: {name: flags.name, role: flags.role, isActive: flags.active}})
    const shown = escapeControlDeep(operator)
    this.print(`operator ${shown.email}: ${shown.role}, ${shown.isActive ? 'active' : 'disabled'}\n`)
    return operator
  }
}
