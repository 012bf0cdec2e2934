import type {Knex} from 'knex'
import {setTimeout as sleep} from 'node:timers/promises'

import {appendAudit, type AuditEntry} from '../audit/writer.js'
import {JOB_STEPS_TABLE, JOBS_TABLE, type JobRow, type JobStepRow} from '../db/tables.js'
import {BusyError, UserError} from '../errors/index.js'
import {redactValues} from '../redact/index.js'
import {describeJobError, isTransientError} from './errors.js'
import type {JobKind, JsonObject, StepDefinition, StepRun} from './kind.js'
import {JOB_KINDS, type JobKindRegistry} from './kinds.js'
import {claimJob, holdJobLease, type JobLease, JobLeaseLostError, MAX_JOB_CLAIMS, newJobHolder} from './lease.js'
import {jobSettings, type JobSettings, retryDelayMs} from './settings.js'
import {describeHolder, jobAudit, type JobView, parseJsonObject, readJobRow, readStepRows, showJob, stepsMatchKind} from './store.js'

/** What running a job needs: what its steps get (StepRun.ctx). */
export type JobContext = StepRun['ctx']

/** Progress of a job, one event per step transition: what a command prints a line for. */
export interface JobEvent {
  type: 'step.start' | 'step.done' | 'step.retry' | 'step.fail' | 'step.compensate' | 'step.compensated' | 'step.compensate-fail'
  jobId: number
  step: string
  /** 0-based. */
  position: number
  /** How many steps the job has. */
  count: number
  /** The step's attempt (1 for its first). */
  attempt: number
  /** step.done: its output, secrets redacted. */
  output?: JsonObject
  /** step.retry, step.fail, step.compensate-fail: one line. */
  error?: string
  /** step.retry: how long the runner waits before the next attempt. */
  delayMs?: number
}

export interface RunJobOptions {
  onStep?(event: JobEvent): void
  /** Ctrl-C, SIGTERM: the step under way sees it (StepRun.signal); the job goes back to the queue, to resume from that step. */
  signal?: AbortSignal
  settings?: Partial<JobSettings>
  kinds?: JobKindRegistry
}

/** How one run of a job ended: `interrupted` (stopped, queued again), `lost` (another worker holds it now). */
export type JobOutcome = 'done' | 'failed' | 'interrupted' | 'lost'

type HangPoint = 'before' | 'unrecorded' | 'after'

/**
 * The test seam (RAIOPS_JOB_HANG=<step>:<point>): at that point the process
 * says where it is on stderr and waits, for a test to kill -9 it there. Its
 * heartbeat stops, so the job's lease lapses and another worker can take it
 * over; a stop (Ctrl-C, SIGTERM) ends the wait (returns true: the caller
 * puts the job back in the queue).
 */
async function hangAt(run: Run, step: string, point: HangPoint): Promise<boolean> {
  if (run.settings.hang !== `${step}:${point}`) return false
  run.lease.stop()
  process.stderr.write(`hanging at ${step}:${point}\n`)
  const stop = run.stop
  await new Promise<void>((resolve) => {
    const alive = setInterval(() => {}, 1 << 30)
    const end = () => {
      clearInterval(alive)
      resolve()
    }
    if (stop?.aborted) end()
    else stop?.addEventListener('abort', end, {once: true})
  })
  return true
}

/** The job's audit entry, what it became first (see store's `jobAudit`). */
const auditOf = (row: JobRow, action: string, newValues: Record<string, unknown> | null, oldValues: Record<string, unknown> | null = null): AuditEntry =>
  jobAudit(row, action, oldValues, newValues)

function isPlainObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype
}

interface Run {
  ctx: JobContext
  row: JobRow
  kind: JobKind<JsonObject>
  input: JsonObject
  lease: JobLease
  settings: JobSettings
  signal: AbortSignal
  stop: AbortSignal | undefined
  emit(event: JobEvent): void
}

/** The StepRun a step's run() or compensate() gets. */
function stepRun(run: Run, stepRow: JobStepRow, outputs: Record<string, JsonObject>, attempt: number, previous: JsonObject | null): StepRun<JsonObject> {
  const {ctx, row, lease} = run
  return {
    ctx,
    job: {id: Number(row.id), kind: row.kind, input: run.input},
    outputs: Object.freeze({...outputs}),
    attempt,
    previous,
    async checkpoint(partial: JsonObject): Promise<void> {
      const text = JSON.stringify(partial)
      await ctx.db.transaction(async (tx) => {
        const now = ctx.now()
        await lease.assertHeld(tx, now)
        await tx(JOB_STEPS_TABLE).where({id: stepRow.id}).update({checkpoint: text, updated_at: now})
      })
    },
    signal: run.signal,
  }
}

/** Puts a job stopped by Ctrl-C or SIGTERM back in the queue, to resume at the step it was at. */
async function requeue(run: Run, stepRow: JobStepRow | null): Promise<JobOutcome> {
  const {ctx, row, lease} = run
  if (lease.lost) return 'lost'
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await lease.assertHeld(tx, now)
    await tx(JOBS_TABLE).where({id: row.id}).update({state: 'queued', locked_by: null, lease_expires_at: null, run_after: now, updated_at: now})
    if (stepRow) {
      await tx(JOB_STEPS_TABLE)
        .where({id: stepRow.id})
        .whereIn('state', ['running', 'pending'])
        .update({state: 'pending', error: 'interrupted: the worker was stopped', updated_at: now})
    }
  })
  return 'interrupted'
}

async function failJob(run: Run, stepRow: JobStepRow, def: StepDefinition<JsonObject>, error: unknown, attempt: number): Promise<JobOutcome> {
  const {ctx, row, lease} = run
  const message = describeJobError(error)
  const kind = isTransientError(error) ? 'transient' : 'permanent'
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await lease.assertHeld(tx, now)
    await tx(JOB_STEPS_TABLE).where({id: stepRow.id}).update({state: 'failed', error: message, finished_at: now, updated_at: now})
    await tx(JOBS_TABLE)
      .where({id: row.id})
      .update({state: 'failed', error: `${def.name}: ${message}`, error_kind: kind, locked_by: null, lease_expires_at: null, finished_at: now, updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      auditOf(row, 'job.fail', {state: 'failed', step: def.name, error: message, errorKind: kind, attempt}, {state: 'running'}),
      now,
    )
  })
  run.emit({
    type: 'step.fail',
    jobId: Number(row.id),
    step: def.name,
    position: Number(stepRow.position),
    count: run.kind.steps.length,
    attempt,
    error: message,
  })
  return 'failed'
}

/** Fails a job whose kind or steps this raiops cannot run (a permanent error, before any step runs). */
async function failUnrunnable(ctx: JobContext, row: JobRow, lease: JobLease, message: string): Promise<JobOutcome> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await lease.assertHeld(tx, now)
    await tx(JOBS_TABLE)
      .where({id: row.id})
      .update({state: 'failed', error: message, error_kind: 'permanent', locked_by: null, lease_expires_at: null, finished_at: now, updated_at: now})
    await appendAudit(tx, ctx.audit, auditOf(row, 'job.fail', {state: 'failed', error: message, errorKind: 'permanent'}, {state: 'running'}), now)
  })
  return 'failed'
}

/**
 * Runs a job this run has claimed (jobs.locked_by = holder), from its first
 * step not done to its end, holding its lease with a heartbeat. Each step's
 * output is stored, with its `job.step.done` audit entry, in the transaction
 * that marks it done; a transient error is retried with backoff up to the
 * limit; anything else, or the limit, fails the job, as does an output that
 * cannot be recorded. A job claimed more than MAX_JOB_CLAIMS times (since it
 * was created or retried) is failed without running anything.
 */
export async function executeClaimedJob(
  ctx: JobContext,
  jobId: number,
  holder: string,
  options: {settings: JobSettings; kinds: JobKindRegistry; onStep?: (event: JobEvent) => void; signal?: AbortSignal},
): Promise<JobOutcome> {
  const {settings, kinds} = options
  const lease = holdJobLease(ctx.db, {jobId, holder, leaseMs: settings.leaseMs, now: () => ctx.now(), states: ['running']})
  try {
    const row = await readJobRow(ctx.db, jobId)
    if (Number(row.attempts) > MAX_JOB_CLAIMS)
      return await failUnrunnable(ctx, row, lease, `claimed ${Number(row.attempts)} times without finishing: a worker keeps dying on it`)
    const kind = kinds.get(row.kind)
    if (kind === undefined) return await failUnrunnable(ctx, row, lease, `unknown job kind ${row.kind}: run it with the raiops that created it`)
    const steps = await readStepRows(ctx.db, jobId)
    if (!stepsMatchKind(steps, kind)) {
      return await failUnrunnable(ctx, row, lease, `the steps of job ${jobId} are not those of ${kind.kind} in this raiops: cancel it and create it again`)
    }
    const run: Run = {
      ctx,
      row,
      kind,
      input: parseJsonObject(row.input) ?? {},
      lease,
      settings,
      signal: options.signal ? AbortSignal.any([lease.signal, options.signal]) : lease.signal,
      stop: options.signal,
      emit: (event) => options.onStep?.(event),
    }
    const outputs: Record<string, JsonObject> = {}
    for (const s of steps) if (s.state === 'done') outputs[s.name] = parseJsonObject(s.output) ?? {}

    for (const [position, def] of kind.steps.entries()) {
      const stepRow = steps[position]
      if (stepRow.state === 'done') continue
      const outcome = await runStep(run, def, stepRow, outputs)
      if (outcome !== 'done') return outcome
    }

    await ctx.db.transaction(async (tx) => {
      const now = ctx.now()
      await lease.assertHeld(tx, now)
      await tx(JOBS_TABLE)
        .where({id: jobId})
        .update({state: 'done', error: null, error_kind: null, locked_by: null, lease_expires_at: null, finished_at: now, updated_at: now})
      await appendAudit(tx, ctx.audit, auditOf(row, 'job.done', {state: 'done'}, {state: 'running'}), now)
    })
    return 'done'
  } catch (error) {
    if (error instanceof JobLeaseLostError || lease.lost) return 'lost'
    throw error
  } finally {
    lease.stop()
  }
}

/** Runs one step to done (returns 'done'), or to the job's failure, interruption or loss. */
async function runStep(run: Run, def: StepDefinition<JsonObject>, stepRow: JobStepRow, outputs: Record<string, JsonObject>): Promise<JobOutcome> {
  const {ctx, row, lease, settings} = run
  const jobId = Number(row.id)
  const position = Number(stepRow.position)
  const count = run.kind.steps.length
  let retries = Number(stepRow.retries)
  for (;;) {
    if (lease.lost) return 'lost'
    if (run.stop?.aborted) return requeue(run, stepRow)
    if (await hangAt(run, def.name, 'before')) return requeue(run, stepRow)
    const started = await ctx.db.transaction(async (tx) => {
      const now = ctx.now()
      await lease.assertHeld(tx, now)
      const current = await tx(JOB_STEPS_TABLE).where({id: stepRow.id}).first('checkpoint', 'attempts')
      const attempts = Number(current?.attempts ?? 0) + 1
      await tx(JOB_STEPS_TABLE)
        .where({id: stepRow.id})
        .update({state: 'running', attempts, started_at: stepRow.started_at ?? now, updated_at: now})
      return {attempts, checkpoint: current?.checkpoint ?? null}
    })
    const attempt = started.attempts
    const previous = parseJsonObject(started.checkpoint)
    run.emit({type: 'step.start', jobId, step: def.name, position, count, attempt})

    let output: JsonObject
    try {
      const returned = (await def.run(stepRun(run, stepRow, outputs, attempt, previous))) as unknown
      if (!isPlainObject(returned))
        throw new TypeError(`the step ${def.name} returned ${Array.isArray(returned) ? 'an array' : typeof returned}, not an object`)
      output = returned
    } catch (error) {
      if (lease.lost) return 'lost'
      if (run.stop?.aborted) return requeue(run, stepRow)
      if (!isTransientError(error) || retries >= settings.retryLimit) return failJob(run, stepRow, def, error, attempt)
      retries += 1
      const delayMs = retryDelayMs(settings, retries)
      const message = describeJobError(error)
      await ctx.db.transaction(async (tx) => {
        const now = ctx.now()
        await lease.assertHeld(tx, now)
        await tx(JOB_STEPS_TABLE).where({id: stepRow.id}).update({state: 'pending', retries, error: message, updated_at: now})
      })
      run.emit({type: 'step.retry', jobId, step: def.name, position, count, attempt, error: message, delayMs})
      try {
        await sleep(delayMs, undefined, {signal: run.signal})
      } catch {
        // stopped or lost: said at the top of the loop
      }
      continue
    }

    if (await hangAt(run, def.name, 'unrecorded')) return requeue(run, stepRow)
    let outputText: string
    let described: ReturnType<NonNullable<JobKind<JsonObject>['describe']>>
    try {
      outputText = JSON.stringify(output)
      described = run.kind.describe?.(run.input, {...outputs, [def.name]: output}) ?? {}
    } catch (error) {
      // An output that cannot be stored, or a kind that cannot describe it, would fail the same way on every run.
      return failJob(run, stepRow, def, error, attempt)
    }
    try {
      await recordStep(run, def, stepRow, output, outputText, described, attempt)
    } catch (error) {
      // An audit entry refused (AuditEntryError), a column too small: the same on every run, so the job fails here
      // rather than its lease expiring and another worker running the step again. A lost lease or an outage is thrown.
      if (error instanceof JobLeaseLostError || lease.lost || isTransientError(error)) throw error
      return failJob(run, stepRow, def, error, attempt)
    }
    outputs[def.name] = output
    run.emit({type: 'step.done', jobId, step: def.name, position, count, attempt, output: redactValues(output)})
    if (await hangAt(run, def.name, 'after')) return requeue(run, null)
    return 'done'
  }
}

/** Marks a step done with its output, the job's concerns and its `job.step.done` audit entry, in one transaction. */
async function recordStep(
  run: Run,
  def: StepDefinition<JsonObject>,
  stepRow: JobStepRow,
  output: JsonObject,
  outputText: string,
  described: ReturnType<NonNullable<JobKind<JsonObject>['describe']>>,
  attempt: number,
): Promise<void> {
  const {ctx, row, lease} = run
  const jobId = Number(row.id)
  const position = Number(stepRow.position)
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await lease.assertHeld(tx, now)
    await tx(JOB_STEPS_TABLE).where({id: stepRow.id}).update({state: 'done', output: outputText, error: null, retries: 0, finished_at: now, updated_at: now})
    const concerns: Partial<JobRow> = {}
    if (described.tenantName !== undefined) concerns.tenant_name = described.tenantName
    if (described.tenantMasterId !== undefined) concerns.tenant_master_id = described.tenantMasterId
    if (described.rdsId !== undefined) concerns.rds_instance_id = described.rdsId
    if (Object.keys(concerns).length > 0) {
      await tx(JOBS_TABLE).where({id: jobId}).update(concerns)
      Object.assign(row, concerns)
    }
    await appendAudit(tx, ctx.audit, auditOf(row, 'job.step.done', {step: def.name, position, attempt, output: redactValues(output)}), now)
  })
}

/**
 * Runs a job in this process, from its first step not done (`tenant:create`,
 * `job:retry` in the foreground): claims it like a worker would (a queued job,
 * whatever its backoff, or one whose worker died: its lease expired, or its
 * process is proven gone on this machine), then runs it. A job another
 * worker is running is refused (BusyError, exit 6), as is a run that loses
 * the job to another worker part-way (its lease lapsed); a failed one needs
 * `job:retry` first; a done one is returned as it is.
 */
export async function runJob(ctx: JobContext, id: number, options: RunJobOptions = {}): Promise<JobView> {
  const settings = jobSettings(options.settings)
  const kinds = options.kinds ?? JOB_KINDS
  const holder = newJobHolder()
  const now = ctx.now()
  const row = await readJobRow(ctx.db, id)
  if (row.state === 'done') return showJob(ctx, {id})
  if (!kinds.has(row.kind))
    throw new UserError(`job ${id} is of the kind ${row.kind}, which this raiops does not know`, {hint: 'run it with the raiops that created it'})
  if (!(await claimJob(ctx.db, id, holder, now, settings.leaseMs, {anyRunAfter: true, takeOverGone: true}))) throw await notRunnable(ctx.db, id, now)
  const outcome = await executeClaimedJob(ctx, id, holder, {settings, kinds, onStep: options.onStep, signal: options.signal})
  if (outcome === 'lost')
    throw new BusyError(`job ${id}: another worker took the job over`, {
      hint: `its lease lapsed while this run stalled; follow it with \`raiops job:show ${id}\``,
    })
  return showJob(ctx, {id})
}

/** Why a job could not be claimed to run, as the error to throw. */
async function notRunnable(db: Knex, id: number, now: Date): Promise<Error> {
  const row = await readJobRow(db, id)
  switch (row.state) {
    case 'running':
    case 'canceling':
      return new BusyError(`job ${id} is being ${row.state === 'running' ? 'run' : 'canceled'} by ${describeHolder(row.locked_by ?? 'another worker')}`, {
        hint: `follow it with \`raiops job:show ${id}\`; if that worker died, its lease expires and \`raiops job:work\` takes the job over`,
      })
    case 'failed':
      return new UserError(`job ${id} failed: ${row.error ?? 'unknown error'}`, {hint: `\`raiops job:retry ${id}\` runs it again from the step that failed`})
    case 'canceled':
      return new UserError(`job ${id} was canceled`, {hint: 'create a new job'})
    case 'done':
      return new UserError(`job ${id} is done`)
    default:
      return new BusyError(`job ${id} changed while it was being claimed (now ${row.state} at ${now.toISOString()})`, {hint: 'try again'})
  }
}
