import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderOperator} from '../../cli/reporters/operator.js'
import {permissionsOf} from '../../lib/auth/identity.js'
import {showOperator, type OperatorView} from '../../lib/operator/service.js'

export default class OperatorShow extends BaseCommand<OperatorView & {permissions: string[]}> {
  static override summary = 'show one operator and what their role allows'
  static override description = 'Shows an operator (by email or id) with their role and the permissions it grants.'
  static override examples = ['<%= config.bin %> <%= command.id %> ana@example.com', '<%= config.bin %> <%= command.id %> 2 --json']
  static override permission = 'operator.view' as const
  static override args = {operator: Args.string({description: 'email or id', required: true})}

  async run(): Promise<OperatorView & {permissions: string[]}> {
    const {args} = await this.parse(OperatorShow)
    const {db} = await this.context()
    const operator = await showOperator({db}, {ref: args.operator})
    const permissions = await permissionsOf(db, operator.role)
    this.print(renderOperator({...operator, permissions}))
    return {...operator, permissions}
  }
}
