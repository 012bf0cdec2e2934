import {BaseCommand} from '../../cli/base-command.js'
import {userListFlags} from '../../cli/flags/user.js'
import {userListColumns, userListSummary} from '../../cli/reporters/user.js'
import {ExitCode} from '../../lib/errors/index.js'
import {listUsers, type UserListResult} from '../../lib/user/list.js'

export default class UserList extends BaseCommand<UserListResult> {
  static override summary = "a tenant's users, read live from its RDS"
  static override description = `Reads the tenant's users from its RDS within --timeout, by id, a page at a time: id, name, email, status, ghost flag, last update. --status, --search (name or email contains, case-insensitive) and --ghosts filter on the RDS itself; stderr says how many users match in all and the --after of the next page. An RDS that cannot be read exits 3 naming the cause, with no rows. Emails are masked without pii.view; password hashes are never read.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --tenant main:17',
    '<%= config.bin %> <%= command.id %> --tenant "Harbor Bakery" --status active --search ana --ghosts exclude',
    '<%= config.bin %> <%= command.id %> --tenant 42 --limit 200 --after 1200 --format csv --output users.csv',
  ]

  protected override errorsNameUsers = true

  static override permission = 'user.view' as const
  static override flags = userListFlags

  async run(): Promise<UserListResult> {
    const {flags} = await this.parse(UserList)
    const ctx = await this.context()
    const input = {tenant: flags.tenant, statuses: flags.status, search: flags.search, ghosts: flags.ghosts, limit: flags.limit}
    const result = this.pii(await listUsers(ctx, {...input, after: flags.after, timeoutMs: flags.timeout}))
    if (result.error === null) this.renderList(result.users, userListColumns(this.color), flags, ctx.now())
    this.note(userListSummary(this.color, result))
    if (result.error !== null) this.exitWith(ExitCode.partial)
    return result
  }
}
