import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {revokeToken, type TokenView} from '../../lib/token/tokens.js'

export default class TokenRevoke extends BaseCommand<TokenView> {
  static override summary = 'revoke a service token at once'
  static override description =
    'Revokes a token by name or id: the next command run with it exits 5. The row is kept (revoked) for the record; revoking it again changes nothing.'
  static override examples = ['<%= config.bin %> <%= command.id %> nightly-sync', '<%= config.bin %> <%= command.id %> 3 --json']
  static override permission = 'operator.manage' as const
  static override args = {token: Args.string({description: 'the token name or id', required: true})}

  async run(): Promise<TokenView> {
    const {args} = await this.parse(TokenRevoke)
    const ctx = await this.context()
    const revoked = await revokeToken(ctx, {ref: args.token})
    const shown = escapeControlDeep(revoked)
    this.print(`token "${shown.name}" revoked at ${shown.revokedAt}\n`)
    return revoked
  }
}
