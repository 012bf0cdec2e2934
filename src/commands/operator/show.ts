import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderOperator} from '../../cli/reporters/operator.js'
import {showOperator, type OperatorView} from '../../lib/operator/service.js'

export default class OperatorShow extends BaseCommand<OperatorView & {permissions: string[]}> {
  static override summary = 'show one operator and what their role allows'
  static override description = 'Shows an operator (by email or id) with their role and the permissions it grants.'
  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com', '<%= config.bin %> <%= command.id %> 2 --json']
  static override permission = 'operator.view' as const
  static override args = {operator: Args.string({description: 'email or id', required: true})}

  async run(): Promise<OperatorView & {permissions: string[]}> {
    const {args} = await this.parse(OperatorShow)
    const operator = await showOperator(await this.context(), {ref: args.operator})
    this.print(renderOperator(operator))
    return operator
  }
}
