import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'

import type {Db} from '../db/control-db.js'
import {describeDriverError} from '../db/driver-errors.js'
import {JOBS_TABLE, type JobRow} from '../db/tables.js'
import {BusyError} from '../errors/index.js'
import {formatHolder, holderProvenGone} from '../lease/lease.js'
import {processIdentity} from '../lease/process-identity.js'
import type {JobKindRegistry} from './kinds.js'

/** Claims of one job (jobs.attempts) after which a claim fails it instead of running it: a worker keeps dying on it (graphile-worker's maxAttempts). */
export const MAX_JOB_CLAIMS = 25

/** The size of jobs.locked_by (its migration). */
const MAX_LOCKED_BY = 255

/**
 * A worker as jobs.locked_by names it, in the form of the sync leases
 * (lease/lease.ts): `host:pid:id` with a new id for each run of a job and, on
 * Linux, what proves which process that pid is (`:bootId/pidNamespace/startTime`),
 * so that a run on this machine can tell a worker killed with `kill -9` is gone.
 */
export function newJobHolder(): string {
  const holder = {host: hostname(), pid: process.pid, id: randomBytes(6).toString('hex'), process: processIdentity(process.pid)}
  const text = formatHolder(holder)
  // A hostname too long for both keeps the job without the proof: it is then taken over only once its lease expires.
  return text.length <= MAX_LOCKED_BY ? text : formatHolder({...holder, process: null})
}

/** Whether the worker that holds a job (its locked_by) ran on this machine and is proven gone (`holderProvenGone`). */
export function jobHolderGone(lockedBy: string | null): boolean {
  return lockedBy !== null && holderProvenGone(lockedBy)
}

/** The job is no longer held by this run: another worker took it over, or it changed under it. Nothing more is written. */
export class JobLeaseLostError extends BusyError {}

/**
 * Claims the job `id` for `holder`, with one conditional UPDATE every engine
 * runs atomically (the pg-boss pattern): a queued job whose time has come, or a
 * running one whose worker died (its lease expired). Of two workers racing for
 * a job exactly one updates the row; the other sees no row affected.
 * `anyRunAfter` (a job run in the foreground) does not wait out a backoff.
 * `takeOverGone` (the same): a running job whose worker is proven gone
 * (`jobHolderGone`: killed on this machine) is taken over before its lease
 * expires, by an UPDATE conditional on the exact locked_by read, so that of
 * two runs racing for it exactly one wins.
 */
export async function claimJob(
  db: Db,
  id: number,
  holder: string,
  now: Date,
  leaseMs: number,
  options: {anyRunAfter?: boolean; takeOverGone?: boolean} = {},
): Promise<boolean> {
  const claim = {
    state: 'running' as const,
    locked_by: holder,
    lease_expires_at: new Date(now.getTime() + leaseMs),
    heartbeat_at: now,
    attempts: db.raw('attempts + 1'),
    started_at: db.raw('COALESCE(started_at, ?)', [now]),
    updated_at: now,
  }
  const updated = await db(JOBS_TABLE)
    .where({id})
    .andWhere((where) => {
      void where
        .where((queued) => {
          void queued.where({state: 'queued'})
          if (!options.anyRunAfter) void queued.andWhere('run_after', '<=', now)
        })
        .orWhere((abandoned) => void abandoned.where({state: 'running'}).andWhere('lease_expires_at', '<', now))
    })
    .update(claim)
  if (Number(updated) === 1) return true
  if (!options.takeOverGone) return false
  const held = (await db(JOBS_TABLE).where({id}).first('state', 'locked_by')) as Pick<JobRow, 'state' | 'locked_by'> | undefined
  if (held?.state !== 'running' || !jobHolderGone(held.locked_by)) return false
  const taken = await db(JOBS_TABLE).where({id, state: 'running', locked_by: held.locked_by}).update(claim)
  return Number(taken) === 1
}

/**
 * Claims up to `limit` jobs that can run now (queued and due, or abandoned by a
 * dead worker) of the kinds given, oldest first; returns their ids.
 */
export async function claimJobs(
  db: Knex,
  input: {holder: (id: number) => string; limit: number; kinds: JobKindRegistry; leaseMs: number; now: Date},
): Promise<number[]> {
  const kinds = [...input.kinds.keys()]
  if (input.limit < 1 || kinds.length === 0) return []
  const now = input.now
  const candidates = (await db(JOBS_TABLE)
    .whereIn('kind', kinds)
    .andWhere((where) => {
      void where
        .where((queued) => void queued.where({state: 'queued'}).andWhere('run_after', '<=', now))
        .orWhere((abandoned) => void abandoned.where({state: 'running'}).andWhere('lease_expires_at', '<', now))
    })
    .orderBy([{column: 'run_after'}, {column: 'id'}])
    .limit(input.limit * 4)
    .pluck('id')) as number[]
  const claimed: number[] = []
  for (const candidate of candidates) {
    if (claimed.length >= input.limit) break
    const id = Number(candidate)
    if (await claimJob(db, id, input.holder(id), now, input.leaseMs)) claimed.push(id)
  }
  return claimed
}

export interface JobLease {
  readonly holder: string
  /** Aborts (with a JobLeaseLostError) when a heartbeat finds the job no longer held by this run. */
  readonly signal: AbortSignal
  readonly lost: boolean
  /**
   * Inside a transaction that records something of the job: renews the lease
   * and checks it is still held, locking the job row until the commit, so that
   * no takeover slips between the check and the write. Throws JobLeaseLostError when it is not.
   */
  assertHeld(tx: Db, now: Date): Promise<void>
  /** A write conditional on this run holding the job found it did not: the run stops; returns the error to throw. */
  lose(reason?: string): JobLeaseLostError
  stop(): void
}

/**
 * Keeps a claimed job's lease alive: every leaseMs/3 its expiry is pushed on,
 * conditional on the job still being held by `holder` in one of `states`. If
 * it is not (taken over after a stall), or half the lease has passed since the
 * last renewal that succeeded while renewals fail or hang, the signal aborts
 * and the run stops touching the job.
 */
export function holdJobLease(
  db: Knex,
  input: {jobId: number; holder: string; leaseMs: number; now: () => Date; states: ReadonlyArray<'running' | 'canceling'>},
): JobLease {
  const {jobId, holder, leaseMs, now, states} = input
  const controller = new AbortController()
  let expiresAt = now().getTime() + leaseMs
  let beating = false
  let stopped = false

  const lose = (reason: string): JobLeaseLostError => {
    if (!controller.signal.aborted) controller.abort(new JobLeaseLostError(`lost job ${jobId}: ${reason}`, {hint: `see \`raiops job:show ${jobId}\``}))
    clearInterval(timer)
    return controller.signal.reason as JobLeaseLostError
  }

  const renew = async (tx: Db, at: Date): Promise<boolean> => {
    const next = new Date(at.getTime() + leaseMs)
    const updated = await tx(JOBS_TABLE)
      .where({id: jobId, locked_by: holder})
      .whereIn('state', [...states])
      .update({lease_expires_at: next, heartbeat_at: at})
    if (Number(updated) !== 1) return false
    expiresAt = Math.max(expiresAt, next.getTime())
    return true
  }

  let failure: unknown = null
  const timer = setInterval(
    () => {
      if (stopped || controller.signal.aborted) return
      // A renewal that hangs or keeps failing: stop once half the lease has passed since the last one that succeeded,
      // well before another worker may take the job over.
      if ((beating || failure !== null) && now().getTime() >= expiresAt - leaseMs / 2) {
        const why = failure === null ? 'the control database did not answer' : describeDriverError(failure)
        lose(`could not renew its lease for ${Math.round(leaseMs / 2)} ms: ${why}`)
        return
      }
      if (beating) return
      beating = true
      renew(db, now())
        .then((held) => {
          failure = null
          if (!held && !stopped) lose('another worker took it over, or it was changed meanwhile')
        })
        .catch((error: unknown) => {
          failure = error
        })
        .finally(() => {
          beating = false
        })
    },
    Math.max(10, Math.floor(leaseMs / 3)),
  )
  timer.unref()

  return {
    holder,
    signal: controller.signal,
    get lost() {
      return controller.signal.aborted
    },
    async assertHeld(tx: Db, at: Date): Promise<void> {
      if (controller.signal.aborted) throw controller.signal.reason
      if (!(await renew(tx, at))) throw lose('another worker took it over, or it was changed meanwhile')
    },
    lose(reason = 'another worker took it over, or it was changed meanwhile'): JobLeaseLostError {
      return lose(reason)
    },
    stop(): void {
      stopped = true
      clearInterval(timer)
    },
  }
}
