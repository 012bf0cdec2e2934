import {BaseCommand} from '../../cli/base-command.js'
import {tenantCreateFlags, tenantCreateRequest} from '../../cli/flags/tenant-create.js'
import {newPassword} from '../../cli/prompts/password.js'
import {jobEventLine} from '../../cli/reporters/job.js'
import {renderTenantCreate} from '../../cli/reporters/tenant-create.js'
import {UserError} from '../../lib/errors/index.js'
import {failedJobExitCode} from '../../lib/jobs/index.js'
import {createTenant, type CreateTenantResult} from '../../lib/provisioning/create.js'

export default class TenantCreate extends BaseCommand<CreateTenantResult> {
  static override summary = 'create a tenant on the right RDS, as a job that resumes where it stopped'
  static override description = `Places the tenant (see placement:explain, or --rds), then runs a job of steps, one line each: place, tenant row, owner user, locations, routing entry on the master, registry row, subscription (with --plan), ghost users, verify (every row read back and compared), done. Killed or failed part-way, the job resumes from its step with \`raiops job:retry ID\` (or a \`job:work\` worker) and never writes a row twice; \`raiops job:cancel ID\` removes what it wrote.

The owner's password is asked on a hidden prompt, read with --owner-password-stdin, or left unusable with --owner-without-password; it is hashed once ($2y$, the fleet's cost) before the job is created, and kept only encrypted in the job until the owner row is written. Exit 2 when the input is wrong or no RDS can take the tenant (nothing written), or when the job fails on something to fix (a name taken); exit 1 when a server could not be reached: retry it once it is back.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --name "Harbor Bakery" --owner-name "Hana Li" --owner-email hana@harbor.example --locations 3',
    '<%= config.bin %> <%= command.id %> --name "Harbor Bakery" --owner-name "Hana Li" --owner-email hana@harbor.example --owner-password-stdin --locations "Main St,Airport" --plan starter --quantity-from locations --trial-until 2027-01-15 < pw.txt',
    '<%= config.bin %> <%= command.id %> --name Acme --owner-name Ana --owner-email ana@acme.example --owner-without-password --rds eu-2 --detach --json',
  ]

  static override permission = 'tenant.edit' as const
  static override flagPermissions = {plan: 'billing.edit'} as const
  static override flags = tenantCreateFlags

  async run(): Promise<CreateTenantResult> {
    const {flags} = await this.parse(TenantCreate)
    if (!flags['owner-without-password'] && !flags['owner-password-stdin'] && !this.interactive())
      throw new UserError(`the password of ${flags['owner-email']} is needed: give it on a terminal or with --owner-password-stdin`, {
        hint: 'or --owner-without-password: the owner cannot log in until it is reset',
      })
    const password = flags['owner-without-password']
      ? null
      : await newPassword({stdin: flags['owner-password-stdin'], interactive: this.interactive(), what: `the password of ${flags['owner-email']}`})
    const result = await createTenant(await this.context(), tenantCreateRequest(flags, password, this.runtime.config), {
      detach: flags.detach,
      onStep: (event) => {
        if (event.type !== 'step.start') this.note(jobEventLine(this.color, event))
      },
      settings: this.runtime.config.jobs,
      signal: flags.detach ? undefined : this.stopSignal('the job goes back to the queue at the step it was at'),
    })
    this.print(renderTenantCreate(this.color, result))
    this.exitIfInterrupted()
    const failed = failedJobExitCode(result.job)
    if (failed !== null) this.exitWith(failed)
    return result
  }
}
