import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {editOperator, type OperatorView} from '../../lib/operator/service.js'
import {escapeControl} from '../../lib/text/escape.js'

export default class OperatorDisable extends BaseCommand<OperatorView> {
  static override summary = 'disable an operator: their session and sign-in stop working at once'
  static override description =
    'Marks the operator inactive: their next command, even with a session still stored, exits 5, and they cannot sign in. The row is kept for the audit trail; `operator:edit --active` enables them again. The last active system_admin cannot be disabled.'
  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com']
  static override permission = 'operator.manage' as const
  static override args = {operator: Args.string({description: 'email or id', required: true})}

  async run(): Promise<OperatorView> {
    const {args} = await this.parse(OperatorDisable)
    const ctx = await this.context()
    const operator = await editOperator(ctx, {ref: args.operator, changes: {isActive: false}, action: 'operator.disable'})
    this.print(`operator ${escapeControl(operator.email)} disabled\n`)
    return operator
  }
}
