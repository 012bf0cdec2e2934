import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {jobArg} from '../../cli/flags/job.js'
import {jobEndLine, jobEventLine} from '../../cli/reporters/job.js'
import {failedJobExitCode, type JobView, parseJobId, retryJob} from '../../lib/jobs/index.js'

export default class JobRetry extends BaseCommand<JobView> {
  static override summary = 'run a failed job again, from the step that failed'
  static override description = `Puts a failed job back in the queue (audited job.retry) and runs it here, in the foreground, one line per step, from the step that failed: the steps already done are not run again. With --detach it is only queued, for a running \`raiops job:work\`. A queued job, or one whose worker died, is run the same way: a worker killed on this machine is taken over at once (with --detach, queued again at once), one elsewhere once its lease expires. Ctrl-C stops it at its current step and leaves it queued.

Exit codes: 0 done (or queued with --detach); 2 it failed again on something to fix (a name taken, a server locked: job:show says why), or the job is done or canceled; 1 it failed again because a server could not be reached, after its retries: retry once it is back; 6 a live worker is running it, or took it over while it ran here.`

  static override examples = ['<%= config.bin %> <%= command.id %> 12', '<%= config.bin %> <%= command.id %> 12 --detach --json']

  static override permission = 'jobs.manage' as const
  static override args = {id: jobArg}
  static override flags = {detach: Flags.boolean({description: 'only queue it again, for `raiops job:work` to run'})}

  async run(): Promise<JobView> {
    const {args, flags} = await this.parse(JobRetry)
    const ctx = await this.context()
    const job = await retryJob(
      ctx,
      {id: parseJobId(args.id)},
      {
        detach: flags.detach,
        settings: this.runtime.config.jobs,
        signal: flags.detach ? undefined : this.stopSignal('the job goes back to the queue at its current step'),
        onStep: (event) => this.note(jobEventLine(this.color, event)),
      },
    )
    this.note(jobEndLine(this.color, job))
    this.exitIfInterrupted()
    const failed = failedJobExitCode(job)
    if (failed !== null) this.exitWith(failed)
    return job
  }
}
