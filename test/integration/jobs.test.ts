import type {Knex} from 'knex'
import {type ChildProcess, spawn} from 'node:child_process'
import {hostname} from 'node:os'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {openControlDb} from '../../src/lib/db/control-db.js'
import {BusyError, UserError} from '../../src/lib/errors/index.js'
import {cancelJob, retryJob} from '../../src/lib/jobs/control.js'
import {isTransientError} from '../../src/lib/jobs/errors.js'
import type {JobKind, StepRun} from '../../src/lib/jobs/kind.js'
import {jobKindRegistry, type JobKindRegistry} from '../../src/lib/jobs/kinds.js'
import {claimJob, holdJobLease, JobLeaseLostError, MAX_JOB_CLAIMS, newJobHolder} from '../../src/lib/jobs/lease.js'
import type {JobsOverview} from '../../src/lib/jobs/overview.js'
import {type JobEvent, runCreatedJob, runJob} from '../../src/lib/jobs/runner.js'
import {retryDelayMs} from '../../src/lib/jobs/settings.js'
import {enqueueJob, listJobs, showJob} from '../../src/lib/jobs/store.js'
import {runWorker} from '../../src/lib/jobs/worker.js'
import {formatHolder} from '../../src/lib/lease/lease.js'
import {processIdentity} from '../../src/lib/lease/process-identity.js'
import {jobsSection} from '../../src/lib/status/sections/jobs.js'
import {makeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {startFaultProxy} from '../support/fault-proxy.js'
import {
  createScratchDb,
  noCalls,
  noFaults,
  refusedConnection,
  SCRATCH_KIND,
  type ScratchCalls,
  type ScratchDb,
  type ScratchFaults,
  scratchKind,
  openScratch,
} from '../support/job-kind.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
/** Small delays and a short lease, so retries and takeovers take milliseconds. */
const SETTINGS = {retryLimit: 3, retryDelayMs: 5, retryMaxMs: 20, leaseMs: 60_000}

let scratch: ScratchDb
beforeAll(async () => {
  scratch = await createScratchDb()
})
afterAll(async () => {
  await scratch?.drop()
})

/** Every audit action on job `id`, in order. */
async function auditActions(db: Knex, id: number): Promise<string[]> {
  return (
    (await db('audit_logs')
      .where({target_type: 'job', target_id: String(id)})
      .orderBy('seq')
      .pluck('action')) as string[]
  ).map(String)
}

/** The `job.step.done` entries of job `id`, as the steps they are of, in chain order. */
async function stepEntries(db: Knex, id: number): Promise<string[]> {
  const rows = (await db('audit_logs')
    .where({target_type: 'job', target_id: String(id), action: 'job.step.done'})
    .orderBy('seq')
    .pluck('new_values')) as string[]
  return rows.map((values) => String((JSON.parse(values) as {step: string}).step))
}

/** The audit chain verifies end to end. */
async function chainVerifies(db: Knex): Promise<void> {
  const verified = await verifyAuditChain({db})
  expect(verified.firstBad).toBeUndefined()
  expect(verified.ok).toBe(true)
}

async function counts(db: Knex): Promise<{jobs: number; steps: number; audit: number}> {
  const n = async (table: string) => Number(((await db(table).count({n: '*'})) as Array<{n: number | string}>)[0].n)
  return {jobs: await n('jobs'), steps: await n('job_steps'), audit: await n('audit_logs')}
}

/** The locked_by of a worker of this machine whose process has exited (its identity read while it ran). */
async function deadProcessHolder(): Promise<string> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {stdio: 'ignore'})
  await new Promise((resolve) => child.once('spawn', resolve))
  const identity = processIdentity(child.pid!)
  expect(identity?.startTime).toBeTruthy()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  return formatHolder({host: hostname(), pid: child.pid!, id: 'dead', process: identity})
}

describe('the job runner, on a SQLite control database and a MariaDB scratch server', () => {
  let control: TestControlDb
  let faults: ScratchFaults
  let calls: ScratchCalls
  let kinds: JobKindRegistry
  let ctx: ReturnType<typeof makeContext>
  let names = 0
  const nextName = () => `job-${++names}`

  beforeAll(async () => {
    control = await createControlDb('sqlite')
  })
  afterAll(async () => {
    await control?.drop()
  })
  beforeEach(async () => {
    // Each test starts with no job a worker could claim.
    await control.db('jobs').whereIn('state', ['queued', 'running']).update({state: 'canceled'})
    faults = noFaults()
    calls = noCalls()
    kinds = jobKindRegistry([scratchKind(scratch.db, faults, calls)])
    ctx = makeContext(control.db)
  })
  afterEach(async () => {
    await ctx.close()
  })

  const enqueue = (name: string) => enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name}, kinds})
  const run = (id: number, onStep?: (e: JobEvent) => void) => runJob(ctx, id, {kinds, settings: SETTINGS, onStep})

  it('enqueue writes the job, a pending row per step and job.create; bad input or an unknown kind writes nothing (exit 2)', async () => {
    const job = await enqueue(nextName())
    expect(job).toMatchObject({kind: SCRATCH_KIND, state: 'queued', attempts: 0, createdBy: 'test@localhost', tenantName: `job-${names}`, error: null})
    expect(job.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['first', 'pending', 0],
      ['second', 'pending', 0],
      ['third', 'pending', 0],
    ])
    expect(job.nextSteps[0]).toContain('raiops job:work --once')
    expect(await auditActions(control.db, job.id)).toEqual(['job.create'])

    const before = await counts(control.db)
    const bad = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'Not Valid'}, kinds}).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(UserError)
    const unknown = await enqueueJob(ctx, {kind: 'no.such', input: {}, kinds}).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(UserError)
    expect((unknown as UserError).hint).toContain(SCRATCH_KIND)
    expect(await counts(control.db)).toEqual(before)
  })

  it('a run stores each step output and checkpoint as it completes, audits every step, and reports one event per step', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    const events: string[] = []
    const job = await run(id, (e) => events.push(`${e.type} ${e.step} ${e.position + 1}/${e.count}`))
    expect(job.state).toBe('done')
    expect(job.finishedAt).not.toBeNull()
    expect(job.lockedBy).toBeNull()
    expect(job.attempts).toBe(1)
    const rows = (await scratch.db('job_scratch').where('key', 'like', `${name}:%`).orderBy('id').select('id', 'key')) as Array<{id: number; key: string}>
    expect(rows.map((r) => r.key)).toEqual([`${name}:first`, `${name}:second`, `${name}:third`])
    expect(job.steps.map((s) => [s.name, s.state, s.attempts, s.output, s.checkpoint])).toEqual(
      rows.map((r, i) => [['first', 'second', 'third'][i], 'done', 1, {rowId: r.id, ref: r.key}, {ref: r.key}]),
    )
    expect(events).toEqual([
      'step.start first 1/3',
      'step.done first 1/3',
      'step.start second 2/3',
      'step.done second 2/3',
      'step.start third 3/3',
      'step.done third 3/3',
    ])
    expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.step.done', 'job.step.done', 'job.step.done', 'job.done'])
    const stepAudit = await control
      .db('audit_logs')
      .where({target_id: String(id), action: 'job.step.done'})
      .orderBy('seq')
      .first('new_values')
    // Each entry carries its step's own time, though they join the chain together at the job's end.
    expect(JSON.parse(String(stepAudit?.new_values))).toMatchObject({
      step: 'first',
      output: {ref: `${name}:first`, rowId: rows[0].id},
      finishedAt: job.steps[0].finishedAt,
    })
    expect(await stepEntries(control.db, id)).toEqual(['first', 'second', 'third'])
    await chainVerifies(control.db)
    // The job the run returns is the one job:show reads.
    expect(job).toEqual(await showJob(ctx, {id}))
    // A done job runs no more.
    expect((await run(id)).state).toBe('done')
    expect(calls.run).toHaveLength(3)
  })

  it('a permanent error fails the job at once with the reason; the later steps never run and it does not run again until job:retry', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    faults.permanent.add('second')
    const job = await run(id)
    expect(job).toMatchObject({state: 'failed', error: 'second: second refused the input', errorKind: 'permanent'})
    expect(job.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['first', 'done', 1],
      ['second', 'failed', 1],
      ['third', 'pending', 0],
    ])
    expect(job.nextSteps[0]).toContain(`raiops job:cancel ${id}`)
    expect(await scratch.keys()).toContain(`${name}:first`)
    expect(await scratch.keys()).not.toContain(`${name}:third`)
    expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.step.done', 'job.fail'])
    await chainVerifies(control.db)

    const again = await run(id).catch((e: unknown) => e)
    expect(again).toBeInstanceOf(UserError)
    expect((again as UserError).hint).toContain(`raiops job:retry ${id}`)
    expect((await runWorker(ctx, {once: true, kinds, settings: SETTINGS})).jobs).toEqual([])
    expect(calls.run.map((c) => c.step)).toEqual(['first', 'second'])
  })

  it('a transient error is retried with backoff and the step then succeeds', async () => {
    const {id} = await enqueue(nextName())
    faults.transient.second = 2
    const events: JobEvent[] = []
    const job = await run(id, (e) => events.push(e))
    expect(job.state).toBe('done')
    expect(job.steps.map((s) => s.attempts)).toEqual([1, 3, 1])
    const retries = events.filter((e) => e.type === 'step.retry')
    expect(retries.map((e) => [e.step, e.attempt, e.error])).toEqual([
      ['second', 1, 'connection refused (127.0.0.1:9): nothing is listening there'],
      ['second', 2, 'connection refused (127.0.0.1:9): nothing is listening there'],
    ])
    // delay·2^(retry−1), jittered into its upper half, capped
    expect(retries[0].delayMs).toBeGreaterThanOrEqual(2)
    expect(retries[0].delayMs).toBeLessThanOrEqual(5)
    expect(retries[1].delayMs).toBeGreaterThanOrEqual(5)
    expect(retries[1].delayMs).toBeLessThanOrEqual(10)
  })

  it('a transient error past the retry limit fails the job; job:retry continues from that step without running the earlier ones again', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    faults.transient.second = 100
    const failed = await run(id)
    expect(failed).toMatchObject({state: 'failed', errorKind: 'transient'})
    expect(failed.error).toContain('connection refused')
    expect(failed.steps[1]).toMatchObject({state: 'failed', attempts: SETTINGS.retryLimit + 1})
    expect(failed.nextSteps[0]).toContain(`raiops job:retry ${id}\` once the server is reachable again`)

    faults.transient.second = 0
    const queued = await retryJob(ctx, {id}, {detach: true})
    expect(queued).toMatchObject({state: 'queued', error: null})
    expect(queued.steps.map((s) => s.state)).toEqual(['done', 'pending', 'pending'])
    const done = await run(id)
    expect(done.state).toBe('done')
    expect(calls.run.filter((c) => c.step === 'first')).toHaveLength(1)
    expect(done.steps.map((s) => s.attempts)).toEqual([1, SETTINGS.retryLimit + 2, 1])
    expect(await scratch.keys()).toEqual(expect.arrayContaining([`${name}:first`, `${name}:second`, `${name}:third`]))
    expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.step.done', 'job.fail', 'job.retry', 'job.step.done', 'job.step.done', 'job.done'])
    expect(await stepEntries(control.db, id)).toEqual(['first', 'second', 'third'])
    await chainVerifies(control.db)
    // Only a failed (or queued) job is retried.
    expect(await retryJob(ctx, {id}, {detach: true}).catch((e: unknown) => e)).toBeInstanceOf(UserError)
  })

  it('cancel runs the compensations in reverse, only for the steps that ran (an interrupted one gets its checkpoint), and ends canceled', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    faults.permanent.add('third')
    expect((await run(id)).state).toBe('failed')
    // the second step is as a crash would leave it: written and checkpointed, its output never recorded
    await control.db('job_steps').where({job_id: id, position: 1}).update({state: 'running', output: null})
    const events: string[] = []
    const job = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS, onStep: (e) => events.push(`${e.type} ${e.step}`)})
    expect(job.state).toBe('canceled')
    expect(calls.compensate).toEqual([
      {step: 'third', output: null, previous: null},
      {step: 'second', output: null, previous: {ref: `${name}:second`}},
      {step: 'first', output: {rowId: expect.any(Number), ref: `${name}:first`}, previous: {ref: `${name}:first`}},
    ])
    expect(job.steps.map((s) => s.state)).toEqual(['compensated', 'compensated', 'compensated'])
    expect((await scratch.keys()).filter((k) => k.startsWith(`${name}:`))).toEqual([])
    expect(events).toEqual([
      'step.compensate third',
      'step.compensated third',
      'step.compensate second',
      'step.compensated second',
      'step.compensate first',
      'step.compensated first',
    ])
    expect((await auditActions(control.db, id)).slice(4)).toEqual([
      'job.cancel',
      'job.step.compensated',
      'job.step.compensated',
      'job.step.compensated',
      'job.canceled',
    ])
  })

  it('cancel of a queued job that never ran compensates nothing', async () => {
    const {id} = await enqueue(nextName())
    const job = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})
    expect(job.state).toBe('canceled')
    expect(calls.compensate).toEqual([])
    expect(job.steps.map((s) => s.state)).toEqual(['pending', 'pending', 'pending'])
    // job:list puts it at no step: none will run.
    expect((await listJobs(ctx, {state: 'canceled', limit: 1}))[0]).toMatchObject({id, step: null})
  })

  it('a failed compensation is recorded, the others still run, and the job stays canceling until a second cancel finishes it', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    faults.permanent.add('third')
    await run(id)
    faults.compensation.add('second')
    const first = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})
    const secondOutput = {rowId: expect.any(Number), ref: `${name}:second`}
    expect(calls.compensate).toEqual([
      {step: 'third', output: null, previous: null},
      {step: 'second', output: secondOutput, previous: {ref: `${name}:second`}},
      {step: 'first', output: {rowId: expect.any(Number), ref: `${name}:first`}, previous: {ref: `${name}:first`}},
    ])
    expect(first.state).toBe('canceling')
    expect(first.error).toContain('second: compensation failed: connection refused')
    expect(first.steps.map((s) => s.state)).toEqual(['compensated', 'compensating', 'compensated'])
    expect(first.lockedBy).toBeNull()
    expect(first.nextSteps[0]).toContain(`raiops job:cancel ${id}\` again`)
    expect(await scratch.keys()).toContain(`${name}:second`)
    expect(await scratch.keys()).not.toContain(`${name}:first`)

    faults.compensation.clear()
    calls.compensate.length = 0
    const second = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})
    expect(second.state).toBe('canceled')
    // the step was done: its compensation gets its output again, not null
    expect(calls.compensate).toEqual([{step: 'second', output: secondOutput, previous: {ref: `${name}:second`}}])
    expect(await scratch.keys()).not.toContain(`${name}:second`)
  })

  it('a cancel stopped (Ctrl-C) lets the compensation under way finish, runs no more, and leaves the job canceling for a second cancel', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    faults.permanent.add('third')
    await run(id)
    const stop = new AbortController()
    const events: string[] = []
    const first = await cancelJob(
      ctx,
      {id},
      {
        kinds,
        settings: SETTINGS,
        signal: stop.signal,
        onStep: (e) => {
          events.push(`${e.type} ${e.step}`)
          if (e.type === 'step.compensate') stop.abort()
        },
      },
    )
    expect(events).toEqual(['step.compensate third', 'step.compensated third'])
    expect(first).toMatchObject({state: 'canceling', lockedBy: null})
    expect(first.error).toContain('stopped')
    expect(first.steps.map((s) => s.state)).toEqual(['done', 'done', 'compensated'])
    expect(await scratch.keys()).toEqual(expect.arrayContaining([`${name}:first`, `${name}:second`]))

    calls.compensate.length = 0
    const second = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})
    expect(second.state).toBe('canceled')
    expect(calls.compensate.map((c) => c.step)).toEqual(['second', 'first'])
    expect((await scratch.keys()).filter((k) => k.startsWith(`${name}:`))).toEqual([])
  })

  it('cancel is refused (exit 2), changing nothing, for a job whose steps are not those of its kind in this raiops', async () => {
    const {id} = await enqueue(nextName())
    faults.permanent.add('third')
    await run(id)
    // the kind's second step was renamed since the job was created
    await control.db('job_steps').where({job_id: id, position: 1}).update({name: 'old-second'})
    const before = await counts(control.db)
    const refused = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS}).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UserError)
    expect((refused as UserError).exitCode).toBe(2)
    expect((refused as UserError).message).toBe(`the steps of job ${id} are not those of ${SCRATCH_KIND} in this raiops`)
    expect(calls.compensate).toEqual([])
    expect(await counts(control.db)).toEqual(before)
    const job = await showJob(ctx, {id})
    expect(job).toMatchObject({state: 'failed', lockedBy: null})
    expect(job.steps.map((s) => s.state)).toEqual(['done', 'done', 'failed'])
    await control.db('job_steps').where({job_id: id, position: 1}).update({name: 'second'})
    expect((await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})).state).toBe('canceled')
  })

  it('cancel is refused for a done job (exit 2) and for a job a worker holds (exit 6), changing nothing', async () => {
    const done = await enqueue(nextName())
    await run(done.id)
    const before = await counts(control.db)
    const refused = await cancelJob(ctx, {id: done.id}, {kinds}).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UserError)
    expect((refused as UserError).exitCode).toBe(2)

    const held = await enqueue(nextName())
    expect(await claimJob(control.db, held.id, 'elsewhere:4242:abc', new Date(), 60_000)).toBe(true)
    const busy = await cancelJob(ctx, {id: held.id}, {kinds}).catch((e: unknown) => e)
    expect(busy).toBeInstanceOf(BusyError)
    expect((busy as BusyError).message).toBe(`job ${held.id} is being run by elsewhere (pid 4242)`)
    const running = await run(held.id).catch((e: unknown) => e)
    expect(running).toBeInstanceOf(BusyError)
    expect((await showJob(ctx, {id: held.id})).state).toBe('running')
    expect(calls.compensate).toEqual([])
    expect((await counts(control.db)).audit).toBe(before.audit + 1) // the held job's job.create only
  })

  it('a job whose worker died (its lease expired) is taken over by a worker and completed from the step it was at', async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    // a worker claimed it a while ago, ran the first step's write, and died
    expect(await claimJob(control.db, id, 'gone:1:dead', new Date(), 60_000)).toBe(true)
    await control
      .db('jobs')
      .where({id})
      .update({lease_expires_at: new Date(Date.now() - 1000)})
    await control
      .db('job_steps')
      .where({job_id: id, position: 0})
      .update({state: 'running', attempts: 1, checkpoint: JSON.stringify({ref: `${name}:first`})})
    const report = await runWorker(ctx, {once: true, kinds, settings: SETTINGS})
    expect(report.jobs).toEqual([{id, outcome: 'done'}])
    const job = await showJob(ctx, {id})
    expect(job).toMatchObject({state: 'done', attempts: 2})
    expect(job.steps.map((s) => s.attempts)).toEqual([2, 1, 1])
    expect(calls.run[0]).toEqual({step: 'first', attempt: 2, previous: {ref: `${name}:first`}})
  })

  it('a run whose job is taken over (its lease lost) aborts its step, writes nothing more to the job, and says so (exit 6)', async () => {
    const {id} = await enqueue(nextName())
    faults.block.add('second')
    const before = await auditActions(control.db, id)
    const lost = await runJob(ctx, id, {
      kinds,
      settings: {...SETTINGS, leaseMs: 300},
      onStep: (e) => {
        // another worker takes the job over while the second step runs
        if (e.type === 'step.start' && e.step === 'second')
          void control
            .db('jobs')
            .where({id})
            .update({locked_by: 'thief:1:x'})
            .then(() => undefined)
      },
    }).catch((e: unknown) => e)
    expect(lost).toBeInstanceOf(BusyError)
    expect((lost as BusyError).exitCode).toBe(6)
    expect((lost as BusyError).message).toBe(`job ${id}: another worker took the job over`)
    const job = await showJob(ctx, {id})
    expect(job).toMatchObject({state: 'running', lockedBy: 'thief:1:x', error: null})
    expect(job.steps.map((s) => s.state)).toEqual(['done', 'running', 'pending'])
    // The lost run wrote nothing more: its first step is done, its entry left for the run that holds the job now.
    expect(await auditActions(control.db, id)).toEqual(before)
    const first = await control.db('job_steps').where({job_id: id, position: 0}).first('state', 'audited_at')
    expect([first?.state, first?.audited_at]).toEqual(['done', null])
    await chainVerifies(control.db)
  })

  it('a worker stopped mid-step puts the job back in the queue, to resume at that step', async () => {
    const {id} = await enqueue(nextName())
    const stop = new AbortController()
    faults.transient.second = 1
    const report = await runWorker(ctx, {
      once: true,
      kinds,
      settings: {...SETTINGS, retryDelayMs: 60_000, retryMaxMs: 60_000},
      signal: stop.signal,
      onStep: (e) => {
        if (e.type === 'step.retry') stop.abort()
      },
    })
    expect(report).toEqual({jobs: [{id, outcome: 'interrupted'}], stopped: true})
    const job = await showJob(ctx, {id})
    expect(job).toMatchObject({state: 'queued', lockedBy: null})
    expect(job.steps.map((s) => s.state)).toEqual(['done', 'pending', 'pending'])
    expect((await runJob(ctx, id, {kinds, settings: SETTINGS})).state).toBe('done')
  })

  it('a step output that cannot be recorded (its audit entry too large) fails the job with the reason, once, instead of running it again', async () => {
    let runs = 0
    const big: JobKind<{name: string}> = {
      kind: 'test.big-output',
      parseInput: (raw) => raw as {name: string},
      steps: [
        {
          name: 'huge',
          async run() {
            runs += 1
            return {blob: 'x'.repeat(70_000)}
          },
        },
      ],
    }
    const bigKinds = jobKindRegistry([big])
    const {id} = await enqueueJob(ctx, {kind: 'test.big-output', input: {name: nextName()}, kinds: bigKinds})
    const job = await runJob(ctx, id, {kinds: bigKinds, settings: SETTINGS})
    expect(job).toMatchObject({state: 'failed', errorKind: 'permanent', lockedBy: null})
    expect(job.error).toMatch(/^huge: the audit entry cannot be stored: new_values take \d+ bytes/)
    expect(job.steps.map((s) => [s.state, s.output])).toEqual([['failed', null]])
    expect(runs).toBe(1)
    expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.fail'])
    const report = await runWorker(ctx, {once: true, kinds: bigKinds, settings: SETTINGS})
    expect(report.jobs).toEqual([])
    expect(runs).toBe(1)
  })

  it(`a job claimed ${MAX_JOB_CLAIMS} times without finishing is failed by the next claim instead of run; job:retry gives it its claims again`, async () => {
    const name = nextName()
    const {id} = await enqueue(name)
    // workers kept dying on it: its last one too
    expect(await claimJob(control.db, id, 'gone:1:dead', new Date(), 60_000)).toBe(true)
    await control
      .db('jobs')
      .where({id})
      .update({attempts: MAX_JOB_CLAIMS, lease_expires_at: new Date(Date.now() - 1000)})
    const report = await runWorker(ctx, {once: true, kinds, settings: SETTINGS})
    expect(report.jobs).toEqual([{id, outcome: 'failed'}])
    const job = await showJob(ctx, {id})
    expect(job).toMatchObject({
      state: 'failed',
      errorKind: 'permanent',
      lockedBy: null,
      error: `claimed ${MAX_JOB_CLAIMS + 1} times without finishing: a worker keeps dying on it`,
    })
    expect(calls.run).toEqual([])
    expect((await auditActions(control.db, id)).slice(-1)).toEqual(['job.fail'])

    const retried = await retryJob(ctx, {id}, {detach: true})
    expect(retried).toMatchObject({state: 'queued', attempts: 0})
    expect(await runJob(ctx, id, {kinds, settings: SETTINGS})).toMatchObject({state: 'done', attempts: 1})
  })

  it('a run hanging at RAIOPS_JOB_HANG beats no more (its lease lapses) and a stop ends the hang, the job back in the queue', async () => {
    const {id} = await enqueue(nextName())
    const stop = new AbortController()
    let hanging = false
    const running = runJob(ctx, id, {
      kinds,
      settings: {...SETTINGS, leaseMs: 300, hang: 'first:after'},
      signal: stop.signal,
      onStep: (e) => {
        if (e.type === 'step.done' && e.step === 'first') hanging = true
      },
    })
    await waitUntil(() => hanging)
    // no heartbeat while it hangs: its lease lapses, for another worker to take the job over
    await waitUntil(async () => {
      const row = await control.db('jobs').where({id}).first('lease_expires_at')
      return row?.lease_expires_at != null && new Date(row.lease_expires_at as never).getTime() < Date.now()
    })
    stop.abort()
    const job = await running
    expect(job).toMatchObject({state: 'queued', lockedBy: null})
    expect(job.steps.map((s) => s.state)).toEqual(['done', 'pending', 'pending'])
    expect(calls.run.map((c) => c.step)).toEqual(['first'])
  })

  it('the status overview lists failed jobs and stuck ones: a dead worker, a queued job no worker took, a cancel left half done', async () => {
    const empty = await jobsSection.collect({db: control.db, now: () => new Date()})
    const failedBefore = (empty.data as JobsOverview).byState.failed
    const waiting = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: nextName()}, kinds, runAfter: new Date(Date.now() - 20 * 60_000)})
    const dead = await enqueue(nextName())
    await claimJob(control.db, dead.id, 'gone:1:x', new Date(), 60_000)
    await control
      .db('jobs')
      .where({id: dead.id})
      .update({lease_expires_at: new Date(Date.now() - 1000)})
    const fresh = await enqueue(nextName())
    // Killed on this machine, its lease still live: stuck too, and taken over at once by job:retry or job:cancel.
    const killed = await enqueue(nextName())
    await control
      .db('jobs')
      .where({id: killed.id})
      .update({state: 'running', locked_by: await deadProcessHolder(), lease_expires_at: new Date(Date.now() + 60_000), heartbeat_at: new Date()})

    const report = await jobsSection.collect({db: control.db, now: () => new Date()})
    const data = report.data as JobsOverview
    expect(data.stuck.map((j) => [j.id, j.reason])).toEqual([
      [waiting.id, 'not-picked-up'],
      [dead.id, 'lease-expired'],
      [killed.id, 'worker-gone'],
    ])
    expect(data.stuck.map((j) => j.id)).not.toContain(fresh.id)
    expect(data.byState.failed).toBe(failedBefore)
    expect(report.state).toBe(failedBefore > 0 ? 'fail' : 'warn')
    expect(report.summary).toContain('3 stuck')
    expect(report.facts.find((f) => f.label === `job ${dead.id}`)?.value).toContain('its worker stopped')
    expect(report.facts.find((f) => f.label === `job ${killed.id}`)?.value).toContain('its worker was killed on this machine')
  })

  it('job:list filters by state and kind, newest first, with the step each job is at', async () => {
    const list = await listJobs(ctx, {state: 'failed'})
    expect(list.every((j) => j.state === 'failed')).toBe(true)
    const all = await listJobs(ctx, {kind: SCRATCH_KIND, limit: 3})
    expect(all).toHaveLength(3)
    expect(all[0].id).toBeGreaterThan(all[1].id)
    expect(await listJobs(ctx, {kind: 'no.such'})).toEqual([])
  })
})

describe('retry policy', () => {
  it('classifies driver errors: refused, reset, timeouts, deadlocks are transient; bad input and unknown errors are permanent', () => {
    expect(isTransientError(refusedConnection())).toBe(true)
    expect(isTransientError(Object.assign(new Error('Deadlock found'), {code: 'ER_LOCK_DEADLOCK', errno: 1213}))).toBe(true)
    expect(isTransientError(Object.assign(new Error('terminating connection due to administrator command'), {code: '57P01'}))).toBe(true)
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isTransientError(new Error('x', {cause: refusedConnection()}))).toBe(true)
    expect(isTransientError(new UserError('tenant name taken'))).toBe(false)
    expect(isTransientError(Object.assign(new Error('Duplicate entry'), {code: 'ER_DUP_ENTRY', errno: 1062}))).toBe(false)
    expect(isTransientError(new TypeError('x is undefined'))).toBe(false)
  })

  it('classifies statement timeouts, killed connections, lock waits and busy databases as transient, as each driver shapes them', async () => {
    const mysql2 = (message: string, errno: number, code: string | undefined, sqlState: string) =>
      Object.assign(new Error(message), {code, errno, sqlState, sqlMessage: message, fatal: false})
    // mysql2 on MariaDB: errnos it has no name for come without a code
    expect(isTransientError(mysql2('Query execution was interrupted (max_statement_time exceeded)', 1969, undefined, '70100'))).toBe(true)
    expect(isTransientError(mysql2('Connection was killed', 1927, undefined, '70100'))).toBe(true)
    // the mariadb connector names them
    expect(isTransientError(mysql2('Query execution was interrupted (max_statement_time exceeded)', 1969, 'ER_STATEMENT_TIMEOUT', '70100'))).toBe(true)
    expect(isTransientError(mysql2('Connection was killed', 1927, 'ER_CONNECTION_KILLED', '70100'))).toBe(true)
    // MySQL
    expect(isTransientError(mysql2('Query execution was interrupted, maximum statement execution time exceeded', 3024, 'ER_QUERY_TIMEOUT', 'HY000'))).toBe(true)
    expect(isTransientError(mysql2('The client was disconnected by the server because of inactivity.', 4031, 'ER_CLIENT_INTERACTION_TIMEOUT', 'HY000'))).toBe(
      true,
    )
    // a real one, from MariaDB
    const timedOut = await scratch.db.raw('SET STATEMENT max_statement_time=0.01 FOR SELECT SLEEP(1) FROM (SELECT 1 UNION SELECT 2) t').catch((e: unknown) => e)
    expect(timedOut).toMatchObject({errno: 1969})
    expect(isTransientError(timedOut)).toBe(true)
    // pg's DatabaseError
    const pg = (message: string, code: string) => Object.assign(new Error(message), {name: 'error', severity: 'ERROR', code})
    expect(isTransientError(pg('canceling statement due to statement timeout', '57014'))).toBe(true)
    expect(isTransientError(pg('could not obtain lock on row in relation "jobs"', '55P03'))).toBe(true)
    expect(isTransientError(pg('duplicate key value violates unique constraint', '23505'))).toBe(false)
    // better-sqlite3's SqliteError, extended codes included
    const sqlite = (message: string, code: string) => Object.assign(new Error(message), {name: 'SqliteError', code})
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED', 'SQLITE_LOCKED_SHAREDCACHE'])
      expect(isTransientError(sqlite('database is locked', code)), code).toBe(true)
    expect(isTransientError(sqlite('UNIQUE constraint failed: jobs.id', 'SQLITE_CONSTRAINT_UNIQUE'))).toBe(false)
  })

  it('backs off delay·2^(retry−1), capped, jittered into the upper half', () => {
    const s = {retryDelayMs: 100, retryMaxMs: 1000}
    expect([1, 2, 3, 4, 5].map((r) => retryDelayMs(s, r, () => 1))).toEqual([100, 200, 400, 800, 1000])
    expect([1, 2, 3, 4, 5].map((r) => retryDelayMs(s, r, () => 0))).toEqual([50, 100, 200, 400, 500])
  })
})

describe.each(CONTROL_ENGINES)('workers racing on a %s control database', (engine) => {
  let control: TestControlDb
  let second: Knex
  beforeAll(async () => {
    control = await createControlDb(engine)
    second = await openControlDb(control.target)
  })
  afterAll(async () => {
    await second?.destroy()
    await control?.drop()
  })

  // Two processes, as two `job:work` would be (two SQLite connections in one process would block each other's event loop).
  it('two worker processes claim the same queued jobs: each job runs exactly once', async () => {
    const kinds = jobKindRegistry([scratchKind(scratch.db)])
    const ctx = makeContext(control.db)
    try {
      const ids: number[] = []
      for (let i = 0; i < 6; i++) ids.push((await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: `race-${engine}-${i}`}, kinds})).id)
      const reports = await Promise.all([workerProcess(control.url), workerProcess(control.url)])
      const ran = reports.flatMap((r) => r.jobs)
      expect(ran.map((j) => j.id).sort((x, y) => x - y)).toEqual(ids)
      expect(ran.filter((j) => j.outcome !== 'done')).toEqual([])
      const rows = await control.db('jobs').whereIn('id', ids).orderBy('id').select('state', 'attempts')
      expect(rows.map((r) => [r.state, Number(r.attempts)])).toEqual(ids.map(() => ['done', 1]))
      const steps = await control.db('job_steps').whereIn('job_id', ids).pluck('attempts')
      expect(steps.map(Number)).toEqual(ids.flatMap(() => [1, 1, 1]))
      expect((await scratch.keys()).filter((k) => k.startsWith(`race-${engine}-`))).toHaveLength(ids.length * 3)
    } finally {
      await ctx.close()
    }
  })

  it('of many simultaneous claims of one job from two connections, exactly one succeeds', async () => {
    const kinds = jobKindRegistry([scratchKind(scratch.db)])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: `claim-${engine}`}, kinds})
      const now = new Date()
      const results = await Promise.all(Array.from({length: 10}, (_, i) => claimJob(i % 2 === 0 ? control.db : second, id, `w:${i}:x`, now, 60_000)))
      expect(results.filter(Boolean)).toHaveLength(1)
      const row = await control.db('jobs').where({id}).first('state', 'attempts', 'locked_by')
      expect([row?.state, Number(row?.attempts), row?.locked_by]).toEqual(['running', 1, `w:${results.indexOf(true)}:x`])
    } finally {
      await ctx.close()
    }
  })

  it('a job created claimed and run in the foreground: the job it returns is the one job:show reads, every step audited once, the chain whole', async () => {
    const kinds = jobKindRegistry([scratchKind(scratch.db)])
    const ctx = makeContext(control.db)
    try {
      const job = await runCreatedJob(ctx, {kind: SCRATCH_KIND, input: {name: `created-${engine}`}, kinds}, {kinds, settings: SETTINGS})
      expect(job).toMatchObject({state: 'done', attempts: 1, lockedBy: null})
      expect(job.steps.map((s) => [s.state, s.attempts])).toEqual([
        ['done', 1],
        ['done', 1],
        ['done', 1],
      ])
      expect(job).toEqual(await showJob(ctx, {id: job.id}))
      expect(await auditActions(control.db, job.id)).toEqual(['job.create', 'job.step.done', 'job.step.done', 'job.step.done', 'job.done'])
      expect(await stepEntries(control.db, job.id)).toEqual(['first', 'second', 'third'])
      await chainVerifies(control.db)
    } finally {
      await ctx.close()
    }
  })

  it('a step whose job is taken over while it runs is not recorded: the guarded statement writes nothing (a worker step, and a control step in its transaction)', async () => {
    const thief = `thief:${engine}:x`
    // Each step hands the job to another worker (its locked_by changed, as a takeover does) before it returns.
    const takeOver = (db: Knex) => async (step: {job: {id: number}}) => {
      await db('jobs').where({id: step.job.id}).update({locked_by: thief})
      return {took: true}
    }
    const kinds = jobKindRegistry([
      {
        kind: 'test.stolen',
        parseInput: (raw: unknown) => raw as {name: string},
        steps: [
          {name: 'plain', run: takeOver(control.db)},
          {name: 'after', run: async () => ({})},
        ],
      },
      {
        kind: 'test.stolen-control',
        parseInput: (raw: unknown) => raw as {name: string},
        // On SQLite one connection serves the control database (its transaction holds it): the takeover is written in it.
        steps: [
          {name: 'ctl', control: true, run: async (step: StepRun) => takeOver(engine === 'sqlite' ? (step.ctx.db as Knex) : second)(step)},
          {name: 'after', run: async () => ({})},
        ],
      },
    ] as never)
    const ctx = makeContext(control.db)
    try {
      for (const kind of ['test.stolen', 'test.stolen-control']) {
        const {id} = await enqueueJob(ctx, {kind, input: {name: kind}, kinds})
        const lost = await runJob(ctx, id, {kinds, settings: SETTINGS}).catch((e: unknown) => e)
        expect(lost).toBeInstanceOf(BusyError)
        const steps = await control.db('job_steps').where({job_id: id}).orderBy('position').select('state', 'output', 'audited_at')
        // Control step: its takeover rolled back with it (SQLite), or committed from another connection; either way nothing recorded.
        expect(steps.map((r) => [r.state, r.output, r.audited_at])).toEqual([
          ['running', null, null],
          ['pending', null, null],
        ])
        expect(await auditActions(control.db, id)).toEqual(['job.create'])
      }
    } finally {
      await ctx.close()
    }
  })

  it('a running job whose worker is proven gone on this machine is taken over at once by a foreground claim: of many racing, exactly one wins', async () => {
    const kinds = jobKindRegistry([scratchKind(scratch.db)])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: `gone-${engine}`}, kinds})
      const dead = await deadProcessHolder()
      const now = new Date()
      await control
        .db('jobs')
        .where({id})
        .update({state: 'running', locked_by: dead, lease_expires_at: new Date(now.getTime() + 60_000)})
      // A worker polling for expired leases does not take it: its lease is live.
      expect(await claimJob(control.db, id, 'w:0:poll', now, 60_000)).toBe(false)
      const results = await Promise.all(
        Array.from({length: 10}, (_, i) => claimJob(i % 2 === 0 ? control.db : second, id, `w:${i + 1}:x`, now, 60_000, {takeOverGone: true})),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      const row = await control.db('jobs').where({id}).first('state', 'attempts', 'locked_by')
      expect([row?.state, Number(row?.attempts), row?.locked_by]).toEqual(['running', 1, `w:${results.indexOf(true) + 1}:x`])
      // A live holder (this process) is never taken over before its lease expires, nor one without the proof.
      for (const holder of [newJobHolder(), `${hostname()}:${(await deadProcessHolder()).split(':')[1]}:plain`]) {
        await control.db('jobs').where({id}).update({locked_by: holder})
        expect(await claimJob(second, id, 'w:99:x', now, 60_000, {takeOverGone: true})).toBe(false)
        expect((await control.db('jobs').where({id}).first('locked_by'))?.locked_by).toBe(holder)
      }
    } finally {
      await ctx.close()
    }
  })
})

describe('faults of real servers, through a TCP proxy', () => {
  let control: TestControlDb
  beforeAll(async () => {
    control = await createControlDb('mysql')
  })
  afterAll(async () => {
    await control?.drop()
  })

  it("a step whose server refuses connections (the driver's own error) is retried with backoff, and succeeds once the server is back", async () => {
    const proxy = await startFaultProxy({targetHost: '127.0.0.1', targetPort: Number(new URL(scratch.url).port), mode: 'refuse'})
    const proxied = openScratch(scratch.url.replace(`:${new URL(scratch.url).port}/`, `:${proxy.port}/`))
    const ctx = makeContext(control.db)
    try {
      const kinds = jobKindRegistry([scratchKind(proxied)])
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'proxied'}, kinds})
      const retries: JobEvent[] = []
      const job = await runJob(ctx, id, {
        kinds,
        settings: SETTINGS,
        onStep: (e) => {
          if (e.type !== 'step.retry') return
          retries.push(e)
          if (retries.length === 2) void proxy.setMode('pass')
        },
      })
      expect(job.state).toBe('done')
      expect(retries.length).toBeGreaterThanOrEqual(2)
      expect(retries[0]).toMatchObject({step: 'first', error: expect.stringMatching(/^connection refused/)})
      expect(job.steps[0].attempts).toBe(retries.length + 1)
    } finally {
      await ctx.close()
      await proxied.destroy()
      await proxy.close()
    }
  })

  it('a heartbeat whose renewal never answers (a silent control database) aborts the run once half the lease has passed without a renewal', async () => {
    const connection = control.target.connection!
    const proxy = await startFaultProxy({targetHost: connection.host, targetPort: connection.port, mode: 'pass'})
    const db = await openControlDb({...control.target, connection: {...connection, port: proxy.port}})
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'silent-control'}, kinds: jobKindRegistry([scratchKind(scratch.db)])})
      const holder = 'here:1:silent'
      expect(await claimJob(control.db, id, holder, new Date(), 60_000)).toBe(true)
      await db.raw('select 1') // a pooled connection, through the proxy
      const lease = holdJobLease(db, {jobId: id, holder, leaseMs: 600, now: () => new Date(), states: ['running']})
      try {
        await proxy.setMode('blackhole')
        await new Promise<void>((resolve) => lease.signal.addEventListener('abort', () => resolve(), {once: true}))
        expect(lease.lost).toBe(true)
        expect(lease.signal.reason).toBeInstanceOf(JobLeaseLostError)
        expect((lease.signal.reason as Error).message).toMatch(new RegExp(`^lost job ${id}: could not renew its lease`))
      } finally {
        lease.stop()
      }
    } finally {
      await ctx.close()
      await proxy.close()
      await db.destroy()
    }
  }, 10_000)

  it('a polling worker outlives an outage of the control database and runs the jobs queued once it is back', async () => {
    const connection = control.target.connection!
    const proxy = await startFaultProxy({targetHost: connection.host, targetPort: connection.port, mode: 'refuse'})
    const db = await openControlDb({...control.target, connection: {...connection, port: proxy.port}}, {connectTimeoutMs: 500})
    const ctx = makeContext(db)
    const stop = new AbortController()
    const warnings: string[] = []
    try {
      const kinds = jobKindRegistry([scratchKind(scratch.db)])
      const worker = runWorker(ctx, {kinds, settings: SETTINGS, pollMs: 50, signal: stop.signal, onWarning: (w) => warnings.push(w)})
      await waitUntil(() => warnings.length > 0)
      expect(warnings[0]).toMatch(/^could not look for jobs: connection refused/)
      await proxy.setMode('pass')
      const {id} = await enqueueJob(makeContext(control.db), {kind: SCRATCH_KIND, input: {name: 'after-outage'}, kinds})
      await waitUntil(async () => (await control.db('jobs').where({id}).first('state'))?.state === 'done')
      stop.abort()
      expect(await worker).toEqual({jobs: [{id, outcome: 'done'}], stopped: true})
    } finally {
      stop.abort()
      await ctx.close()
      await db.destroy()
      await proxy.close()
    }
  })
})

/** Polls `condition` every 50 ms until it holds (the test's own timeout bounds the wait). */
async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** A job:work-like worker in a child process: the engine with the scratch kind; prints its report as JSON. */
const WORKER_SCRIPT = `
const {openControlDb, parseDatabaseUrl} = await import(process.env.JOBS_TEST_CONTROL_DB_MODULE)
const {runWorker} = await import(process.env.JOBS_TEST_WORKER_MODULE)
const {jobKindRegistry} = await import(process.env.JOBS_TEST_KINDS_MODULE)
const {scratchKind, openScratch} = await import(process.env.JOBS_TEST_KIND_MODULE)
const {makeContext} = await import(process.env.JOBS_TEST_CONTEXT_MODULE)
const db = await openControlDb(parseDatabaseUrl(process.env.RAIOPS_DATABASE_URL, '/nonexistent'))
const scratch = openScratch(process.env.JOBS_TEST_SCRATCH_URL)
const ctx = makeContext(db)
const report = await runWorker(ctx, {once: true, concurrency: 3, kinds: jobKindRegistry([scratchKind(scratch)]), settings: {leaseMs: 1000, hang: process.env.RAIOPS_JOB_HANG || null}})
process.stdout.write(JSON.stringify(report))
await ctx.close()
await scratch.destroy()
await db.destroy()
`

const moduleUrl = (path: string) => new URL(`../../${path}`, import.meta.url).href

function spawnWorker(controlUrl: string, hang = ''): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WORKER_SCRIPT], {
    cwd: root,
    env: {
      ...process.env,
      RAIOPS_DATABASE_URL: controlUrl,
      RAIOPS_JOB_HANG: hang,
      JOBS_TEST_SCRATCH_URL: scratch.url,
      JOBS_TEST_CONTROL_DB_MODULE: moduleUrl('src/lib/db/control-db.ts'),
      JOBS_TEST_WORKER_MODULE: moduleUrl('src/lib/jobs/worker.ts'),
      JOBS_TEST_KINDS_MODULE: moduleUrl('src/lib/jobs/kinds.ts'),
      JOBS_TEST_KIND_MODULE: moduleUrl('test/support/job-kind.ts'),
      JOBS_TEST_CONTEXT_MODULE: moduleUrl('test/support/context.ts'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Runs a worker process to its end; its report. */
function workerProcess(controlUrl: string): Promise<{jobs: Array<{id: number; outcome: string}>}> {
  const child = spawnWorker(controlUrl)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as {jobs: Array<{id: number; outcome: string}>})
      else reject(new Error(`the worker exited ${code}: ${stderr}`))
    })
  })
}

describe('a worker killed with kill -9 at each hang point', () => {
  let control: TestControlDb
  const children: ChildProcess[] = []
  beforeAll(async () => {
    control = await createControlDb('sqlite')
  })
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  afterAll(async () => {
    await control?.drop()
  })

  function startWorker(hang: string): Promise<ChildProcess> {
    const child = spawnWorker(control.url, hang)
    children.push(child)
    return new Promise((resolve, reject) => {
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
        if (stderr.includes(`hanging at ${hang}\n`)) resolve(child)
      })
      child.on('exit', (code) => reject(new Error(`the worker exited (${code}) before hanging at ${hang}: ${stderr}`)))
    })
  }

  async function killed(child: ChildProcess): Promise<void> {
    const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    child.kill('SIGKILL')
    await exit
  }

  /** Waits until the job's lease has expired (the dead worker renews it no more). */
  async function leaseExpired(id: number): Promise<void> {
    for (;;) {
      const row = await control.db('jobs').where({id}).first('lease_expires_at')
      const expires = row?.lease_expires_at
      if (expires !== null && expires !== undefined && new Date(expires as never).getTime() < Date.now()) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  it("killed -9 after a step, then canceled: the cancel appends the dead run's step entries before its own, once each", async () => {
    const name = 'kill-cancel'
    const kinds = jobKindRegistry([scratchKind(scratch.db, noFaults(), noCalls())])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name}, kinds})
      await killed(await startWorker('second:after'))
      expect(await stepEntries(control.db, id)).toEqual([])
      await leaseExpired(id)
      expect((await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})).state).toBe('canceled')
      const actions = await auditActions(control.db, id)
      expect(actions.slice(0, 4)).toEqual(['job.create', 'job.step.done', 'job.step.done', 'job.cancel'])
      expect(actions.at(-1)).toBe('job.canceled')
      expect(await stepEntries(control.db, id)).toEqual(['first', 'second'])
      await chainVerifies(control.db)
    } finally {
      await ctx.close()
    }
  })

  it.each(['second:before', 'second:unrecorded', 'second:after'])(
    'at %s: another worker takes the job over and completes it, each row written once',
    async (hang) => {
      const name = `kill-${hang.split(':')[1]}`
      const calls = noCalls()
      const kinds = jobKindRegistry([scratchKind(scratch.db, noFaults(), calls)])
      const ctx = makeContext(control.db)
      try {
        const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name}, kinds})
        await killed(await startWorker(hang))
        const atDeath = await showJob(ctx, {id})
        expect(atDeath.state).toBe('running')
        expect(atDeath.steps.map((s) => s.state)).toEqual(
          // A step starts as the step before it is recorded: at second:before the second step is running already.
          hang === 'second:after' ? ['done', 'done', 'running'] : ['done', 'running', 'pending'],
        )
        // The dead worker's done steps are recorded, their entries not yet in the chain.
        expect(await stepEntries(control.db, id)).toEqual([])
        const unaudited = await control.db('job_steps').where({job_id: id, state: 'done'}).whereNull('audited_at').orderBy('position').pluck('name')
        expect(unaudited).toEqual(hang === 'second:after' ? ['first', 'second'] : ['first'])
        await leaseExpired(id)
        const report = await runWorker(ctx, {once: true, kinds, settings: SETTINGS})
        expect(report.jobs).toEqual([{id, outcome: 'done'}])
        const job = await showJob(ctx, {id})
        expect(job).toMatchObject({state: 'done', attempts: 2})
        expect(calls.run.map((c) => c.step)).toEqual(hang === 'second:after' ? ['third'] : ['second', 'third'])
        if (hang === 'second:unrecorded') expect(calls.run[0]).toEqual({step: 'second', attempt: 2, previous: {ref: `${name}:second`}})
        const rows = (await scratch.db('job_scratch').where('key', 'like', `${name}:%`).orderBy('key').pluck('key')) as string[]
        expect(rows).toEqual([`${name}:first`, `${name}:second`, `${name}:third`])
        expect(job.steps.map((s) => s.output?.ref)).toEqual(rows)
        // The run that took the job over appended the dead worker's entries: one per step, none missing, none twice.
        expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.step.done', 'job.step.done', 'job.step.done', 'job.done'])
        expect(await stepEntries(control.db, id)).toEqual(['first', 'second', 'third'])
        expect(Number((await control.db('job_steps').where({job_id: id}).whereNull('audited_at').count({n: '*'}))[0].n)).toBe(0)
        await chainVerifies(control.db)
      } finally {
        await ctx.close()
      }
    },
  )

  it('at second:after, job:retry --detach queues the job again at once (its worker proven gone) for a worker to complete', async () => {
    const calls = noCalls()
    const kinds = jobKindRegistry([scratchKind(scratch.db, noFaults(), calls)])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'kill-detach'}, kinds})
      await killed(await startWorker('second:after'))
      await control
        .db('jobs')
        .where({id})
        .update({lease_expires_at: new Date(Date.now() + 10 * 60_000)})
      const queued = await retryJob(ctx, {id}, {detach: true, kinds, settings: SETTINGS})
      expect(queued).toMatchObject({state: 'queued', lockedBy: null})
      expect(queued.steps.map((s) => s.state)).toEqual(['done', 'done', 'pending'])
      const report = await runWorker(ctx, {once: true, kinds, settings: SETTINGS})
      expect(report.jobs).toEqual([{id, outcome: 'done'}])
      expect(calls.run.map((c) => c.step)).toEqual(['third'])
      expect(await stepEntries(control.db, id)).toEqual(['first', 'second', 'third'])
      // The dead run's entries appended by the retry, before its own; each step's once.
      expect(await auditActions(control.db, id)).toEqual(['job.create', 'job.step.done', 'job.step.done', 'job.retry', 'job.step.done', 'job.done'])
      await chainVerifies(control.db)
    } finally {
      await ctx.close()
    }
  })

  it('at second:after, a cancel here takes the job over at once (its worker proven gone), undoing its steps and appending their entries once', async () => {
    const calls = noCalls()
    const kinds = jobKindRegistry([scratchKind(scratch.db, noFaults(), calls)])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'kill-cancel-now'}, kinds})
      await killed(await startWorker('second:after'))
      // Its lease far from expired: only the proof that its process is gone lets the cancel take it over.
      await control
        .db('jobs')
        .where({id})
        .update({lease_expires_at: new Date(Date.now() + 10 * 60_000)})
      // job:show says so, rather than that a worker is running it.
      expect((await showJob(ctx, {id})).nextSteps).toEqual([
        expect.stringContaining(`\`raiops job:retry ${id}\` takes it over now`),
        `\`raiops job:cancel ${id}\` undoes what its steps did`,
      ])
      const job = await cancelJob(ctx, {id}, {kinds, settings: SETTINGS})
      expect(job.state).toBe('canceled')
      expect(calls.compensate.map((c) => c.step).slice(-2)).toEqual(['second', 'first'])
      expect(await stepEntries(control.db, id)).toEqual(['first', 'second'])
      expect((await auditActions(control.db, id)).filter((a) => a === 'job.cancel')).toHaveLength(1)
      await chainVerifies(control.db)
    } finally {
      await ctx.close()
    }
  })

  it('at second:after, a retry here takes the job over at once (its worker proven gone), without waiting out the lease', async () => {
    const calls = noCalls()
    const kinds = jobKindRegistry([scratchKind(scratch.db, noFaults(), calls)])
    const ctx = makeContext(control.db)
    try {
      const {id} = await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'kill-retry'}, kinds})
      await killed(await startWorker('second:after'))
      expect((await showJob(ctx, {id})).state).toBe('running')
      // Its lease as long as a worker's is by default, and far from expired: only the proof that its process is gone lets a run take it over.
      await control
        .db('jobs')
        .where({id})
        .update({lease_expires_at: new Date(Date.now() + 10 * 60_000)})
      const job = await retryJob(ctx, {id}, {kinds, settings: SETTINGS})
      expect(job).toMatchObject({state: 'done', attempts: 2})
      expect(calls.run.map((c) => c.step)).toEqual(['third'])
      expect((await scratch.db('job_scratch').where('key', 'like', 'kill-retry:%').orderBy('key').pluck('key')) as string[]).toEqual([
        'kill-retry:first',
        'kill-retry:second',
        'kill-retry:third',
      ])
    } finally {
      await ctx.close()
    }
  })
})
