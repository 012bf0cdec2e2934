import {BaseCommand} from '../../cli/base-command.js'
import {jobArg} from '../../cli/flags/job.js'
import {renderJobShown} from '../../cli/reporters/job.js'
import {type JobView, parseJobId, showJob} from '../../lib/jobs/index.js'

export default class JobShow extends BaseCommand<JobView> {
  static override summary = 'show one job: its steps with their state, timing, attempts, outputs and errors, and what to do next'
  static override description = `Shows a job and each of its steps: state, attempts, when it started and finished, its output (what it created: ids, names; secrets redacted) or, for a step interrupted part-way, its checkpoint, and its last error. next_steps (nextSteps in --json) says what an operator can do now: retry once a server is back, cancel to undo what was done, or wait for the worker running it.`

  static override examples = ['<%= config.bin %> <%= command.id %> 12', '<%= config.bin %> <%= command.id %> 12 --json']

  static override permission = 'jobs.view' as const
  static override args = {id: jobArg}

  async run(): Promise<JobView> {
    const {args} = await this.parse(JobShow)
    const job = this.pii(await showJob(await this.context(), {id: parseJobId(args.id)}))
    this.print(renderJobShown(this.color, job))
    return job
  }
}
