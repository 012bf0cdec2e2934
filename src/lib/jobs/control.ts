import {appendAudit} from '../audit/writer.js'
import {JOB_STEPS_TABLE, JOBS_TABLE, type JobRow, type JobStepRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {BusyError, UserError} from '../errors/index.js'
import {describeJobError} from './errors.js'
import type {JsonObject} from './kind.js'
import {JOB_KINDS} from './kinds.js'
import {holdJobLease, jobHolderGone, JobLeaseLostError, newJobHolder} from './lease.js'
import {type JobContext, type JobEvent, runJob, type RunJobOptions} from './runner.js'
import {jobSettings} from './settings.js'
import {
  appendJobAudits,
  describeHolder,
  jobAudit,
  type JobView,
  kindOf,
  parseJsonObject,
  readJobRow,
  readStepRows,
  showJob,
  stepsMatchKind,
  unauditedSteps,
} from './store.js'

function busyWith(row: JobRow): BusyError {
  return new BusyError(`job ${row.id} is being ${row.state === 'canceling' ? 'canceled' : 'run'} by ${describeHolder(row.locked_by ?? 'another worker')}`, {
    hint: `wait for it to stop (\`raiops job:show ${row.id}\`), then cancel it`,
  })
}

const leaseLive = (row: JobRow, now: Date): boolean => row.locked_by !== null && Date.parse(toIso(row.lease_expires_at) ?? '') >= now.getTime()

export interface RetryJobOptions extends RunJobOptions {
  /** Only queue it again, for a `job:work` worker to run; default: run it here, in the foreground. */
  detach?: boolean
}

/**
 * `job:retry`: makes a failed job runnable again — queued, due now, its failed
 * step pending with its retry count reset, audited `job.retry` — and, unless
 * `detach`, runs it here at once (`runJob`), returning how that run ended. Its
 * done steps stay done: a run continues from the step that failed. A queued
 * job, or a running one whose worker died (its lease expired, or its process
 * is proven gone on this machine), is run the same way (with `detach`,
 * returned as it is, save one whose worker is proven gone before its lease
 * expired: queued again, for a worker to take now). Its claims are counted again from 0 (see
 * MAX_JOB_CLAIMS). Done and canceled jobs are refused (exit 2), as is one of a
 * kind this raiops does not know when it is to run here (nothing changed);
 * one a live worker is running is busy (exit 6).
 */
export async function retryJob(ctx: JobContext, input: {id: number}, options: RetryJobOptions = {}): Promise<JobView> {
  const {id} = input
  const now = ctx.now()
  const row = await readJobRow(ctx.db, id)
  switch (row.state) {
    case 'failed':
    case 'queued':
      break
    case 'running':
      if (!leaseLive(row, now) || jobHolderGone(row.locked_by)) break
      throw new BusyError(`job ${id} is being run by ${describeHolder(row.locked_by as string)}`, {hint: `follow it with \`raiops job:show ${id}\``})
    case 'done':
      throw new UserError(`job ${id} is done: there is nothing to retry`, {hint: `see \`raiops job:show ${id}\``})
    default:
      throw new UserError(`job ${id} is ${row.state}: a canceled job is not retried`, {
        hint: row.state === 'canceling' ? `\`raiops job:cancel ${id}\` finishes canceling it` : 'create a new job',
      })
  }
  // To be run here, its kind must be known here: refused before anything changes.
  if (!options.detach) kindOf(options.kinds ?? JOB_KINDS, row.kind)
  if (row.state === 'failed') {
    await ctx.db.transaction(async (tx) => {
      const updated = await tx(JOBS_TABLE)
        .where({id, state: 'failed'})
        .update({state: 'queued', attempts: 0, run_after: now, error: null, error_kind: null, finished_at: null, updated_at: now})
      if (Number(updated) !== 1) throw new BusyError(`job ${id} changed meanwhile`, {hint: `see \`raiops job:show ${id}\` and try again`})
      const failed = await tx(JOB_STEPS_TABLE).where({job_id: id, state: 'failed'}).pluck('name')
      await tx(JOB_STEPS_TABLE).where({job_id: id, state: 'failed'}).update({state: 'pending', finished_at: null, updated_at: now})
      await tx(JOB_STEPS_TABLE).where({job_id: id}).update({retries: 0})
      await appendAudit(tx, ctx.audit, jobAudit(row, 'job.retry', {state: 'failed', error: row.error}, {state: 'queued', from: failed[0] ?? null}), now)
    })
  }
  if (options.detach && row.state === 'running' && leaseLive(row, now)) {
    // Its worker killed on this machine, its lease not expired yet: queued again at once (conditional on the exact
    // locked_by read, so a run taking it over meanwhile wins), for a worker to continue it at the step it was at.
    await ctx.db.transaction(async (tx) => {
      const updated = await tx(JOBS_TABLE)
        .where({id, state: 'running', locked_by: row.locked_by})
        .update({state: 'queued', attempts: 0, locked_by: null, lease_expires_at: null, run_after: now, updated_at: now})
      if (Number(updated) !== 1) throw new BusyError(`job ${id} changed meanwhile`, {hint: `see \`raiops job:show ${id}\` and try again`})
      // The step it was at waits for the worker, as a stopped run leaves it.
      await tx(JOB_STEPS_TABLE).where({job_id: id, state: 'running'}).update({state: 'pending', error: 'interrupted: its worker died', updated_at: now})
      // The entries of the steps the dead run recorded done, before its own, as a cancel's claim appends them.
      const unaudited = unauditedSteps(await readStepRows(tx, id))
      await appendJobAudits(tx, ctx.audit, row, unaudited, [jobAudit(row, 'job.retry', {state: 'running', worker: 'gone'}, {state: 'queued'})], now)
    })
  }
  if (options.detach) return showJob(ctx, {id})
  return runJob(ctx, id, options)
}

/** A step that ran, fully or in part, and whose effects have not been undone. */
const ran = (step: JobStepRow): boolean => Number(step.attempts) > 0 && step.state !== 'compensated'

/**
 * Cancels a job (`job:cancel`): runs the compensations of the steps that ran
 * (done: they get their stored output, also on a second cancel; interrupted:
 * a null output and their checkpoint as `previous`), in reverse order, each
 * recorded as it completes. A compensation that fails is recorded on its step
 * and the others still run (the saga pattern); the job then stays
 * `canceling`, and running the cancel again runs only those not done.
 * Otherwise the job ends `canceled`. `signal` (Ctrl-C) lets the compensation
 * under way finish, runs no more, and leaves the job `canceling` for a cancel
 * run again to finish. A done job, or one whose steps are not those of its
 * kind here (the kind changed), is refused (exit 2), nothing changed; a job a
 * live worker is running is busy (exit 6). A worker dead (its lease expired, or
 * its process proven gone on this machine: `jobHolderGone`) holds it no more.
 */
export async function cancelJob(ctx: JobContext, input: {id: number}, options: RunJobOptions = {}): Promise<JobView> {
  const {id} = input
  const settings = jobSettings(options.settings)
  const kinds = options.kinds ?? JOB_KINDS
  const emit = (event: JobEvent) => options.onStep?.(event)
  const row = await readJobRow(ctx.db, id)
  if (row.state === 'done') {
    throw new UserError(`job ${id} is done: a done job cannot be canceled`, {hint: 'undo what it did with the commands of what it created'})
  }
  if (row.state === 'canceled') return showJob(ctx, {id})
  // A worker killed on this machine (its process proven gone) holds its job no more: the cancel takes it over at once, as a retry does.
  const gone = (row.state === 'running' || row.state === 'canceling') && jobHolderGone(row.locked_by)
  if ((row.state === 'running' || row.state === 'canceling') && leaseLive(row, ctx.now()) && !gone) throw busyWith(row)
  const kind = kindOf(kinds, row.kind)
  // Compensations are matched to steps by position and name: a kind changed since the job was created cannot undo it.
  if (!stepsMatchKind(await readStepRows(ctx.db, id), kind)) {
    throw new UserError(`the steps of job ${id} are not those of ${kind.kind} in this raiops`, {
      hint: `cancel it with the raiops that created it, or undo what its steps did by hand (\`raiops job:show ${id}\` lists them)`,
    })
  }
  const holder = newJobHolder()
  const claimedAt = ctx.now()
  const claimed = await ctx.db.transaction(async (tx) => {
    const updated = await tx(JOBS_TABLE)
      .where({id})
      .andWhere((where) => {
        void where
          .whereIn('state', ['queued', 'failed'])
          .orWhere(
            (stale) =>
              void stale
                .whereIn('state', ['running', 'canceling'])
                .andWhere((lease) => void lease.whereNull('lease_expires_at').orWhere('lease_expires_at', '<', claimedAt)),
          )
        // Conditional on the exact locked_by read: of two runs taking over the dead worker's job, exactly one wins.
        if (gone) void where.orWhere((dead) => void dead.where({state: row.state, locked_by: row.locked_by}))
      })
      .update({
        state: 'canceling',
        locked_by: holder,
        lease_expires_at: new Date(claimedAt.getTime() + settings.leaseMs),
        heartbeat_at: claimedAt,
        updated_at: claimedAt,
      })
    if (Number(updated) !== 1) return false
    // The entries of the steps a run recorded done and did not audit (it was killed), before the cancel's.
    const unaudited = unauditedSteps(await readStepRows(tx, id))
    await appendJobAudits(tx, ctx.audit, row, unaudited, [jobAudit(row, 'job.cancel', {state: row.state}, {state: 'canceling'})], claimedAt)
    return true
  })
  if (!claimed) {
    const now = await readJobRow(ctx.db, id)
    if (now.state === 'done') throw new UserError(`job ${id} is done: a done job cannot be canceled`)
    throw busyWith(now)
  }

  const lease = holdJobLease(ctx.db, {jobId: id, holder, leaseMs: settings.leaseMs, now: () => ctx.now(), states: ['canceling']})
  const memo = new Map<string, unknown>()
  try {
    const steps = await readStepRows(ctx.db, id)
    const outputs: Record<string, JsonObject> = {}
    // A step's stored output, whatever its state now: a cancel that failed part-way leaves done steps `compensating`.
    for (const s of steps) if (s.output !== null) outputs[s.name] = parseJsonObject(s.output) ?? {}
    const inputJson = parseJsonObject(row.input) ?? {}
    const failures: string[] = []
    let stopped = false
    for (const step of [...steps].reverse()) {
      if (!ran(step)) continue
      if (options.signal?.aborted) {
        stopped = true
        break
      }
      const def = kind.steps[Number(step.position)]
      const position = Number(step.position)
      const base = {jobId: id, step: step.name, position, count: steps.length, attempt: Number(step.attempts)}
      const output = step.output !== null ? (parseJsonObject(step.output) ?? {}) : null
      await ctx.db.transaction(async (tx) => {
        const now = ctx.now()
        await lease.assertHeld(tx, now)
        await tx(JOB_STEPS_TABLE).where({id: step.id}).update({state: 'compensating', updated_at: now})
      })
      emit({...base, type: 'step.compensate'})
      try {
        if (def.compensate) {
          await def.compensate(
            {
              ctx,
              job: {id, kind: row.kind, input: inputJson},
              outputs: Object.freeze({...outputs}),
              attempt: Number(step.attempts),
              previous: parseJsonObject(step.checkpoint),
              memo,
              checkpoint: async (partial) => {
                await ctx.db.transaction(async (tx) => {
                  const now = ctx.now()
                  await lease.assertHeld(tx, now)
                  await tx(JOB_STEPS_TABLE)
                    .where({id: step.id})
                    .update({checkpoint: JSON.stringify(partial), updated_at: now})
                })
              },
              signal: lease.signal,
            },
            output,
          )
        }
      } catch (error) {
        if (error instanceof JobLeaseLostError || lease.lost) throw error
        const message = `compensation failed: ${describeJobError(error)}`
        failures.push(`${step.name}: ${message}`)
        await ctx.db.transaction(async (tx) => {
          const now = ctx.now()
          await lease.assertHeld(tx, now)
          await tx(JOB_STEPS_TABLE).where({id: step.id}).update({error: message, updated_at: now})
          await appendAudit(tx, ctx.audit, jobAudit(row, 'job.step.compensate-fail', null, {step: step.name, error: message}), now)
        })
        emit({...base, type: 'step.compensate-fail', error: message})
        continue
      }
      await ctx.db.transaction(async (tx) => {
        const now = ctx.now()
        await lease.assertHeld(tx, now)
        await tx(JOB_STEPS_TABLE).where({id: step.id}).update({state: 'compensated', error: null, updated_at: now})
        await appendAudit(tx, ctx.audit, jobAudit(row, 'job.step.compensated', null, {step: step.name}), now)
      })
      emit({...base, type: 'step.compensated'})
    }
    await ctx.db.transaction(async (tx) => {
      const now = ctx.now()
      await lease.assertHeld(tx, now)
      if (failures.length > 0 || stopped) {
        if (stopped) failures.push('stopped before its compensations were all run')
        await tx(JOBS_TABLE)
          .where({id})
          .update({error: failures.join('; '), error_kind: null, locked_by: null, lease_expires_at: null, updated_at: now})
        await appendAudit(tx, ctx.audit, jobAudit(row, 'job.cancel.fail', {state: 'canceling'}, {state: 'canceling', errors: failures}), now)
      } else {
        await tx(JOBS_TABLE)
          .where({id})
          .update({state: 'canceled', error: null, error_kind: null, locked_by: null, lease_expires_at: null, finished_at: now, updated_at: now})
        await appendAudit(tx, ctx.audit, jobAudit(row, 'job.canceled', {state: 'canceling'}, {state: 'canceled'}), now)
      }
    })
  } finally {
    lease.stop()
  }
  return showJob(ctx, {id})
}
