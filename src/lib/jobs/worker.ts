import {setTimeout as sleep} from 'node:timers/promises'

import {describeJobError, isTransientError} from './errors.js'
import {JOB_KINDS, type JobKindRegistry} from './kinds.js'
import {claimJobs, newJobHolder} from './lease.js'
import {executeClaimedJob, type JobContext, type JobEvent, type JobOutcome} from './runner.js'
import {jobSettings, type JobSettings} from './settings.js'

export interface WorkerOptions {
  /** Run what can be claimed now, then return (cron, tests); else poll until `signal` aborts. */
  once?: boolean
  /** Jobs run at the same time (default 1). */
  concurrency?: number
  /** How often an idle worker looks for jobs, ms (default 2000). */
  pollMs?: number
  /** Ctrl-C, SIGTERM: no more claims; the jobs under way stop at their step and go back to the queue. */
  signal?: AbortSignal
  settings?: Partial<JobSettings>
  kinds?: JobKindRegistry
  onStep?(event: JobEvent): void
  /** A job claimed, and how its run ended. */
  onJob?(event: {jobId: number; outcome: JobOutcome | 'claimed' | 'error'; error?: string}): void
  /** A look for jobs that failed on a transient error (the control database unreachable): a polling worker tries again at its next poll. */
  onWarning?(message: string): void
}

export interface WorkerReport {
  /** Each job this worker ran, in the order they ended. */
  jobs: Array<{id: number; outcome: JobOutcome | 'error'; error?: string}>
  /** Stopped by its signal (rather than out of work with --once). */
  stopped: boolean
}

/**
 * The `job:work` loop: claims due jobs (and those whose worker died) with the
 * conditional UPDATE of lease.ts, up to `concurrency` at a time, runs each
 * with its lease and heartbeat, and claims again as they end. With `once` it
 * returns when nothing more can be claimed and its jobs have ended. An error
 * of the control database while running a job is reported for that job; the
 * job's lease then expires and a worker takes it over.
 */
export async function runWorker(ctx: JobContext, options: WorkerOptions = {}): Promise<WorkerReport> {
  const settings = jobSettings(options.settings)
  const kinds = options.kinds ?? JOB_KINDS
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const pollMs = options.pollMs ?? 2000
  const signal = options.signal
  const report: WorkerReport = {jobs: [], stopped: false}
  const running = new Map<number, Promise<void>>()
  const stopped = signal ? [abortPromise(signal)] : []

  const start = (id: number, holder: string): void => {
    options.onJob?.({jobId: id, outcome: 'claimed'})
    const work = executeClaimedJob(ctx, id, holder, {settings, kinds, onStep: options.onStep, signal})
      .then((outcome) => {
        report.jobs.push({id, outcome})
        options.onJob?.({jobId: id, outcome})
      })
      .catch((error: unknown) => {
        const message = describeJobError(error)
        report.jobs.push({id, outcome: 'error', error: message})
        options.onJob?.({jobId: id, outcome: 'error', error: message})
      })
      .finally(() => running.delete(id))
    running.set(id, work)
  }

  for (;;) {
    if (signal?.aborted) break
    const free = concurrency - running.size
    let claimed: number[] = []
    if (free > 0) {
      const holders = new Map<number, string>()
      try {
        claimed = await claimJobs(ctx.db, {
          holder: (id) => {
            const holder = newJobHolder()
            holders.set(id, holder)
            return holder
          },
          limit: free,
          kinds,
          leaseMs: settings.leaseMs,
          now: ctx.now(),
        })
      } catch (error) {
        // A polling worker outlives an outage of the control database; a --once run reports it.
        if (options.once || !isTransientError(error)) throw error
        options.onWarning?.(`could not look for jobs: ${describeJobError(error)}; trying again in ${Math.round(pollMs / 1000)} s`)
      }
      for (const id of claimed) start(id, holders.get(id) as string)
    }
    if (claimed.length > 0 && running.size < concurrency) continue
    if (running.size > 0) {
      // Wait for a slot (or a stop), then claim again.
      await Promise.race([...running.values(), ...stopped])
      continue
    }
    if (options.once) break
    try {
      await sleep(pollMs, undefined, {signal})
    } catch {
      break
    }
  }
  await Promise.all(running.values())
  report.stopped = signal?.aborted ?? false
  return report
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), {once: true})
  })
}
