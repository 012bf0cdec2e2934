import {BaseCommand} from '../../cli/base-command.js'
import {jobArg} from '../../cli/flags/job.js'
import {jobEndLine, jobEventLine} from '../../cli/reporters/job.js'
import {cancelJob, type JobView, parseJobId} from '../../lib/jobs/index.js'

export default class JobCancel extends BaseCommand<JobView> {
  static override summary = 'cancel a job, undoing what its steps did, in reverse order'
  static override description = `Cancels a queued, failed or abandoned job (its worker died: a worker killed on this machine is taken over at once, one elsewhere once its lease expires): the compensation of each step that ran (done, or interrupted part-way) runs in reverse order, one line per step, each safe to run again. A compensation that fails is recorded and the others still run; the job then stays canceling, and running job:cancel again retries only what is left. Ctrl-C lets the compensation under way finish, runs no more and leaves the job canceling. Audited: job.cancel, each step undone, job.canceled.

Exit codes: 0 canceled, 1 some compensation failed (the job stays canceling), 2 the job is done (a done job is not canceled), 6 a live worker is running it, 130/143 stopped by Ctrl-C/SIGTERM (the job stays canceling).`

  static override examples = ['<%= config.bin %> <%= command.id %> 12', '<%= config.bin %> <%= command.id %> 12 --json']

  static override permission = 'jobs.manage' as const
  static override args = {id: jobArg}

  async run(): Promise<JobView> {
    const {args} = await this.parse(JobCancel)
    const ctx = await this.context()
    const job = await cancelJob(
      ctx,
      {id: parseJobId(args.id)},
      {
        signal: this.stopSignal('the compensation under way finishes; `raiops job:cancel` again runs the others'),
        settings: this.runtime.config.jobs,
        onStep: (event) => this.note(jobEventLine(this.color, event)),
      },
    )
    this.note(jobEndLine(this.color, job))
    this.exitIfInterrupted()
    if (job.state === 'canceling') this.exitWith(1)
    return job
  }
}
