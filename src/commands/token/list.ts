import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {tokenColumns} from '../../cli/reporters/token.js'
import {listTokens, type TokenView} from '../../lib/token/tokens.js'

export default class TokenList extends BaseCommand<TokenView[]> {
  static override summary = 'list service tokens (never the tokens themselves)'
  static override description =
    'Shows every service token: name, role, state (active, expired, revoked), expiry and when it was last used. The tokens cannot be shown: only their hashes are kept.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override permission = 'operator.view' as const
  static override flags = {...listFlags}

  async run(): Promise<TokenView[]> {
    const {flags} = await this.parse(TokenList)
    const ctx = await this.context()
    const rows = await listTokens(ctx)
    this.renderList(rows, tokenColumns, flags)
    return rows
  }
}
