import {BaseCommand} from '../../cli/base-command.js'
import {emailArg, userFindFlags} from '../../cli/flags/user.js'
import {userFindColumns, userFindSummary} from '../../cli/reporters/user.js'
import {ExitCode} from '../../lib/errors/index.js'
import {findUser, type UserFindResult} from '../../lib/user/find.js'

export default class UserFind extends BaseCommand<UserFindResult> {
  static override summary = 'every tenant and RDS where an email has a user'
  static override description = `Reads the routing cache (kept by sync:routing) for the email, compared lower-cased: one row per tenant, with its RDS, the user's id there, the routing status and how old the cache entry is. An email the cache does not have exits 2. --live then reads each RDS named, all at once, one query each within --timeout: the user's status, ghost flag and last update as the RDS holds them now; a routing entry whose user is gone, has another email or another tenant is flagged, and users with the email that the cache does not list are shown too. An RDS that cannot be read within --timeout marks its entries unavailable (the cause named) and the command exits 3, the other RDS's results kept. Emails are masked without pii.view.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com',
    '<%= config.bin %> <%= command.id %> Ana@Example.com --live --timeout 3',
    '<%= config.bin %> <%= command.id %> ana@example.com --live --json',
  ]

  protected override errorsNameUsers = true

  static override permission = 'user.view' as const
  static override args = {email: emailArg}
  static override flags = userFindFlags

  async run(): Promise<UserFindResult> {
    const {args, flags} = await this.parse(UserFind)
    const ctx = await this.context()
    const result = this.pii(await findUser(ctx, {email: args.email, live: flags.live, timeoutMs: flags.timeout}))
    this.renderList(result.locations, userFindColumns(this.color, flags.live), flags, ctx.now())
    this.note(userFindSummary(this.color, result, ctx.now()))
    if (result.unavailable > 0) this.exitWith(ExitCode.partial)
    return result
  }
}
