import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {jobArg} from '../../cli/flags/job.js'
import {jobEndLine, jobEventLine} from '../../cli/reporters/job.js'
import {JOB_KINDS, type JobView, parseJobId, retryJob, runJob} from '../../lib/jobs/index.js'

export default class JobRetry extends BaseCommand<JobView> {
  static override summary = 'run a failed job again, from the step that failed'
  static override description = `Puts a failed job back in the queue (audited job.retry) and runs it here, in the foreground, one line per step, from the step that failed: the steps already done are not run again. With --detach it is only queued, for a running \`raiops job:work\`. A queued job, or one whose worker died, is run the same way. Ctrl-C stops it at its current step and leaves it queued.

Exit codes: 0 done (or queued with --detach), 1 it failed again (job:show says why), 2 the job is done or canceled, 6 a worker is running it, or took it over while it ran here.`

  static override examples = ['<%= config.bin %> <%= command.id %> 12', '<%= config.bin %> <%= command.id %> 12 --detach --json']

  static override permission = 'jobs.manage' as const
  static override args = {id: jobArg}
  static override flags = {detach: Flags.boolean({description: 'only queue it again, for `raiops job:work` to run'})}

  async run(): Promise<JobView> {
    const {args, flags} = await this.parse(JobRetry)
    const ctx = await this.context()
    const queued = await retryJob(ctx, {id: parseJobId(args.id)}, {runHere: flags.detach ? undefined : JOB_KINDS})
    if (flags.detach) {
      this.note(jobEndLine(this.color, queued))
      return queued
    }
    const signal = this.stopSignal('the job goes back to the queue at its current step')
    const job = await runJob(ctx, queued.id, {signal, settings: this.runtime.config.jobs, onStep: (event) => this.note(jobEventLine(this.color, event))})
    this.note(jobEndLine(this.color, job))
    if (job.state === 'failed') this.exitWith(1)
    this.exitIfInterrupted()
    return job
  }
}
