import {BaseCommand, listFlags} from '../../cli/base-command.js'
import {jobListFilterFlags} from '../../cli/flags/job.js'
import {jobColumns} from '../../cli/reporters/job.js'
import {type JobListItem, listJobs} from '../../lib/jobs/index.js'

export default class JobList extends BaseCommand<JobListItem[]> {
  static override summary = 'list jobs (tenant creation and other resumable work), newest first'
  static override description = `Reads the control database's jobs: each with its kind, state (queued, running, failed, canceling, canceled, done), the tenant it concerns, the step it is at and its last error. Filters combine. See one job's steps with job:show.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --state failed',
    '<%= config.bin %> <%= command.id %> --kind tenant.create --limit 10 --json',
  ]

  static override permission = 'jobs.view' as const
  static override flags = {...jobListFilterFlags, ...listFlags}

  async run(): Promise<JobListItem[]> {
    const {flags} = await this.parse(JobList)
    const ctx = await this.context()
    const jobs = this.pii(await listJobs(ctx, {state: flags.state, kind: flags.kind, tenant: flags.tenant, limit: flags.limit}))
    this.renderList(jobs, jobColumns(this.color), flags, ctx.now())
    return jobs
  }
}
