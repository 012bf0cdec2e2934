import {BaseCommand} from '../cli/base-command.js'
import {statusFlags} from '../cli/flags/health.js'
import {renderStatus, statusExitCode} from '../cli/reporters/status.js'
import {UserError} from '../lib/errors/index.js'
import {statusOverview, type StatusOverview} from '../lib/status/index.js'

export default class Status extends BaseCommand<StatusOverview> {
  static override summary = 'the system overview: RDS health and state, sync freshness, tenants, routing cache, billing, audit chain'
  static override description = `One screen with a section per concern, each with its state (ok, warn, FAIL, or "never run" when its job has not run yet) and the facts behind it. The RDS section counts active instances by health and by state (online, draining, locked), shows the last check time and names each degraded or down RDS with its reasons; it is read from what the last health check stored (run \`raiops rds:health\` from cron), or probed now with --refresh. The billing section (for a role with billing.view, once a tenant has a subscription) counts subscriptions by status, shows MRR now per currency and the billing alerts by kind; it warns while a period is overdue or a payment failed (\`raiops billing:alerts\` lists them).

--json returns the same data. Exit codes: 4 when the overall state is FAIL (--fail-on warn: also warn; --fail-on never: never), 0 otherwise, so a CI step or a cron check fails on what the screen shows; with --watch, 130 after Ctrl-C.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --refresh',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --refresh --fail-on warn',
    '<%= config.bin %> <%= command.id %> --watch 5 --refresh',
  ]

  static override permission = 'rds.view' as const
  static override flags = statusFlags

  async run(): Promise<StatusOverview> {
    const {flags} = await this.parse(Status)
    if (flags.watch !== undefined && this.jsonEnabled())
      throw new UserError('--watch redraws the terminal; it cannot be combined with --json', {hint: 'drop --watch, or --json'})
    const ctx = await this.context()
    const probing = (probe: () => Promise<unknown>) => this.withProgress('probing every active RDS', probe)
    const refresh = {refreshTimeoutMs: flags.refresh ? flags.timeout : undefined, probing, billingGraceDays: this.runtime.config.billingGraceDays}
    const permissions = this.runtime.resolvedIdentity?.permissions ?? [] // the billing section needs billing.view
    // The audit section names who acted last: emails are masked for a role without pii.view.
    const collect = async (signal?: AbortSignal) => this.pii(await statusOverview(ctx, {...refresh, permissions, signal}))
    const show = (text: string, overview: StatusOverview) => {
      this.exitWith(statusExitCode(overview, flags['fail-on']))
      this.print(text)
    }
    return this.showOrWatch(flags.watch, collect, (overview) => renderStatus(this.color, overview), show)
  }
}
