import type {Knex} from 'knex'
import {setTimeout as sleep} from 'node:timers/promises'

import {type AuditEntry, checkAuditEntry} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {JOB_STEPS_TABLE, JOBS_TABLE, type JobRow, type JobStepRow} from '../db/tables.js'
import {toNumberOrNull} from '../db/values.js'
import {BusyError, UserError} from '../errors/index.js'
import {redactValues} from '../redact/index.js'
import {describeJobError, isTransientError} from './errors.js'
import type {JobKind, JsonObject, StepDefinition, StepRun} from './kind.js'
import {JOB_KINDS, type JobKindRegistry} from './kinds.js'
import {claimJob, holdJobLease, type JobLease, JobLeaseLostError, MAX_JOB_CLAIMS, newJobHolder} from './lease.js'
import {jobSettings, type JobSettings, retryDelayMs} from './settings.js'
import {
  appendJobAudits,
  createJob,
  describeHolder,
  type EnqueueJobInput,
  jobAudit,
  jobView,
  type JobView,
  parseJsonObject,
  readJobRow,
  readStepRows,
  showJob,
  stepDoneAudit,
  stepsMatchKind,
  unauditedSteps,
} from './store.js'

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
  /** The job's row and step rows as this run wrote them (the lease's renewals aside). */
  row: JobRow
  steps: JobStepRow[]
  kind: JobKind<JsonObject>
  input: JsonObject
  lease: JobLease
  settings: JobSettings
  signal: AbortSignal
  stop: AbortSignal | undefined
  memo: Map<string, unknown>
  emit(event: JobEvent): void
}

/** A stop of the hang seam inside a step's transaction: rolled back, then the job goes back to the queue. */
const HANG_STOPPED = Symbol('hang stopped')

/**
 * The condition every write of a run to its job's step rows carries: the job
 * is still running and held by this run. A takeover changes `locked_by`, so a
 * match proves no other worker runs the job; the row is read with a share
 * lock (MySQL/MariaDB, PostgreSQL; SQLite has one writer), so a takeover waits
 * for the statement's commit, or the statement sees it.
 */
function heldBy(db: Db, run: Run): Knex.Raw {
  const client = String(db.client.config.client)
  const lock = client === 'mysql2' ? ' LOCK IN SHARE MODE' : client === 'pg' ? ' FOR SHARE' : ''
  return db.raw(`EXISTS (SELECT 1 FROM ?? WHERE ?? = ? AND ?? = ? AND ?? = ?${lock})`, [
    JOBS_TABLE,
    'id',
    Number(run.row.id),
    'locked_by',
    run.lease.holder,
    'state',
    'running',
  ])
}

type StepChange = Partial<Omit<JobStepRow, 'id' | 'job_id' | 'position' | 'name'>>

/**
 * Writes changes to some of the job's step rows in one statement (a CASE per
 * column over the positions), `guarded` by heldBy. A guarded write that
 * finds the job no longer held writes nothing and loses the lease. The rows
 * in memory follow.
 */
async function writeSteps(db: Db, run: Run, changes: ReadonlyMap<number, StepChange>, guarded: boolean): Promise<void> {
  if (changes.size === 0) return
  if (run.lease.lost) throw run.lease.signal.reason
  const positions = [...changes.keys()]
  let query = db(JOB_STEPS_TABLE).where({job_id: Number(run.row.id)})
  if (guarded) query = query.andWhere(heldBy(db, run))
  let updated: number
  if (positions.length === 1) {
    updated = Number(await query.andWhere({position: positions[0]}).update(changes.get(positions[0]) as Record<string, unknown>))
  } else {
    const columns = new Set(positions.flatMap((p) => Object.keys(changes.get(p) as object)))
    const fields: Record<string, Knex.Raw> = {}
    for (const column of columns) {
      const cases = positions.filter((p) => column in (changes.get(p) as object))
      const values = cases.flatMap((p) => [p, (changes.get(p) as Record<string, unknown>)[column]])
      fields[column] = db.raw(`CASE ?? ${cases.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ?? END`, ['position', ...values, column] as Knex.RawBinding[])
    }
    updated = Number(await query.whereIn('position', positions).update(fields))
  }
  if (guarded && updated !== positions.length) throw run.lease.lose()
  for (const [position, change] of changes) Object.assign(run.steps[position], change)
}

/** Updates the job's row, if this run still holds it (else loses the lease); the row in memory follows. */
async function writeJob(tx: Db, run: Run, fields: Partial<JobRow>): Promise<void> {
  if (run.lease.lost) throw run.lease.signal.reason
  const updated = await tx(JOBS_TABLE)
    .where({id: Number(run.row.id), locked_by: run.lease.holder, state: 'running'})
    .update(fields)
  if (Number(updated) !== 1) throw run.lease.lose()
  Object.assign(run.row, fields)
}

/** A step's start: running, one more attempt, started now unless an earlier run started it. */
const startChange = (step: JobStepRow, now: Date): StepChange => ({
  state: 'running',
  attempts: Number(step.attempts) + 1,
  started_at: step.started_at ?? now,
  updated_at: now,
})

/** The first step after `position` not done (null: none, the job is done once it is). */
function nextToRun(run: Run, position: number): number | null {
  for (let p = position + 1; p < run.steps.length; p++) if (run.steps[p].state !== 'done') return p
  return null
}

/** The StepRun a step's run() or compensate() gets; `tx`: a control step's, run in the transaction that records it. */
function stepRun(
  run: Run,
  position: number,
  outputs: Record<string, JsonObject>,
  attempt: number,
  previous: JsonObject | null,
  tx?: Knex.Transaction,
): StepRun<JsonObject> {
  const {ctx, row} = run
  return {
    ctx: tx ? {...ctx, db: tx} : ctx,
    job: {id: Number(row.id), kind: row.kind, input: run.input},
    outputs: Object.freeze({...outputs}),
    attempt,
    previous,
    async checkpoint(partial: JsonObject): Promise<void> {
      if (tx) throw new Error(`the step ${run.steps[position].name} runs in the transaction that records it: it has nothing to checkpoint`)
      const text = JSON.stringify(partial)
      await writeSteps(ctx.db, run, new Map([[position, {checkpoint: text, updated_at: ctx.now()}]]), true)
    },
    signal: run.signal,
    memo: run.memo,
  }
}

/**
 * Puts a job stopped by Ctrl-C or SIGTERM back in the queue, to resume at the
 * step it was at, appending the entries of the steps this run did.
 */
async function requeue(run: Run): Promise<JobOutcome> {
  const {ctx, row, lease} = run
  if (lease.lost) return 'lost'
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await writeJob(tx, run, {state: 'queued', locked_by: null, lease_expires_at: null, heartbeat_at: now, run_after: now, updated_at: now})
    const at = run.steps.find((s) => s.state === 'running' || s.state === 'pending')
    if (at) {
      await tx(JOB_STEPS_TABLE)
        .where({job_id: Number(row.id), position: Number(at.position)})
        .whereIn('state', ['running', 'pending'])
        .update({state: 'pending', error: 'interrupted: the worker was stopped', updated_at: now})
    }
    await appendJobAudits(tx, ctx.audit, row, unauditedSteps(run.steps), [], now)
  })
  return 'interrupted'
}

async function failJob(run: Run, position: number, def: StepDefinition<JsonObject>, error: unknown, attempt: number): Promise<JobOutcome> {
  const {ctx, row} = run
  const message = describeJobError(error)
  const kind = isTransientError(error) ? 'transient' : 'permanent'
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await writeJob(tx, run, {
      state: 'failed',
      error: `${def.name}: ${message}`,
      error_kind: kind,
      locked_by: null,
      lease_expires_at: null,
      heartbeat_at: now,
      finished_at: now,
      updated_at: now,
    })
    await writeSteps(tx, run, new Map([[position, {state: 'failed', error: message, finished_at: now, updated_at: now}]]), false)
    await appendJobAudits(
      tx,
      ctx.audit,
      row,
      unauditedSteps(run.steps),
      [auditOf(row, 'job.fail', {state: 'failed', step: def.name, error: message, errorKind: kind, attempt}, {state: 'running'})],
      now,
    )
  })
  run.emit({type: 'step.fail', jobId: Number(row.id), step: def.name, position, count: run.kind.steps.length, attempt, error: message})
  return 'failed'
}

/** Fails a job whose kind or steps this raiops cannot run (a permanent error, before any step runs). */
async function failUnrunnable(ctx: JobContext, row: JobRow, steps: readonly JobStepRow[], lease: JobLease, message: string): Promise<JobOutcome> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.now()
    await lease.assertHeld(tx, now)
    await tx(JOBS_TABLE)
      .where({id: row.id})
      .update({state: 'failed', error: message, error_kind: 'permanent', locked_by: null, lease_expires_at: null, finished_at: now, updated_at: now})
    await appendJobAudits(
      tx,
      ctx.audit,
      row,
      unauditedSteps(steps),
      [auditOf(row, 'job.fail', {state: 'failed', error: message, errorKind: 'permanent'}, {state: 'running'})],
      now,
    )
  })
  return 'failed'
}

/** How a run of a job ended, with the job as it left it when it is done (what `job:show` would read). */
interface Executed {
  outcome: JobOutcome
  view: JobView | null
}

/**
 * Runs a job this run has claimed (jobs.locked_by = holder), from its first
 * step not done to its end, holding its lease with a heartbeat. Each step's
 * output is stored as it completes, with one statement conditional on the
 * job still being held by this run, which also starts the next step; a
 * control step runs in that statement's transaction. The `job.step.done`
 * entries of the steps done join the audit chain in the transaction that
 * ends the run (ARCHITECTURE.md, "Jobs"). A transient error is retried with
 * backoff up to the limit; anything else, or the limit, fails the job, as does
 * an output that cannot be recorded. A job claimed more than MAX_JOB_CLAIMS
 * times (since it was created or retried) is failed without running anything.
 */
export async function executeClaimedJob(
  ctx: JobContext,
  jobId: number,
  holder: string,
  options: {settings: JobSettings; kinds: JobKindRegistry; onStep?: (event: JobEvent) => void; signal?: AbortSignal},
): Promise<JobOutcome> {
  const row = await readJobRow(ctx.db, jobId)
  const steps = await readStepRows(ctx.db, jobId)
  return (await executeJob(ctx, row, steps, holder, {...options, started: false})).outcome
}

async function executeJob(
  ctx: JobContext,
  row: JobRow,
  steps: JobStepRow[],
  holder: string,
  options: {settings: JobSettings; kinds: JobKindRegistry; onStep?: (event: JobEvent) => void; signal?: AbortSignal; started: boolean},
): Promise<Executed> {
  const {settings, kinds} = options
  const jobId = Number(row.id)
  const lease = holdJobLease(ctx.db, {jobId, holder, leaseMs: settings.leaseMs, now: () => ctx.now(), states: ['running']})
  const ended = (outcome: JobOutcome): Executed => ({outcome, view: null})
  try {
    if (Number(row.attempts) > MAX_JOB_CLAIMS)
      return ended(await failUnrunnable(ctx, row, steps, lease, `claimed ${Number(row.attempts)} times without finishing: a worker keeps dying on it`))
    const kind = kinds.get(row.kind)
    if (kind === undefined) return ended(await failUnrunnable(ctx, row, steps, lease, `unknown job kind ${row.kind}: run it with the raiops that created it`))
    if (!stepsMatchKind(steps, kind)) {
      return ended(
        await failUnrunnable(ctx, row, steps, lease, `the steps of job ${jobId} are not those of ${kind.kind} in this raiops: cancel it and create it again`),
      )
    }
    const run: Run = {
      ctx,
      row,
      steps,
      kind,
      input: parseJsonObject(row.input) ?? {},
      lease,
      settings,
      signal: options.signal ? AbortSignal.any([lease.signal, options.signal]) : lease.signal,
      stop: options.signal,
      memo: new Map(),
      emit: (event) => options.onStep?.(event),
    }
    const outputs: Record<string, JsonObject> = {}
    for (const s of steps) if (s.state === 'done') outputs[s.name] = parseJsonObject(s.output) ?? {}

    const first = nextToRun(run, -1)
    if (first === null) {
      // Every step done (its last recorded, the run killed before the job was): the job is.
      await ctx.db.transaction(async (tx) => {
        const now = ctx.now()
        await writeJob(tx, run, doneFields(now))
        await appendJobAudits(tx, ctx.audit, row, unauditedSteps(steps), [auditOf(row, 'job.done', {state: 'done'}, {state: 'running'})], now)
      })
      return {outcome: 'done', view: jobView(run.row, run.steps, ctx.now())}
    }
    // A job claimed from the queue or from a dead worker: its first step not done starts now (one created claimed started it).
    if (!options.started) await writeSteps(ctx.db, run, new Map([[first, startChange(steps[first], ctx.now())]]), true)
    for (let position: number | null = first; position !== null; position = nextToRun(run, position)) {
      const outcome = await runStep(run, kind.steps[position], position, outputs)
      if (outcome !== 'done') return ended(outcome)
    }
    return {outcome: 'done', view: jobView(run.row, run.steps, ctx.now())}
  } catch (error) {
    if (error instanceof JobLeaseLostError || lease.lost) return ended('lost')
    throw error
  } finally {
    lease.stop()
  }
}

const doneFields = (now: Date): Partial<JobRow> => ({
  state: 'done',
  error: null,
  error_kind: null,
  locked_by: null,
  lease_expires_at: null,
  heartbeat_at: now,
  finished_at: now,
  updated_at: now,
})

/** What recording a step done writes, computed before anything is: an output or a description that cannot be stored fails the job. */
interface Recording {
  output: JsonObject
  outputText: string
  concerns: Partial<JobRow>
}

function recording(run: Run, position: number, output: JsonObject, outputs: Record<string, JsonObject>): Recording {
  const def = run.kind.steps[position]
  const outputText = JSON.stringify(output)
  // Its audit entry joins the chain later (at the run's end): one that could not be stored is refused now, failing the job here.
  checkAuditEntry(run.ctx.audit, stepDoneAudit(run.row, {...run.steps[position], output: outputText, finished_at: run.ctx.now()}))
  const described = run.kind.describe?.(run.input, {...outputs, [def.name]: output}) ?? {}
  const concerns: Partial<JobRow> = {}
  if (described.tenantName !== undefined && described.tenantName !== run.row.tenant_name) concerns.tenant_name = described.tenantName
  if (described.tenantMasterId !== undefined && described.tenantMasterId !== toNumberOrNull(run.row.tenant_master_id))
    concerns.tenant_master_id = described.tenantMasterId
  if (described.rdsId !== undefined && described.rdsId !== toNumberOrNull(run.row.rds_instance_id)) concerns.rds_instance_id = described.rdsId
  return {output, outputText, concerns}
}

/**
 * Records a step done, in `tx` (a control step's transaction) or on its own:
 * its output, and the start of the next step, in one statement guarded by
 * heldBy; with the job's concerns when they changed (then the job's row is
 * updated first, conditional on this run holding it). The last step's record
 * ends the job: done, with the entries of the steps not yet audited and
 * `job.done`, in one transaction.
 */
async function recordStep(run: Run, position: number, rec: Recording, tx: Knex.Transaction | null): Promise<void> {
  const {ctx, row} = run
  const next = nextToRun(run, position)
  const write = async (db: Db, inTx: boolean): Promise<void> => {
    const now = ctx.now()
    const changes = new Map<number, StepChange>([
      [position, {state: 'done', output: rec.outputText, error: null, retries: 0, finished_at: now, updated_at: now}],
    ])
    if (next === null) {
      // The end of the job: every step done is audited here, this one included.
      await writeJob(db, run, {...rec.concerns, ...doneFields(now)})
      const unaudited = unauditedSteps(run.steps).filter((s) => Number(s.position) !== position)
      for (const s of unaudited) changes.set(Number(s.position), {audited_at: now})
      ;(changes.get(position) as StepChange).audited_at = now
      await writeSteps(db, run, changes, false)
      await appendJobAudits(db, ctx.audit, row, [...unaudited, run.steps[position]], [auditOf(row, 'job.done', {state: 'done'}, {state: 'running'})], now, {
        marked: true,
      })
      return
    }
    changes.set(next, startChange(run.steps[next], now))
    if (inTx && Object.keys(rec.concerns).length > 0) {
      await writeJob(db, run, rec.concerns)
      await writeSteps(db, run, changes, false)
    } else await writeSteps(db, run, changes, true)
  }
  if (tx) return write(tx, true)
  if (next === null || Object.keys(rec.concerns).length > 0) return ctx.db.transaction((t) => write(t, true))
  return write(ctx.db, false)
}

/** Runs one step to done (returns 'done'), or to the job's failure, interruption or loss. */
async function runStep(run: Run, def: StepDefinition<JsonObject>, position: number, outputs: Record<string, JsonObject>): Promise<JobOutcome> {
  const {ctx, row, lease, settings} = run
  const jobId = Number(row.id)
  const count = run.kind.steps.length
  const stepRow = run.steps[position]
  let retries = Number(stepRow.retries)
  let started = stepRow.state === 'running'
  for (;;) {
    if (lease.lost) return 'lost'
    if (run.stop?.aborted) return requeue(run)
    if (await hangAt(run, def.name, 'before')) return requeue(run)
    if (!started) await writeSteps(ctx.db, run, new Map([[position, startChange(stepRow, ctx.now())]]), true)
    started = false
    const attempt = Number(stepRow.attempts)
    const previous = parseJsonObject(stepRow.checkpoint)
    run.emit({type: 'step.start', jobId, step: def.name, position, count, attempt})

    const execute = async (tx?: Knex.Transaction): Promise<JsonObject> => {
      const returned = (await def.run(stepRun(run, position, outputs, attempt, previous, tx))) as unknown
      if (!isPlainObject(returned))
        throw new TypeError(`the step ${def.name} returned ${Array.isArray(returned) ? 'an array' : typeof returned}, not an object`)
      return returned
    }
    let phase: 'run' | 'describe' | 'record' = 'run'
    let output: JsonObject | undefined
    // What the run knows of its rows, as before this attempt: a transaction rolled back leaves the rows so.
    const rowBefore = {...run.row}
    const stepsBefore = run.steps.map((s) => ({...s}))
    try {
      if (def.control) {
        // Its writes and its record in one transaction: committed together, or not at all.
        await ctx.db.transaction(async (tx) => {
          output = await execute(tx)
          phase = 'describe'
          const rec = recording(run, position, output, outputs)
          if (await hangAt(run, def.name, 'unrecorded')) throw HANG_STOPPED
          phase = 'record'
          await recordStep(run, position, rec, tx)
        })
      } else {
        output = await execute()
        phase = 'describe'
        if (await hangAt(run, def.name, 'unrecorded')) return requeue(run)
        const rec = recording(run, position, output, outputs)
        phase = 'record'
        await recordStep(run, position, rec, null)
      }
    } catch (error) {
      if (phase !== 'run' || def.control) {
        // (A checkpoint the step stored while it ran outside a transaction is committed: it stays.)
        Object.assign(run.row, rowBefore)
        for (const [i, s] of stepsBefore.entries()) Object.assign(run.steps[i], s)
      }
      if (error === HANG_STOPPED) return requeue(run)
      if (phase === 'describe') {
        // An output that cannot be stored, or a kind that cannot describe it, would fail the same way on every run.
        return failJob(run, position, def, error, attempt)
      }
      if (phase === 'record') {
        // An audit entry refused (AuditEntryError), a column too small: the same on every run, so the job fails here
        // rather than its lease expiring and another worker running the step again. A lost lease or an outage is thrown.
        if (error instanceof JobLeaseLostError || lease.lost || isTransientError(error)) throw error
        return failJob(run, position, def, error, attempt)
      }
      if (lease.lost) return 'lost'
      if (run.stop?.aborted) return requeue(run)
      if (!isTransientError(error) || retries >= settings.retryLimit) return failJob(run, position, def, error, attempt)
      retries += 1
      const delayMs = retryDelayMs(settings, retries)
      const message = describeJobError(error)
      await writeSteps(ctx.db, run, new Map([[position, {state: 'pending', retries, error: message, updated_at: ctx.now()}]]), true)
      run.emit({type: 'step.retry', jobId, step: def.name, position, count, attempt, error: message, delayMs})
      try {
        await sleep(delayMs, undefined, {signal: run.signal})
      } catch {
        // stopped or lost: said at the top of the loop
      }
      continue
    }
    outputs[def.name] = output as JsonObject
    run.emit({type: 'step.done', jobId, step: def.name, position, count, attempt, output: redactValues(output as JsonObject)})
    if (await hangAt(run, def.name, 'after')) return requeue(run)
    return 'done'
  }
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
  if (outcome === 'lost') throw lostJob(id)
  return showJob(ctx, {id})
}

/**
 * Creates a job held by this process and runs it at once (`tenant:create` in
 * the foreground): the job, its steps (the first started) and its
 * `job.create` entry are written in one transaction, already claimed, so no
 * claim nor re-read follows. Returns the job as `job:show` shows it: built from
 * what the run wrote when it is done, read back otherwise.
 */
export async function runCreatedJob(ctx: JobContext & ChangeContext, request: EnqueueJobInput, options: RunJobOptions = {}): Promise<JobView> {
  const settings = jobSettings(options.settings)
  const kinds = options.kinds ?? request.kinds ?? JOB_KINDS
  const holder = newJobHolder()
  const created = await createJob(ctx, {...request, kinds}, {claim: {holder, leaseMs: settings.leaseMs}})
  const id = Number(created.row.id)
  const executed = await executeJob(ctx, created.row, created.steps, holder, {settings, kinds, onStep: options.onStep, signal: options.signal, started: true})
  if (executed.outcome === 'lost') throw lostJob(id)
  return executed.view ?? showJob(ctx, {id})
}

const lostJob = (id: number): BusyError =>
  new BusyError(`job ${id}: another worker took the job over`, {
    hint: `its lease lapsed while this run stalled; follow it with \`raiops job:show ${id}\``,
  })

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
