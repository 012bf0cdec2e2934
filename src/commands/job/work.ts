import {BaseCommand} from '../../cli/base-command.js'
import {jobWorkFlags} from '../../cli/flags/job.js'
import {jobEventLine, workerSummaryLine} from '../../cli/reporters/job.js'
import {runWorker, type WorkerReport} from '../../lib/jobs/index.js'

export default class JobWork extends BaseCommand<WorkerReport> {
  static override summary = 'run queued jobs: a worker, for a service manager or cron'
  static override description = `Claims queued jobs whose time has come, and jobs whose worker died (their lease expired: RAIOPS_JOB_LEASE_MS after its last heartbeat), and runs them, --concurrency at a time. Any number of workers, on any machines, can share one control database: each job is claimed by exactly one. A step that fails on a transient error (a server unreachable, a timeout, a deadlock) is retried with exponential backoff (RAIOPS_JOB_RETRY_DELAY_MS, doubling up to RAIOPS_JOB_RETRY_MAX_MS) up to RAIOPS_JOB_RETRY_LIMIT times; then, or at once on any other error, the job fails and waits for job:retry or job:cancel.

Without --once it runs until Ctrl-C or SIGTERM, which stop the jobs under way at their current step and put them back in the queue.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --once',
    '<%= config.bin %> <%= command.id %> --concurrency 4 --poll 5',
  ]

  static override permission = 'jobs.manage' as const
  static override flags = jobWorkFlags

  async run(): Promise<WorkerReport> {
    const {flags} = await this.parse(JobWork)
    const ctx = await this.context()
    this.note(flags.once ? 'running the jobs that can run now' : `waiting for jobs, ${flags.concurrency} at a time (Ctrl-C to stop)`)
    const report = await runWorker(ctx, {
      once: flags.once,
      concurrency: flags.concurrency,
      pollMs: flags.poll * 1000,
      signal: this.stopSignal('the jobs under way go back to the queue at their current step'),
      settings: this.runtime.config.jobs,
      onStep: (event) => this.note(`job ${event.jobId} ${jobEventLine(this.color, event)}`),
      onWarning: (message) => this.note(message),
      onJob: (event) => {
        if (event.outcome !== 'claimed') this.note(`job ${event.jobId}: ${event.outcome}${event.error ? `: ${event.error}` : ''}`)
      },
    })
    this.note(workerSummaryLine(report))
    this.exitIfInterrupted()
    return report
  }
}
