import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {claimJob, enqueueJob, jobKindRegistry, type JobListItem, type JobView, runJob} from '../../src/lib/jobs/index.js'
import {makeContext} from '../support/context.js'
import {createScratchDb, noFaults, SCRATCH_KIND, type ScratchDb, scratchKind} from '../support/job-kind.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {type CliSession, initialisedHome, killStartedClis, startCli, waitFor} from '../support/session.js'

describe('job:* commands, as an operator runs them', () => {
  let dir: TestDir
  let session: CliSession
  let scratch: ScratchDb
  let db: Knex
  const tokens: Record<string, string> = {}
  const ids = {done: 0, failed: 0, held: 0}

  beforeAll(async () => {
    dir = createTestDir('raiops-jobs-')
    const home = join(dir.path, 'raiops')
    session = await initialisedHome({home, password: 'jobs-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    for (const role of ['read_only', 'billing_admin']) {
      const created = await session.run(['token:create', '--name', `as-${role.replace('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens[role] = (JSON.parse(created.stdout) as {token: string}).token
    }
    // Jobs of a kind the engine's tests define, made through the services: the commands read and change any job.
    scratch = await createScratchDb()
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(home, 'raiops.sqlite')}`, home))
    const faults = noFaults()
    const kinds = jobKindRegistry([scratchKind(scratch.db, faults)])
    const ctx = makeContext(db)
    try {
      ids.done = (await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'cli-done'}, kinds})).id
      await runJob(ctx, ids.done, {kinds})
      ids.failed = (await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'cli-failed'}, kinds})).id
      faults.permanent.add('second')
      await runJob(ctx, ids.failed, {kinds})
      ids.held = (await enqueueJob(ctx, {kind: SCRATCH_KIND, input: {name: 'cli-held'}, kinds})).id
      expect(await claimJob(db, ids.held, 'worker-7.example:4242:abc', new Date(), 3_600_000)).toBe(true)
    } finally {
      await ctx.close()
    }
  })

  afterAll(async () => {
    killStartedClis()
    await db?.destroy()
    await scratch?.drop()
    dir?.drop()
  })

  it('job:list --json lists the jobs newest first, filtered by --state; a table otherwise', async () => {
    const all = await session.run(['job:list', '--json'])
    expect(all.code, all.stderr).toBe(0)
    const jobs = JSON.parse(all.stdout) as JobListItem[]
    expect(jobs.map((j) => [j.id, j.state, j.tenantName])).toEqual([
      [ids.held, 'running', 'cli-held'],
      [ids.failed, 'failed', 'cli-failed'],
      [ids.done, 'done', 'cli-done'],
    ])
    expect(jobs[1]).toMatchObject({step: '2/3 second', error: 'second: second refused the input'})

    const failed = await session.run(['job:list', '--state', 'failed', '--json'])
    expect((JSON.parse(failed.stdout) as JobListItem[]).map((j) => j.id)).toEqual([ids.failed])
    const table = await session.run(['job:list', '--wide'])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/id\W+kind\W+state\W+tenant/)
    expect(table.stdout).toContain('cli-failed')

    const bad = await session.run(['job:list', '--state', 'lost'])
    expect(bad.code).toBe(2)
  })

  it('job:show prints the steps and next steps; --json returns them; a bad or unknown id is exit 2', async () => {
    const shown = await session.run(['job:show', String(ids.failed), '--json'])
    expect(shown.code, shown.stderr).toBe(0)
    const job = JSON.parse(shown.stdout) as JobView
    expect(job.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['first', 'done', 1],
      ['second', 'failed', 1],
      ['third', 'pending', 0],
    ])
    expect(job.steps[0].output).toEqual({rowId: expect.any(Number), ref: 'cli-failed:first'})
    expect(job.nextSteps).toEqual([
      `\`raiops job:cancel ${ids.failed}\` undoes what its steps did; then create the job again with corrected input`,
      `\`raiops job:retry ${ids.failed}\` once the cause is fixed (continues from second)`,
    ])

    const text = await session.run(['job:show', String(ids.failed)])
    expect(text.stdout).toContain('steps:\n  1/3 first  done  attempt 1')
    expect(text.stdout).toContain('error: second refused the input')
    expect(text.stdout).toContain(`next steps:\n  \`raiops job:cancel ${ids.failed}\``)

    for (const id of ['abc', '0', '99999']) {
      const bad = await session.run(['job:show', id])
      expect(bad.code, id).toBe(2)
      expect(bad.stdout).toBe('')
      expect(bad.stderr.trim().split('\n')[0]).toMatch(id === '99999' ? /no job 99999/ : /not a job id/)
    }
  })

  it('read_only may list and show jobs; read_only and billing_admin may not retry, cancel or work them (exit 5)', async () => {
    const asRole = (role: string, args: string[]) => session.run(args, {env: {RAIOPS_TOKEN: tokens[role]}})
    expect((await asRole('read_only', ['job:list', '--json'])).code).toBe(0)
    expect((await asRole('read_only', ['job:show', String(ids.done), '--json'])).code).toBe(0)
    // An email in a job (a tenant's contact, its owner) is masked for a caller without pii.view, as tenant:list masks it.
    const input = (await db('jobs').where({id: ids.done}).first('input')) as {input: string}
    await db('jobs')
      .where({id: ids.done})
      .update({input: JSON.stringify({...JSON.parse(input.input), contact: 'ana.owner@cafe.example'})})
    for (const args of [
      ['job:show', String(ids.done), '--json'],
      ['job:list', '--json'],
    ]) {
      const masked = await asRole('read_only', args)
      expect(masked.code, masked.stderr).toBe(0)
      expect(masked.stdout).not.toContain('ana.owner@cafe.example')
    }
    expect((await session.run(['job:show', String(ids.done), '--json'])).stdout).toContain('ana.owner@cafe.example')
    await db('jobs').where({id: ids.done}).update(input)
    for (const role of ['read_only', 'billing_admin']) {
      for (const args of [
        ['job:retry', String(ids.failed)],
        ['job:cancel', String(ids.failed)],
        ['job:work', '--once'],
      ]) {
        const refused = await asRole(role, args)
        expect(refused.code, `${role} ${args.join(' ')}`).toBe(5)
        expect(refused.stderr).toContain('jobs.manage')
      }
    }
    expect((await asRole('billing_admin', ['job:list'])).code).toBe(5)
    const state = await session.run(['job:show', String(ids.failed), '--json'])
    expect((JSON.parse(state.stdout) as JobView).state).toBe('failed')
  })

  it('job:cancel refuses a done job (exit 2) and a job a live worker holds (exit 6), naming it', async () => {
    const done = await session.run(['job:cancel', String(ids.done)])
    expect(done.code).toBe(2)
    expect(done.stderr).toContain(`job ${ids.done} is done`)
    const held = await session.run(['job:cancel', String(ids.held)])
    expect(held.code).toBe(6)
    expect(held.stderr).toContain(`job ${ids.held} is being run by worker-7.example (pid 4242)`)
    const retry = await session.run(['job:retry', String(ids.held)])
    expect(retry.code).toBe(6)
  })

  it('job:retry --detach queues a failed job again (audited), and job:work --once leaves jobs of kinds it does not know alone', async () => {
    // In the foreground it would run here, where its kind is unknown: refused before anything changes.
    const here = await session.run(['job:retry', String(ids.failed)])
    expect(here.code).toBe(2)
    expect(here.stderr).toContain('unknown job kind "test.scratch"')
    expect((await db('jobs').where({id: ids.failed}).first('state'))?.state).toBe('failed')

    const retried = await session.run(['job:retry', String(ids.failed), '--detach', '--json'])
    expect(retried.code, retried.stderr).toBe(0)
    const job = JSON.parse(retried.stdout) as JobView
    expect(job).toMatchObject({id: ids.failed, state: 'queued', error: null})
    expect(job.steps.map((s) => s.state)).toEqual(['done', 'pending', 'pending'])
    const audit = await db('audit_logs')
      .where({target_type: 'job', target_id: String(ids.failed)})
      .orderBy('seq')
      .pluck('action')
    expect(audit).toEqual(['job.create', 'job.step.done', 'job.fail', 'job.retry'])

    const work = await session.run(['job:work', '--once', '--json'])
    expect(work.code, work.stderr).toBe(0)
    expect(JSON.parse(work.stdout)).toEqual({jobs: [], stopped: false})
    expect((await db('jobs').where({id: ids.failed}).first('state'))?.state).toBe('queued')
  })

  it('job:work runs until SIGTERM, then stops cleanly with 143 and its summary', async () => {
    const worker = startCli(['job:work', '--poll', '1'], {env: session.env})
    await waitFor(() => worker.output.stderr.includes('waiting for jobs, 1 at a time'), {what: 'the worker to start'})
    worker.child.kill('SIGTERM')
    expect(await worker.exited).toBe(143)
    expect(worker.output.stderr).toContain('0 job(s) run, 0 done, 0 failed')
    expect(worker.output.stdout).toBe('')
  })
})
