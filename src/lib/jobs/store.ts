import type {Knex} from 'knex'

import {appendAudit, appendAudits, type AuditContext, type AuditEntry} from '../audit/writer.js'
import type {ChangeContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {insertReturningId} from '../db/control-db.js'
import {JOB_STEPS_TABLE, JOBS_TABLE, type JobRow, type JobStepRow} from '../db/tables.js'
import {toIso, toIsoRequired, toNumberOrNull} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {parseHolder} from '../lease/lease.js'
import {redactValues} from '../redact/index.js'
import type {JobKind, JobState, JsonObject, StepState} from './kind.js'
import {JOB_KINDS, type JobKindRegistry} from './kinds.js'
import {jobHolderGone} from './lease.js'

export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'failed', 'canceling', 'canceled', 'done']

export interface JobStepView {
  position: number
  name: string
  state: StepState
  attempts: number
  startedAt: string | null
  finishedAt: string | null
  /** What the step returned (secrets redacted); null until it is done. */
  output: JsonObject | null
  /** What the step stored while it ran (secrets redacted). */
  checkpoint: JsonObject | null
  error: string | null
}

export interface JobView {
  id: number
  kind: string
  state: JobState
  /** How many times a worker claimed it (since it was created or last retried). */
  attempts: number
  createdBy: string
  tenantName: string | null
  tenantMasterId: number | null
  rdsId: number | null
  /** Secrets redacted. */
  input: JsonObject
  error: string | null
  errorKind: 'transient' | 'permanent' | null
  runAfter: string
  /** The worker holding it (`host:pid:id`), while it runs. */
  lockedBy: string | null
  leaseExpiresAt: string | null
  heartbeatAt: string | null
  createdAt: string
  updatedAt: string
  startedAt: string | null
  finishedAt: string | null
  steps: JobStepView[]
  /** What an operator can do about the job now, as commands. */
  nextSteps: string[]
}

/** Parses a JSON column holding an object; a column holding anything else reads as null. */
export function parseJsonObject(text: string | null): JsonObject | null {
  if (text === null || text === undefined) return null
  const value = JSON.parse(text) as unknown
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : null
}

/** A job id as an operator types it: a positive integer, else exit 2. */
export function parseJobId(raw: string | number): number {
  const text = String(raw).trim()
  const id = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id) || id < 1)
    throw new UserError(`not a job id: ${JSON.stringify(String(raw)).slice(0, 60)}`, {hint: 'a job id is a positive number: see `raiops job:list`'})
  return id
}

export async function readJobRow(db: Db, id: number): Promise<JobRow> {
  const row = await db(JOBS_TABLE).where({id}).first()
  if (row === undefined) throw new NotFoundError(`no job ${id}`, {hint: 'see `raiops job:list`'})
  return row
}

export async function readStepRows(db: Db, jobId: number): Promise<JobStepRow[]> {
  return db(JOB_STEPS_TABLE).where({job_id: jobId}).orderBy('position')
}

/** The kind of a job, from the registry; a kind this raiops does not know is exit 2. */
export function kindOf(kinds: JobKindRegistry, name: string): JobKind<JsonObject> {
  const kind = kinds.get(name)
  if (kind === undefined) {
    const known = [...kinds.keys()]
    throw new UserError(`unknown job kind ${JSON.stringify(name)}`, {
      hint: known.length > 0 ? `known kinds: ${known.join(', ')}` : 'this raiops knows no job kinds: run the raiops that created the job',
    })
  }
  return kind
}

/** Whether a job's step rows are its kind's steps, in order (a kind changed since the job was created: they are not). */
export function stepsMatchKind(steps: readonly JobStepRow[], kind: JobKind<JsonObject>): boolean {
  return steps.length === kind.steps.length && steps.every((s, i) => Number(s.position) === i && s.name === kind.steps[i].name)
}

/** `host (pid N)` from a worker's locked_by (`host:pid:id`, with or without its proof). */
export function describeHolder(lockedBy: string): string {
  const holder = parseHolder(lockedBy)
  return holder.id === '' && holder.pid === 0 ? lockedBy : `${holder.host} (pid ${holder.pid})`
}

function leaseLive(row: JobRow, now: Date): boolean {
  const expires = toIso(row.lease_expires_at)
  return row.locked_by !== null && expires !== null && Date.parse(expires) >= now.getTime()
}

/** What the operator can do about a job in its state, as commands. */
export function nextStepsOf(row: JobRow, steps: readonly JobStepRow[], now: Date): string[] {
  const id = row.id
  switch (row.state) {
    case 'queued': {
      const runAfter = toIsoRequired(row.run_after)
      const waits = Date.parse(runAfter) > now.getTime()
      return [
        waits
          ? `waits until ${runAfter}; then \`raiops job:work\` runs it`
          : `\`raiops job:work --once\` runs it now (as does any \`raiops job:work\` running)`,
        `\`raiops job:retry ${id}\` runs it in the foreground`,
        `\`raiops job:cancel ${id}\` cancels it`,
      ]
    }
    case 'running':
      if (leaseLive(row, now) && jobHolderGone(row.locked_by))
        return [
          `its worker ${describeHolder(row.locked_by as string)} is gone (killed): \`raiops job:retry ${id}\` takes it over now and continues it`,
          `\`raiops job:cancel ${id}\` undoes what its steps did`,
        ]
      if (leaseLive(row, now)) return [`being run by ${describeHolder(row.locked_by as string)}: follow it with \`raiops job:show ${id}\``]
      return [
        `its worker stopped (lease expired at ${toIso(row.lease_expires_at)}): \`raiops job:work --once\` takes it over`,
        `\`raiops job:cancel ${id}\` undoes what its steps did`,
      ]
    case 'failed': {
      const step = steps.find((s) => s.state === 'failed')
      const at = step ? ` from ${step.name}` : ''
      if (row.error_kind === 'transient')
        return [`\`raiops job:retry ${id}\` once the server is reachable again (continues${at})`, `\`raiops job:cancel ${id}\` undoes what its steps did`]
      return [
        `\`raiops job:cancel ${id}\` undoes what its steps did; then create the job again with corrected input`,
        `\`raiops job:retry ${id}\` once the cause is fixed (continues${at})`,
      ]
    }
    case 'canceling':
      if (leaseLive(row, now) && !jobHolderGone(row.locked_by)) return [`being canceled by ${describeHolder(row.locked_by as string)}`]
      return [`\`raiops job:cancel ${id}\` again once the cause of the failed compensation is fixed (it runs only those not done)`]
    default:
      return []
  }
}

export function stepView(row: JobStepRow): JobStepView {
  const output = parseJsonObject(row.output)
  const checkpoint = parseJsonObject(row.checkpoint)
  return {
    position: Number(row.position),
    name: row.name,
    state: row.state,
    attempts: Number(row.attempts),
    startedAt: toIso(row.started_at),
    finishedAt: toIso(row.finished_at),
    output: output === null ? null : redactValues(output),
    checkpoint: checkpoint === null ? null : redactValues(checkpoint),
    error: row.error,
  }
}

export function jobView(row: JobRow, steps: readonly JobStepRow[], now: Date): JobView {
  return {
    id: Number(row.id),
    kind: row.kind,
    state: row.state,
    attempts: Number(row.attempts),
    createdBy: row.created_by,
    tenantName: row.tenant_name,
    tenantMasterId: toNumberOrNull(row.tenant_master_id),
    rdsId: toNumberOrNull(row.rds_instance_id),
    input: redactValues(parseJsonObject(row.input) ?? {}),
    error: row.error,
    errorKind: row.error_kind,
    runAfter: toIsoRequired(row.run_after),
    lockedBy: row.locked_by,
    leaseExpiresAt: toIso(row.lease_expires_at),
    heartbeatAt: toIso(row.heartbeat_at),
    createdAt: toIsoRequired(row.created_at),
    updatedAt: toIsoRequired(row.updated_at),
    startedAt: toIso(row.started_at),
    finishedAt: toIso(row.finished_at),
    steps: steps.map(stepView),
    nextSteps: nextStepsOf(row, steps, now),
  }
}

/** A job with its steps and what can be done about it (`job:show`). */
export async function showJob(ctx: {db: Knex; now(): Date}, input: {id: number}): Promise<JobView> {
  const row = await readJobRow(ctx.db, input.id)
  return jobView(row, await readStepRows(ctx.db, input.id), ctx.now())
}

export interface EnqueueJobInput {
  kind: string
  /** The kind's input, before its parseInput. */
  input: unknown
  /** Not run before then (default: now). */
  runAfter?: Date
  kinds?: JobKindRegistry
}

/** A job as created: its row and its step rows as written (step ids are not read back: a step is its job and position). */
export interface CreatedJob {
  row: JobRow
  steps: JobStepRow[]
}

/**
 * Creates a job: checks the input with its kind's parseInput (a UserError,
 * nothing written), then writes the job, its step rows (one statement) and the
 * `job.create` audit entry in one transaction. The job is queued for a
 * `job:work` worker, or, with `claim`, created already held by that run (the
 * foreground run of the command that creates it: claimed once, its first step
 * started), which then runs it with `runCreatedJob`.
 */
export async function createJob(ctx: ChangeContext, request: EnqueueJobInput, options: {claim?: {holder: string; leaseMs: number}} = {}): Promise<CreatedJob> {
  const kind = kindOf(request.kinds ?? JOB_KINDS, request.kind)
  const input = kind.parseInput(request.input)
  const now = ctx.now()
  const described = kind.describe?.(input, {}) ?? {}
  const claim = options.claim
  const fields: Omit<JobRow, 'id'> = {
    kind: kind.kind,
    input: JSON.stringify(input),
    state: claim ? 'running' : 'queued',
    attempts: claim ? 1 : 0,
    created_by: ctx.audit.actor,
    tenant_name: described.tenantName ?? null,
    tenant_master_id: described.tenantMasterId ?? null,
    rds_instance_id: described.rdsId ?? null,
    error: null,
    error_kind: null,
    run_after: request.runAfter ?? now,
    locked_by: claim?.holder ?? null,
    lease_expires_at: claim ? new Date(now.getTime() + claim.leaseMs) : null,
    heartbeat_at: claim ? now : null,
    created_at: now,
    updated_at: now,
    started_at: claim ? now : null,
    finished_at: null,
  }
  return ctx.db.transaction(async (tx) => {
    const jobId = await insertReturningId(tx, JOBS_TABLE, fields)
    const steps: JobStepRow[] = kind.steps.map((step, position) => {
      const started = claim !== undefined && position === 0
      return {
        id: 0,
        job_id: jobId,
        position,
        name: step.name,
        state: started ? 'running' : 'pending',
        attempts: started ? 1 : 0,
        retries: 0,
        started_at: started ? now : null,
        finished_at: null,
        output: null,
        checkpoint: null,
        error: null,
        audited_at: null,
        updated_at: now,
      }
    })
    await tx(JOB_STEPS_TABLE).insert(steps.map(({id: _id, ...step}) => step))
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'job.create',
        targetType: 'job',
        targetId: jobId,
        tenantMasterId: described.tenantMasterId ?? null,
        rdsInstanceId: described.rdsId ?? null,
        newValues: {kind: kind.kind, input, steps: kind.steps.map((s) => s.name)},
      },
      now,
    )
    return {row: {id: jobId, ...fields}, steps}
  })
}

/** Creates a queued job (see createJob): `runJob` runs it in the foreground, a `job:work` worker in the background. */
export async function enqueueJob(ctx: ChangeContext, request: EnqueueJobInput): Promise<JobView> {
  const created = await createJob(ctx, request)
  return jobView(created.row, created.steps, ctx.now())
}

export interface ListJobsInput {
  state?: JobState
  kind?: string
  /** Jobs concerning this tenant (by name). */
  tenant?: string
  /** Newest first, at most this many (default 50). */
  limit?: number
}

export interface JobListItem {
  id: number
  kind: string
  state: JobState
  tenantName: string | null
  /** The step it is at (the first not done), `2/5 create-database`; null when done or canceled. */
  step: string | null
  attempts: number
  createdBy: string
  createdAt: string
  updatedAt: string
  finishedAt: string | null
  error: string | null
}

/** Jobs, newest first (`job:list`). */
export async function listJobs(ctx: {db: Knex}, input: ListJobsInput = {}): Promise<JobListItem[]> {
  let query = ctx
    .db(JOBS_TABLE)
    .orderBy('id', 'desc')
    .limit(input.limit ?? 50)
  if (input.state) query = query.where({state: input.state})
  if (input.kind) query = query.where({kind: input.kind})
  if (input.tenant) query = query.where({tenant_name: input.tenant})
  const rows = await query
  const steps =
    rows.length === 0
      ? []
      : await ctx
          .db(JOB_STEPS_TABLE)
          .whereIn(
            'job_id',
            rows.map((r) => r.id),
          )
          .orderBy(['job_id', 'position'])
          .select('job_id', 'position', 'name', 'state')
  return rows.map((row) => {
    const own = steps.filter((s) => Number(s.job_id) === Number(row.id))
    const at = own.find((s) => s.state !== 'done' && s.state !== 'compensated')
    return {
      id: Number(row.id),
      kind: row.kind,
      state: row.state,
      tenantName: row.tenant_name,
      // A done or canceled job is at no step (a canceled one's steps never run are still pending).
      step: at && row.state !== 'done' && row.state !== 'canceled' ? `${Number(at.position) + 1}/${own.length} ${at.name}` : null,
      attempts: Number(row.attempts),
      createdBy: row.created_by,
      createdAt: toIsoRequired(row.created_at),
      updatedAt: toIsoRequired(row.updated_at),
      finishedAt: toIso(row.finished_at),
      error: row.error,
    }
  })
}

/** A job's audit entry: the job as its target, with the tenant and RDS it concerns. */
export function jobAudit(row: JobRow, action: string, oldValues: Record<string, unknown> | null, newValues: Record<string, unknown> | null): AuditEntry {
  return {
    action,
    targetType: 'job',
    targetId: Number(row.id),
    tenantMasterId: row.tenant_master_id === null ? null : Number(row.tenant_master_id),
    rdsInstanceId: row.rds_instance_id === null ? null : Number(row.rds_instance_id),
    oldValues,
    newValues,
  }
}

/** A step's `job.step.done` entry: its output (secrets redacted), its attempt, and when it was recorded done (its own time). */
export function stepDoneAudit(row: JobRow, step: JobStepRow): AuditEntry {
  return jobAudit(row, 'job.step.done', null, {
    step: step.name,
    position: Number(step.position),
    attempt: Number(step.attempts),
    output: redactValues(parseJsonObject(step.output) ?? {}),
    finishedAt: toIso(step.finished_at),
  })
}

/** Done steps whose `job.step.done` entry is not in the chain yet (recorded by a run that has not ended, or was killed). */
export const unauditedSteps = (steps: readonly JobStepRow[]): JobStepRow[] => steps.filter((s) => s.state === 'done' && s.audited_at === null)

/**
 * In the transaction that ends a run of a job (or claims it to cancel it): the
 * `job.step.done` entries of its done steps not yet audited, in step order,
 * then `entries`, appended in one batch; unless `marked` (the caller sets it in
 * a statement of its own), those steps are marked audited. A run killed before
 * this leaves them unaudited, for the run that takes the job over.
 */
export async function appendJobAudits(
  tx: Db,
  audit: AuditContext,
  row: JobRow,
  unaudited: readonly JobStepRow[],
  entries: readonly AuditEntry[],
  now: Date,
  options: {marked?: boolean} = {},
): Promise<void> {
  await appendAudits(tx, audit, [...unaudited.map((step) => stepDoneAudit(row, step)), ...entries], now, {ids: false})
  if (unaudited.length > 0 && !options.marked)
    await tx(JOB_STEPS_TABLE)
      .where({job_id: row.id})
      .whereIn(
        'position',
        unaudited.map((s) => Number(s.position)),
      )
      .update({audited_at: now})
  for (const step of unaudited) step.audited_at = now
}
