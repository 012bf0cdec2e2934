import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {parseDuration} from '../../lib/time/duration.js'
import {parseTimeFlag} from '../../lib/time/parse-time.js'
import {createToken, type TokenView} from '../../lib/token/tokens.js'

export default class TokenCreate extends BaseCommand<TokenView & {token: string}> {
  static override summary = 'create a service token for cron or CI (shown once)'
  static override description = `Creates a token with a role and an expiry and prints it once: store it in your secret manager and give it to the job as RAIOPS_TOKEN. raiops keeps only its SHA-256, so it cannot show it again. With --json the token is in the "token" field. An expired or revoked token is refused with exit 5; token:list shows when each was last used.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --name nightly-sync --role system_admin --expires 90d',
    '<%= config.bin %> <%= command.id %> --name ci-health --role read_only --expires 2027-01-01 --json',
  ]

  static override permission = 'operator.manage' as const
  static override flags = {
    name: Flags.string({description: 'a name for the token (lower case, digits, . _ -)', required: true}),
    role: Flags.string({description: 'the role it acts with', required: true}),
    expires: Flags.string({
      description: 'when it expires: a duration from now (90d) or a date (2027-01-01); "never" for no expiry',
      required: true,
    }),
  }

  async run(): Promise<TokenView & {token: string}> {
    const {flags} = await this.parse(TokenCreate)
    const ctx = await this.context()
    const now = ctx.now()
    const expiresAt =
      flags.expires === 'never'
        ? null
        : /^\d{4}-/.test(flags.expires)
          ? parseTimeFlag(flags.expires, '--expires', now)
          : new Date(now.getTime() + parseDuration(flags.expires, '--expires'))
    const created = await createToken(ctx, {name: flags.name, role: flags.role, expiresAt})
    this.print(`${created.token}\n`)
    const shown = escapeControlDeep({name: created.name, role: created.role, expiresAt: created.expiresAt})
    this.note(`token "${shown.name}" (role ${shown.role}, expires ${shown.expiresAt ?? 'never'}): shown once, store it now`)
    return created
  }
}
