import type {OpsContext} from '../context.js'

/**
 * What a kind of job is: an ordered list of steps, each checkpointed in the
 * control database as it completes, each safe to run again, each with an
 * optional compensation that `job:cancel` runs in reverse order (the saga
 * pattern). The runner (./runner.ts) owns the job and step rows, the lease,
 * retries and the audit entries; a kind owns only what its steps do on the
 * servers it touches.
 */

/** A JSON object: what a job's input and a step's output are stored as. */
export type JsonObject = {[key: string]: JsonValue}
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject

export type JobState = 'queued' | 'running' | 'failed' | 'canceling' | 'canceled' | 'done'
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'compensating' | 'compensated'

/** What a step's code gets: the context, the job, the outputs of the steps before it, and its own checkpoint. */
export interface StepRun<Input extends JsonObject = JsonObject> {
  /** The context the worker runs with (the control database, the fleet, the clock, the audit actor). */
  ctx: Pick<OpsContext, 'db' | 'fleet' | 'fleetOptions' | 'audit' | 'now' | 'keyring'>
  job: {id: number; kind: string; input: Input}
  /** The outputs of the steps already done, by step name. */
  outputs: Readonly<Record<string, JsonObject>>
  /** 1 for the first attempt of this step, counting retries and resumes. */
  attempt: number
  /**
   * What an earlier attempt of this step stored with `checkpoint` before it was
   * interrupted (null on a first attempt): the step uses it to find what that
   * attempt may already have created, instead of creating it twice.
   */
  previous: JsonObject | null
  /**
   * Stores `partial` as this step's checkpoint, committed before it returns:
   * call it before a write whose result a re-run must be able to find.
   */
  checkpoint(partial: JsonObject): Promise<void>
  /** Aborts when the worker is stopping (Ctrl-C, SIGTERM) or loses its lease. */
  signal: AbortSignal
  /**
   * Look-ups that do not change while the job runs (the registry rows of the
   * servers its steps reach), kept for this run of the job only: a run that
   * takes the job over starts with none.
   */
  memo: Map<string, unknown>
}

export interface StepDefinition<Input extends JsonObject = JsonObject> {
  /** Stable, kebab-case: stored in job_steps.name and shown by job:show. */
  name: string
  /**
   * Does the step and returns its output (stored as the step's output). Must be
   * idempotent: on a re-run it finds what an earlier attempt created (from
   * `previous`, or by a key it chose before writing) and returns that.
   * Throws a `UserError`/`NotFoundError` (permanent: the job fails at once) or
   * anything else (a driver error: transient ones are retried with backoff).
   */
  run(step: StepRun<Input>): Promise<JsonObject>
  /**
   * The step writes only to the control database: the runner runs it inside
   * the transaction that records it (`step.ctx.db` is that transaction), so
   * its writes and its output commit together, or not at all. Such a step
   * must not start a transaction of its own (see `inTransaction`).
   */
  control?: boolean
  /**
   * Undoes what this step created, given its output (or its checkpoint when it
   * was interrupted: `output` is null then). Idempotent; never removes what the
   * step did not create. Absent: nothing to undo.
   */
  compensate?(step: StepRun<Input>, output: JsonObject | null): Promise<void>
}

export interface JobKind<Input extends JsonObject = JsonObject> {
  /** Stored in jobs.kind: `tenant.create`. */
  kind: string
  /** Checks and normalises an input before the job is created (UserError on bad input). */
  parseInput(raw: unknown): Input
  steps: readonly StepDefinition<Input>[]
  /** The tenant a job of this kind concerns, for the audit entries and job:list (null until known). */
  describe?(input: Input, outputs: Readonly<Record<string, JsonObject>>): {tenantName?: string; tenantMasterId?: number | null; rdsId?: number | null}
}
