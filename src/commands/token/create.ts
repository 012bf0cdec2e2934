import {BaseCommand} from '../../cli/base-command.js'
import {tokenCreateFlags} from '../../cli/flags/token.js'
import {tokenCreatedNote} from '../../cli/reporters/token.js'
import {createToken, type TokenView} from '../../lib/token/tokens.js'

export default class TokenCreate extends BaseCommand<TokenView & {token: string}> {
  static override summary = 'create a service token for cron or CI (shown once)'
  static override description = `Creates a token with a role and an expiry and prints it once: store it in your secret manager and give it to the job as RAIOPS_TOKEN. raiops keeps only its SHA-256, so it cannot show it again. With --json the token is in the "token" field. An expired or revoked token is refused with exit 5; token:list shows when each was last used.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --name nightly-sync --role system_admin --expires 90d',
    '<%= config.bin %> <%= command.id %> --name ci-health --role read_only --expires 2027-01-01 --json',
  ]

  static override permission = 'operator.manage' as const
  static override flags = tokenCreateFlags

  async run(): Promise<TokenView & {token: string}> {
    const {flags} = await this.parse(TokenCreate)
    const created = await createToken(await this.context(), {name: flags.name, role: flags.role, ...flags.expires})
    this.print(`${created.token}\n`)
    this.note(tokenCreatedNote(created))
    return created
  }
}
