/**
 * The jobs engine: resumable jobs of steps in the control database
 * (ARCHITECTURE.md, Jobs). A kind of job is a JobKind (./kind.ts) listed in
 * JOB_KINDS (./kinds.ts); a command creates a job with enqueueJob and runs it
 * in the foreground with runJob, or leaves it to `job:work` (runWorker).
 */
export {cancelJob, retryJob, type RetryJobOptions} from './control.js'
export {describeJobError, failedJobExitCode, isTransientError} from './errors.js'
export type {JobKind, JobState, JsonObject, JsonValue, StepDefinition, StepRun, StepState} from './kind.js'
export {JOB_KINDS, jobKindRegistry, type JobKindRegistry} from './kinds.js'
export {claimJob, claimJobs} from './lease.js'
export {executeClaimedJob, type JobContext, type JobEvent, type JobOutcome, runCreatedJob, runJob, type RunJobOptions} from './runner.js'
export {DEFAULT_JOB_SETTINGS, type JobSettings, retryDelayMs} from './settings.js'
export {
  enqueueJob,
  type EnqueueJobInput,
  JOB_STATES,
  type JobListItem,
  type JobStepView,
  type JobView,
  listJobs,
  type ListJobsInput,
  parseJobId,
  showJob,
} from './store.js'
export {runWorker, type WorkerOptions, type WorkerReport} from './worker.js'
