import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ActiveSample, Evaluation, EvaluationTime} from '../../src/lib/alerts/kind.js'
import {RULE_KINDS} from '../../src/lib/alerts/kinds/index.js'
import {appendAudit} from '../../src/lib/audit/writer.js'
import {billingAlerts} from '../../src/lib/billing/alerts.js'
import type {SyncRunStatus} from '../../src/lib/db/tables.js'
import {NOW, seedAlertsFixture} from '../support/billing-alerts-fixture.js'
import {TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const MIN = 60_000
const ago = (ms: number) => new Date(NOW.getTime() - ms)
const AT: EvaluationTime = {now: NOW, previousRunAt: ago(5 * MIN)}

async function evaluate(db: Knex, kind: string, params: Record<string, unknown> = {}, at: EvaluationTime = AT): Promise<Evaluation> {
  const k = RULE_KINDS.get(kind)
  if (k === undefined) throw new Error(`no kind ${kind}`)
  return k.evaluate({db}, k.params.parse(params), at)
}

/** The samples' labels, sorted: what a rule's instances would be. */
async function firing(db: Knex, kind: string, params: Record<string, unknown> = {}, at: EvaluationTime = AT): Promise<Array<Record<string, string>>> {
  const result = await evaluate(db, kind, params, at)
  if (result.noData) throw new Error(`${kind} had no data`)
  return result.active.map((s) => ({...s.labels})).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

async function samples(db: Knex, kind: string, params: Record<string, unknown> = {}): Promise<ActiveSample[]> {
  const result = await evaluate(db, kind, params)
  if (result.noData) throw new Error(`${kind} had no data`)
  return result.active
}

async function addRds(db: Knex, name: string, row: Record<string, unknown> = {}): Promise<number> {
  await db('rds_instances').insert({
    name,
    engine: 'sqlite',
    rai_database: `/tmp/rai-${name}.sqlite`,
    created_at: ago(1000 * MIN),
    updated_at: ago(1000 * MIN),
    ...row,
  })
  return Number((await db('rds_instances').where({name}).first('id'))!.id)
}

async function addRun(
  db: Knex,
  kind: string,
  rdsId: number | null,
  status: SyncRunStatus,
  finishedAgoMs: number | null,
  error: string | null = null,
): Promise<void> {
  const finished = finishedAgoMs === null ? null : ago(finishedAgoMs)
  await db('sync_runs').insert({kind, rds_instance_id: rdsId, status, started_at: ago((finishedAgoMs ?? 0) + MIN), finished_at: finished, error})
}

async function addJob(db: Knex, row: Record<string, unknown>, stepUpdatedAgoMs?: number): Promise<number> {
  await db('jobs').insert({
    kind: 'tenant.create',
    input: '{}',
    created_by: 'test@localhost',
    run_after: ago(1000 * MIN),
    created_at: ago(1000 * MIN),
    updated_at: ago(1000 * MIN),
    ...row,
  })
  const id = Number((await db('jobs').max({id: 'id'}))[0].id)
  if (stepUpdatedAgoMs !== undefined)
    await db('job_steps').insert({job_id: id, position: 1, name: 'place', state: 'running', attempts: 1, retries: 0, updated_at: ago(stepUpdatedAgoMs)})
  return id
}

/** How many queries `work` sends through `db`. */
async function countQueries(db: Knex, work: () => Promise<unknown>): Promise<number> {
  let n = 0
  const count = () => void n++
  db.on('query', count)
  try {
    await work()
  } finally {
    db.off('query', count)
  }
  return n
}

describe.each(CONTROL_ENGINES)('alert rule kinds on %s', (engine) => {
  let control: TestControlDb

  beforeAll(async () => {
    control = await createControlDb(engine)
  })

  afterAll(async () => {
    await control?.drop()
  })

  it('every kind parses {} with its defaults and refuses an unknown parameter', () => {
    for (const kind of RULE_KINDS.values()) {
      expect(kind.params.safeParse({}).success, kind.kind).toBe(true)
      expect(kind.params.safeParse({bogus: 1}).success, kind.kind).toBe(false)
    }
    expect(RULE_KINDS.get('sync_stale')!.params.parse({})).toEqual({maxAge: '2h'})
    expect(RULE_KINDS.get('sync_stale')!.params.safeParse({maxAge: '-2h'}).success).toBe(false)
    expect(RULE_KINDS.get('jobs_stuck')!.params.safeParse({after: 'soon'}).success).toBe(false)
  })

  it('with no RDS registered, the RDS and sync kinds have no data; the others find nothing', async () => {
    const {db} = control
    for (const kind of ['rds_down', 'rds_degraded', 'sync_stale', 'sync_failing']) expect(await evaluate(db, kind), kind).toEqual({noData: true})
    for (const kind of ['jobs_failed', 'jobs_stuck', 'lease_overdue', 'audit_chain_broken', 'billing_overdue', 'trial_ending'])
      expect(await evaluate(db, kind), kind).toEqual({noData: false, active: []})
  })

  describe('against rows in the control database', () => {
    const jobs = {failed: 0, canceled: 0, abandoned: 0, busy: 0, waiting: 0, backoff: 0}

    beforeAll(async () => {
      const {db} = control
      // Billing first: its fixture brings an RDS of its own, taken out of the fleet here.
      await seedAlertsFixture(db)
      await db('rds_instances').where({name: 'billing-rds'}).update({is_active: false})

      const eu1 = await addRds(db, 'eu-1', {
        is_master: true,
        health_status: 'down',
        health_checked_at: ago(MIN),
        health_error: 'connect ECONNREFUSED 10.0.0.1:3306',
      })
      const eu2 = await addRds(db, 'eu-2', {health_status: 'degraded', health_checked_at: ago(MIN), health_error: 'SELECT 1 took 900 ms'})
      const eu3 = await addRds(db, 'eu-3', {health_status: 'healthy', health_checked_at: ago(MIN)})
      const eu4 = await addRds(db, 'eu-4') // never probed: unknown, not down
      await addRds(db, 'eu-5', {created_at: ago(10 * MIN), health_status: 'healthy'}) // registered 10 min ago, not synced yet: not stale
      const old = await addRds(db, 'old', {is_active: false, health_status: 'down', health_checked_at: ago(MIN)})

      await addRun(db, 'tenants', eu1, 'ok', 30 * MIN)
      await addRun(db, 'tenants', eu2, 'ok', 180 * MIN)
      await addRun(db, 'tenants', eu2, 'failed', 10 * MIN, 'connect ETIMEDOUT')
      await addRun(db, 'tenants', eu3, 'running', null) // never succeeded; a run in progress is not a failure
      await addRun(db, 'tenants', eu4, 'ok', 60 * MIN)
      await addRun(db, 'tenants', eu4, 'partial', 5 * MIN, '2 tenants invalid')
      await addRun(db, 'tenants', eu1, 'skipped', 2 * MIN) // a skipped run neither fails nor refreshes
      await addRun(db, 'tenants', null, 'partial', 5 * MIN) // the run as a whole: not per RDS
      await addRun(db, 'tenants', old, 'failed', 5 * MIN)
      await addRun(db, 'routing', eu1, 'ok', 45 * MIN)
      await addRun(db, 'routing', eu2, 'failed', 5 * MIN) // eu-2 is not the master

      await db('locks').insert([
        {name: 'sync:tenants', holder: 'worker-1.example:4242:abc:boot/ns/123', acquired_at: ago(60 * MIN), expires_at: ago(10 * MIN)},
        {name: 'sync:routing', holder: 'worker-1.example:4243:def', acquired_at: ago(5 * MIN), expires_at: ago(30_000)},
        {name: 'alerts', holder: 'worker-2.example:77:ghi', acquired_at: ago(MIN), expires_at: new Date(NOW.getTime() + MIN)},
      ])

      jobs.failed = await addJob(db, {state: 'failed', error: 'owner: owner@acme.example is taken\nby another tenant', tenant_name: 'Acme'})
      jobs.canceled = await addJob(db, {state: 'canceled'})
      jobs.abandoned = await addJob(
        db,
        {state: 'running', locked_by: 'worker-3.example:99:jkl', lease_expires_at: ago(5 * MIN), heartbeat_at: ago(6 * MIN), updated_at: ago(40 * MIN)},
        35 * MIN,
      )
      jobs.busy = await addJob(
        db,
        {state: 'running', locked_by: 'worker-3.example:98:mno', lease_expires_at: new Date(NOW.getTime() + MIN), updated_at: ago(120 * MIN)},
        5 * MIN,
      )
      jobs.waiting = await addJob(db, {state: 'queued', run_after: ago(60 * MIN), updated_at: ago(60 * MIN)})
      jobs.backoff = await addJob(db, {state: 'queued', run_after: new Date(NOW.getTime() + 60 * MIN), updated_at: ago(60 * MIN)})
      await addJob(db, {state: 'done'})

      const audit = {...TEST_AUDIT}
      for (const n of [1, 2, 3]) await appendAudit(db, audit, {action: 'test.entry', targetType: 'test', targetId: n}, ago((10 - n) * MIN))
    })

    it('rds_down and rds_degraded: the active RDS at that status, named; never-probed and inactive ones are not', async () => {
      const {db} = control
      expect(await firing(db, 'rds_down')).toEqual([{rds: 'eu-1'}])
      expect(await firing(db, 'rds_degraded')).toEqual([{rds: 'eu-2'}])
      const [down] = await samples(db, 'rds_down')
      expect(down.summary).toBe(`eu-1 was down at its last health check (${ago(MIN).toISOString()}): connect ECONNREFUSED 10.0.0.1:3306`)
      await db('rds_instances').where({name: 'eu-1'}).update({health_status: 'healthy'})
      try {
        expect(await firing(db, 'rds_down')).toEqual([])
      } finally {
        await db('rds_instances').where({name: 'eu-1'}).update({health_status: 'down'})
      }
    })

    it('sync_stale: per RDS whose last successful sync is older than maxAge or missing; routing on the master only', async () => {
      const {db} = control
      expect(await firing(db, 'sync_stale', {sync: 'tenants', maxAge: '2h'})).toEqual([
        {rds: 'eu-2', sync: 'tenants'},
        {rds: 'eu-3', sync: 'tenants'},
      ])
      const bySummary = Object.fromEntries((await samples(db, 'sync_stale', {sync: 'tenants', maxAge: '2h'})).map((s) => [s.labels.rds, s]))
      expect(bySummary['eu-2'].value).toBe(3 * 3600)
      expect(bySummary['eu-2'].summary).toContain('last succeeded 3 h ago')
      expect(bySummary['eu-3']).toMatchObject({value: null, summary: `the tenants sync of eu-3 never succeeded (registered ${ago(1000 * MIN).toISOString()})`})
      expect(await firing(db, 'sync_stale', {sync: 'tenants', maxAge: '4h'})).toEqual([{rds: 'eu-3', sync: 'tenants'}])
      // A sync every 5 minutes: eu-5, registered 10 minutes ago and never synced, is late too.
      expect(await firing(db, 'sync_stale', {sync: 'tenants', maxAge: '5m'})).toEqual([
        {rds: 'eu-1', sync: 'tenants'},
        {rds: 'eu-2', sync: 'tenants'},
        {rds: 'eu-3', sync: 'tenants'},
        {rds: 'eu-4', sync: 'tenants'},
        {rds: 'eu-5', sync: 'tenants'},
      ])
      expect(await firing(db, 'sync_stale', {sync: 'routing', maxAge: '30m'})).toEqual([{rds: 'eu-1', sync: 'routing'}])
      expect(await firing(db, 'sync_stale', {sync: 'routing', maxAge: '1h'})).toEqual([])
    })

    it('sync_failing: the latest finished run of an RDS failed or partial; skipped, running, inactive and non-master routing runs are not', async () => {
      const {db} = control
      expect(await firing(db, 'sync_failing')).toEqual([
        {rds: 'eu-2', sync: 'tenants'},
        {rds: 'eu-4', sync: 'tenants'},
      ])
      const summaries = (await samples(db, 'sync_failing', {sync: 'tenants'})).map((s) => s.summary).sort()
      expect(summaries).toEqual([
        `the tenants sync of eu-2 failed at ${ago(10 * MIN).toISOString()}: connect ETIMEDOUT`,
        `the tenants sync of eu-4 was partial at ${ago(5 * MIN).toISOString()}: 2 tenants invalid`,
      ])
      expect(await firing(db, 'sync_failing', {sync: 'routing'})).toEqual([])
    })

    it('lease_overdue: leases expired longer ago than grace, and running jobs whose worker lease expired', async () => {
      const {db} = control
      expect(await firing(db, 'lease_overdue')).toEqual([{job: String(jobs.abandoned)}, {lease: 'sync:tenants'}])
      const lease = (await samples(db, 'lease_overdue')).find((s) => s.labels.lease)!
      expect(lease.summary).toBe(
        `the lease sync:tenants held by worker-1.example:4242 expired 10 min ago (${ago(10 * MIN).toISOString()}) and was not released`,
      )
      expect(lease.value).toBe(600)
      expect(await firing(db, 'lease_overdue', {grace: '15m'})).toEqual([])
      expect(await firing(db, 'lease_overdue', {grace: '10s'})).toEqual([{job: String(jobs.abandoned)}, {lease: 'sync:routing'}, {lease: 'sync:tenants'}])
    })

    it('jobs_failed: failed jobs, not canceled or done ones', async () => {
      const {db} = control
      expect(await firing(db, 'jobs_failed')).toEqual([{job: String(jobs.failed), kind: 'tenant.create'}])
      const [failed] = await samples(db, 'jobs_failed')
      expect(failed.summary).toMatch(/^job \d+ \(tenant\.create, tenant Acme\) failed at .*: owner: o\*\*\*@acme\.example is taken by another tenant$/)
    })

    it('jobs_stuck: queued and due without a worker, or running without step progress, for longer than after', async () => {
      const {db} = control
      expect(await firing(db, 'jobs_stuck', {after: '30m'})).toEqual([
        {job: String(jobs.abandoned), kind: 'tenant.create'},
        {job: String(jobs.waiting), kind: 'tenant.create'},
      ])
      const abandoned = (await samples(db, 'jobs_stuck', {after: '30m'})).find((s) => s.labels.job === String(jobs.abandoned))!
      expect(abandoned.value).toBe(35 * 60) // its step moved 35 min ago, the job row 40
      expect(await firing(db, 'jobs_stuck', {after: '50m'})).toEqual([{job: String(jobs.waiting), kind: 'tenant.create'}])
      expect(await firing(db, 'jobs_stuck', {after: '3h'})).toEqual([])
    })

    it('billing_overdue and trial_ending agree with billing:alerts', async () => {
      const {db} = control
      const reference = await billingAlerts({db, now: () => NOW}, {})
      const overdue = reference.alerts.filter((a) => a.kind === 'overdue')
      expect(overdue.length).toBeGreaterThan(0)
      expect(await firing(db, 'billing_overdue')).toEqual(overdue.map((a) => ({tenant: a.tenantName, currency: a.currency})))
      const [sample] = await samples(db, 'billing_overdue')
      expect(sample.value).toBe(Number(overdue[0].amount))
      expect(sample.summary).toContain(`${overdue[0].amount} USD unpaid in 1 period(s), past due since ${overdue[0].at}`)
      // 30 grace days: the period that ended on June 1 is not past due on June 15.
      expect(await firing(db, 'billing_overdue', {graceDays: 30})).toEqual([])

      const trials = reference.alerts.filter((a) => a.kind === 'trial-ending')
      expect(trials.length).toBeGreaterThan(0)
      expect(await firing(db, 'trial_ending', {within: '7d'})).toEqual(trials.map((a) => ({tenant: a.tenantName})))
      // Trial Soon Deli's ends in 5 days.
      expect(await firing(db, 'trial_ending', {within: '4d'})).toEqual([])
    })

    it('audit_chain_broken: nothing while the chain verifies; one alert naming the entry once an entry is edited', async () => {
      const {db} = control
      expect(await firing(db, 'audit_chain_broken')).toEqual([])
      const second = await db('audit_logs').where({seq: 2}).first('id', 'action')
      await db('audit_logs').where({id: second!.id}).update({action: 'test.forged'})
      try {
        const [broken] = await samples(db, 'audit_chain_broken')
        expect(broken.labels).toEqual({})
        expect(broken.summary).toMatch(/^the audit chain breaks at entry 2: /)
        expect(broken.value).toBe(2)
      } finally {
        await db('audit_logs').where({id: second!.id}).update({action: second!.action})
      }
      expect(await firing(db, 'audit_chain_broken')).toEqual([])
    })

    it('engine_heartbeat: the first run is not late; a previous run longer ago than maxGap is', async () => {
      const {db} = control
      expect(await firing(db, 'engine_heartbeat', {}, {now: NOW, previousRunAt: null})).toEqual([])
      expect(await firing(db, 'engine_heartbeat', {}, {now: NOW, previousRunAt: ago(15 * MIN)})).toEqual([])
      const late = await evaluate(db, 'engine_heartbeat', {}, {now: NOW, previousRunAt: ago(47 * MIN)})
      expect(late).toMatchObject({noData: false, active: [{labels: {}, value: 47 * 60}]})
      expect(late.noData === false && late.active[0].summary).toContain('no alert evaluation for 47 min')
      expect(await firing(db, 'engine_heartbeat', {maxGap: '1h'}, {now: NOW, previousRunAt: ago(47 * MIN)})).toEqual([])
    })
  })
})

describe.each(CONTROL_ENGINES)('alert rule kinds read in a bounded number of queries on %s', (engine) => {
  let control: TestControlDb

  beforeAll(async () => {
    control = await createControlDb(engine)
    await seedAlertsFixture(control.db)
    await control.db('rds_instances').where({name: 'billing-rds'}).update({is_active: false})
  })

  afterAll(async () => {
    await control?.drop()
  })

  /** One RDS (the master at index 0) with a stale, failing sync, an expired lease and a failed and a stuck job each. */
  async function addFleet(db: Knex, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      const id = await addRds(db, `rds-${i}`, {is_master: i === 0, health_status: i % 2 === 0 ? 'down' : 'degraded', health_checked_at: ago(MIN)})
      await addRun(db, 'tenants', id, 'ok', 300 * MIN)
      await addRun(db, 'tenants', id, 'failed', 5 * MIN, 'refused')
      await addRun(db, 'ghost-users', id, 'partial', 5 * MIN)
      if (i === 0) await addRun(db, 'routing', id, 'failed', 5 * MIN)
      await db('locks').insert({name: `lease-${i}`, holder: `h:${i}:x`, acquired_at: ago(60 * MIN), expires_at: ago(30 * MIN)})
      await addJob(db, {state: 'failed', error: 'boom'})
      await addJob(db, {state: 'running', locked_by: `w:${i}:y`, lease_expires_at: ago(10 * MIN), updated_at: ago(90 * MIN)}, 80 * MIN)
      await addJob(db, {state: 'queued', run_after: ago(90 * MIN), updated_at: ago(90 * MIN)})
    }
  }

  it('the same number of queries for each kind with 1 RDS as with 50', async () => {
    const {db} = control
    const params: Record<string, Record<string, unknown>> = {sync_stale: {maxAge: '1h'}}
    const measure = async () => {
      const counts: Record<string, number> = {}
      const found: Record<string, number> = {}
      for (const kind of RULE_KINDS.keys()) {
        counts[kind] = await countQueries(db, async () => {
          const result = await evaluate(db, kind, params[kind] ?? {})
          found[kind] = result.noData ? -1 : result.active.length
        })
      }
      return {counts, found}
    }
    await addFleet(db, 0, 1)
    const one = await measure()
    await addFleet(db, 1, 50)
    const fifty = await measure()
    expect(fifty.counts).toEqual(one.counts)
    // …while what they find grew with the fleet.
    expect(fifty.found).toMatchObject({
      rds_down: 25,
      rds_degraded: 25,
      sync_stale: 100 + 1,
      sync_failing: 100 + 1,
      lease_overdue: 100,
      jobs_failed: 50,
      jobs_stuck: 100,
    })
    expect(one.found).toMatchObject({rds_down: 1, rds_degraded: 0, sync_stale: 3, sync_failing: 3, lease_overdue: 2, jobs_failed: 1, jobs_stuck: 2})
    for (const [kind, n] of Object.entries(one.counts)) {
      expect(n, kind).toBeLessThanOrEqual(6)
      // The heartbeat reads nothing: the engine hands it the previous run's time.
      if (kind !== 'engine_heartbeat') expect(n, kind).toBeGreaterThan(0)
    }
  })
})
