import {BaseCommand} from '../../cli/base-command.js'
import {passwordCheckArgs, passwordCheckFlags} from '../../cli/flags/password-check.js'
import {passwordCheckExit, passwordCheckSummary, passwordDriftColumns, passwordTenantColumns} from '../../cli/reporters/password.js'
import {checkPasswords, type PasswordCheck} from '../../lib/password/check.js'

export default class PasswordCheckCommand extends BaseCommand<PasswordCheck> {
  static override summary = "whether a person's password hashes agree across tenants (or, with --all, every multi-tenant email's)"
  static override description = `EMAIL: reads the person's routing rows on the master RDS (user_email_routing, email compared lower-cased), then the user row each names on its tenant's RDS, one query per RDS, all at once, each within --timeout. One row per tenant: whether the user row's hash is the routing row's (in step, differs, no password, no user row, RDS unavailable), which password it holds as a group (A, B…: tenants in the same group share the same hash; the same password hashed twice is two groups) and the bcrypt cost of each. --all: the fleet-wide drift report, set-based: on the master the emails routed to more than one tenant (one GROUP BY) and their routing rows, on each RDS the user rows they name by id, never one query per email: how many multi-tenant emails, how many out of sync, which (at most --limit) and on which RDS. Hashes are compared in memory and never shown, in any format. Exit codes: 0 all in step and one password; 4 something is out of sync (a script's "unhealthy"); 3 a server could not be read (the master: its cause; an RDS: its rows unavailable, the others reported), before 4. Emails are masked without pii.view.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ana@example.com',
    '<%= config.bin %> <%= command.id %> Ana@Example.com --json',
    '<%= config.bin %> <%= command.id %> --all --limit 200 --format csv --output drift.csv',
  ]

  protected override errorsNameUsers = true

  static override permission = 'user.view' as const
  static override args = passwordCheckArgs
  static override flags = passwordCheckFlags

  async run(): Promise<PasswordCheck> {
    const {args, flags} = await this.parse(PasswordCheckCommand)
    const ctx = await this.context()
    const result = this.pii(await checkPasswords(ctx, {email: args.email, all: flags.all, timeoutMs: flags.timeout, limit: flags.limit}))
    if (result.kind === 'email') this.renderList(result.tenants, passwordTenantColumns(this.color), flags, ctx.now())
    else this.renderList(result.drifted, passwordDriftColumns(this.color), flags, ctx.now())
    this.note(passwordCheckSummary(this.color, result))
    this.exitWith(passwordCheckExit(result))
    return result
  }
}
