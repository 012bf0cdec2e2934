import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {z} from 'zod'

import {ackAlert} from '../../src/lib/alerts/ack.js'
import {ALERTS_LEASE, evaluateAlerts, runAlerts, type AlertRunResult, type RunOptions} from '../../src/lib/alerts/engine.js'
import {defineRuleKind, type Evaluation} from '../../src/lib/alerts/kind.js'
import type {RuleKindRegistry} from '../../src/lib/alerts/kinds/index.js'
import type {NotificationPayload} from '../../src/lib/alerts/types.js'
import {seedRoles} from '../../src/lib/auth/seed.js'
import {insertReturningId, openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import type {AlertInstanceRow, AlertNotificationRow, AlertTransitionRow} from '../../src/lib/db/tables.js'
import {toIso} from '../../src/lib/db/values.js'
import {BusyError} from '../../src/lib/errors/index.js'
import {acquireLease} from '../../src/lib/lease/lease.js'
import {closedPort} from '../support/alert-receivers.js'
import {runCli} from '../support/cli.js'
import {changeContext, TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDatabase, createTestDir, type TestDatabase, type TestDir} from '../support/servers.js'
import {initialisedHome, killStartedClis, startCli, waitFor, type CliSession} from '../support/session.js'

const MIN = 60_000
const T0 = Date.parse('2026-12-01T10:00:00.000Z')
const at = (minutes: number): Date => new Date(T0 + minutes * MIN)

/**
 * Test kinds whose evaluation the test decides: `truth[kind]` is what the next
 * evaluation returns (an Error is thrown). Their names include the kinds
 * inhibition knows (rds_down, rds_degraded).
 */
type Truth = Evaluation | Error
function testKinds(truth: Map<string, Truth>): RuleKindRegistry {
  const kinds = ['test_a', 'test_b', 'rds_down', 'rds_degraded'].map((kind) =>
    defineRuleKind({
      kind,
      description: `a test kind (${kind})`,
      labelNames: ['rds'],
      params: z.object({}).strict(),
      evaluate: async () => {
        const value = truth.get(kind) ?? {noData: false, active: []}
        if (value instanceof Error) throw value
        return value
      },
    }),
  )
  return new Map(kinds.map((k) => [k.kind, k]))
}

const active = (...names: string[]): Evaluation => ({noData: false, active: names.map((rds) => ({labels: {rds}, summary: `${rds} is down`, value: 1}))})

interface RuleSpec {
  name: string
  kind?: string
  forMin?: number
  keepMin?: number
  severity?: 'critical' | 'warning' | 'info'
  noData?: 'nodata' | 'ok' | 'keep-last'
  onError?: 'error' | 'ok' | 'keep-last'
  labels?: Record<string, string>
}

async function addRule(db: Knex, spec: RuleSpec): Promise<number> {
  const now = new Date(T0)
  await db('alert_rules').insert({
    name: spec.name,
    kind: spec.kind ?? 'test_a',
    params: '{}',
    for_ms: (spec.forMin ?? 0) * MIN,
    keep_firing_for_ms: (spec.keepMin ?? 0) * MIN,
    severity: spec.severity ?? 'warning',
    labels: JSON.stringify(spec.labels ?? {}),
    no_data: spec.noData ?? 'nodata',
    on_error: spec.onError ?? 'error',
    description: null,
    enabled: true,
    builtin: false,
    created_by: 'test',
    created_at: now,
    updated_at: now,
  })
  const row = await db('alert_rules').where({name: spec.name}).first('id')
  return Number(row?.id)
}

async function addSubscription(
  db: Knex,
  operatorId: number,
  spec: {severities?: string[]; rules?: string[]; matchers?: string[]; target?: string; sendResolved?: boolean} = {},
): Promise<number> {
  const now = new Date(T0)
  await db('alert_subscriptions').insert({
    operator_id: operatorId,
    channel: 'webhook',
    target: spec.target ?? `https://hooks.example/${Math.random().toString(36).slice(2)}`,
    severities: spec.severities ? JSON.stringify(spec.severities) : null,
    rules: spec.rules ? JSON.stringify(spec.rules) : null,
    matchers: spec.matchers ? JSON.stringify(spec.matchers) : null,
    send_resolved: spec.sendResolved ?? true,
    enabled: true,
    created_by: 'test',
    created_at: now,
    updated_at: now,
  })
  const row = await db('alert_subscriptions').orderBy('id', 'desc').first('id')
  return Number(row?.id)
}

async function clearAlerts(db: Knex): Promise<void> {
  for (const table of ['alert_notifications', 'alert_transitions', 'alert_instances', 'alert_rules', 'alert_runs', 'alert_silences', 'alert_subscriptions'])
    await db(table).delete()
  await db('locks').where({name: ALERTS_LEASE}).delete()
}

describe.each(CONTROL_ENGINES)('the alert engine on a %s control database', (engine) => {
  let control: TestControlDb
  let db: Knex
  let operatorId: number
  const truth = new Map<string, Truth>()
  const kinds = testKinds(truth)

  const run = (minutes: number, options: Partial<RunOptions> = {}): Promise<AlertRunResult> =>
    runAlerts(changeContext(db, {now: at(minutes)}), {now: at(minutes), kinds, deliver: false, ...options})

  /** rds label → state of the rule's instances. */
  async function states(rule: string): Promise<Record<string, string>> {
    const rows = (await db('alert_instances as i').join('alert_rules as r', 'r.id', 'i.rule_id').where('r.name', rule).select('i.labels', 'i.state')) as Array<{
      labels: string
      state: string
    }>
    return Object.fromEntries(
      rows.map((r) => {
        const labels = JSON.parse(r.labels) as Record<string, string>
        return [labels.rds ?? `alertstate=${labels.alertstate}`, r.state]
      }),
    )
  }
  const outbox = async (): Promise<AlertNotificationRow[]> => db('alert_notifications').orderBy('id')
  const payloadOf = (row: AlertNotificationRow): NotificationPayload => JSON.parse(row.payload) as NotificationPayload

  beforeAll(async () => {
    control = await createControlDb(engine)
    db = control.db
    await seedRoles(db, new Date(T0))
    await db('operators').insert({
      name: 'Ops',
      email: 'ops@example.com',
      password_hash: 'x',
      role: 'system_admin',
      is_active: true,
      failed_logins: 0,
      created_at: new Date(T0),
      updated_at: new Date(T0),
    })
    operatorId = Number((await db('operators').first('id'))?.id)
  })
  afterAll(async () => {
    await control?.drop()
  })
  beforeEach(async () => {
    truth.clear()
    await clearAlerts(db)
  })

  describe('the state of each instance across runs', () => {
    it('for: pending, then firing once it held; pending that clears goes inactive; resolved goes pending again', async () => {
      await addRule(db, {name: 'down', forMin: 10})
      truth.set('test_a', active('eu-1', 'eu-2'))
      await run(0)
      expect(await states('down')).toEqual({'eu-1': 'pending', 'eu-2': 'pending'})
      truth.set('test_a', active('eu-1'))
      await run(5)
      expect(await states('down')).toEqual({'eu-1': 'pending', 'eu-2': 'inactive'})
      const fired = await run(10)
      expect(await states('down')).toEqual({'eu-1': 'firing', 'eu-2': 'inactive'})
      expect(fired.transitions).toEqual([
        {rule: 'down', labels: {alertname: 'down', severity: 'warning', rds: 'eu-1'}, from: 'pending', to: 'firing', mutedBy: null},
      ])
      truth.set('test_a', active())
      await run(15)
      expect(await states('down')).toEqual({'eu-1': 'resolved', 'eu-2': 'inactive'})
      truth.set('test_a', active('eu-1'))
      await run(20)
      expect(await states('down')).toEqual({'eu-1': 'pending', 'eu-2': 'inactive'})

      const row = (await db('alert_instances').where('state', 'pending').first()) as AlertInstanceRow
      expect(toIso(row.active_at)).toBe(at(20).toISOString())
      expect(row.fired_at).toBeNull()
      expect(toIso(row.last_eval_at)).toBe(at(20).toISOString())
      const history = (await db('alert_transitions').where({instance_id: row.id}).orderBy('id')) as AlertTransitionRow[]
      expect(history.map((t) => `${t.from_state}>${t.to_state}`)).toEqual(['inactive>pending', 'pending>firing', 'firing>resolved', 'resolved>pending'])
    })

    it('keep_firing_for keeps it firing while it was true within it; for 0 fires at once', async () => {
      await addRule(db, {name: 'flappy', keepMin: 10})
      truth.set('test_a', active('eu-1'))
      await run(0)
      expect(await states('flappy')).toEqual({'eu-1': 'firing'})
      truth.set('test_a', active())
      await run(5)
      expect(await states('flappy')).toEqual({'eu-1': 'firing'})
      await run(10)
      expect(await states('flappy')).toEqual({'eu-1': 'resolved'})
    })

    it('a gap makes firing and pending instances not seen active unknown, never resolved; the next run on time decides', async () => {
      await addRule(db, {name: 'down'})
      await addRule(db, {name: 'slow', kind: 'test_b', forMin: 10})
      truth.set('test_a', active('eu-1', 'eu-2'))
      truth.set('test_b', active('eu-1'))
      await run(0)
      truth.set('test_a', active('eu-2'))
      truth.set('test_b', active())
      const gapRun = await run(30)
      expect(gapRun.gap).toBe(true)
      expect(await states('down')).toEqual({'eu-1': 'unknown', 'eu-2': 'firing'})
      expect(await states('slow')).toEqual({'eu-1': 'unknown'})
      const run2 = (await db('alert_runs').where({id: gapRun.runId}).first()) as {gap: unknown; previous_at: unknown}
      expect(Boolean(Number(run2.gap))).toBe(true)
      expect(toIso(run2.previous_at)).toBe(at(0).toISOString())

      truth.set('test_a', active())
      const onTime = await run(35)
      expect(onTime.gap).toBe(false)
      expect(await states('down')).toEqual({'eu-1': 'resolved', 'eu-2': 'resolved'})
      expect(await states('slow')).toEqual({'eu-1': 'inactive'})
    })

    const POLICY_CASES = [
      {policy: 'nodata', fault: 'no data', expected: {'eu-1': 'resolved', 'alertstate=nodata': 'firing'}},
      {policy: 'ok', fault: 'no data', expected: {'eu-1': 'resolved'}},
      {policy: 'keep-last', fault: 'no data', expected: {'eu-1': 'firing'}},
      {policy: 'error', fault: 'an error', expected: {'eu-1': 'firing', 'alertstate=error': 'firing'}},
      {policy: 'ok', fault: 'an error', expected: {'eu-1': 'resolved'}},
      {policy: 'keep-last', fault: 'an error', expected: {'eu-1': 'firing'}},
    ] as const
    for (const c of POLICY_CASES) {
      it(`${c.fault} under the policy ${c.policy}`, async () => {
        const onError = c.fault === 'an error' ? (c.policy as 'error' | 'ok' | 'keep-last') : 'error'
        const noData = c.fault === 'no data' ? (c.policy as 'nodata' | 'ok' | 'keep-last') : 'nodata'
        await addRule(db, {name: 'policy', noData, onError})
        truth.set('test_a', active('eu-1'))
        await run(0)
        truth.set('test_a', c.fault === 'no data' ? {noData: true} : new Error('connect ECONNREFUSED 10.0.0.1:3306'))
        const result = await run(5)
        expect(await states('policy')).toEqual(c.expected)
        if (c.fault === 'no data') expect(result.rules.noData).toEqual(['policy'])
        else expect(result.rules.errors).toEqual([{rule: 'policy', error: expect.stringContaining('ECONNREFUSED') as string}])
        // Evaluated, whatever the policy said.
        const evaluated = (await db('alert_instances').select('last_eval_at')) as Array<{last_eval_at: unknown}>
        expect(evaluated.map((r) => toIso(r.last_eval_at))).toEqual(evaluated.map(() => at(5).toISOString()))
        // Back to normal: the synthetic instance resolves.
        truth.set('test_a', active('eu-1'))
        await run(10)
        const after = await states('policy')
        expect(after['eu-1']).toBe('firing')
        if (`alertstate=${c.policy === 'nodata' ? 'nodata' : 'error'}` in after) expect(Object.values(after).filter((s) => s === 'resolved')).toHaveLength(1)
      })
    }

    it('a kind that throws, an unknown kind, or parameters that no longer parse never crash the run: it is partial and the other rules are evaluated', async () => {
      await addRule(db, {name: 'broken', kind: 'test_b', severity: 'critical'})
      await addRule(db, {name: 'nobody-knows', kind: 'no_such_kind', onError: 'ok'})
      const bad = await addRule(db, {name: 'bad-params', onError: 'keep-last'})
      await db('alert_rules').where({id: bad}).update({params: '{"surprise":1}'})
      await addRule(db, {name: 'fine'})
      truth.set('test_b', new Error('boom\nsecond line'))
      truth.set('test_a', active('eu-1'))
      const result = await run(0)
      expect(result.status).toBe('partial')
      expect(result.rules.errors.map((e) => e.rule)).toEqual(['broken', 'nobody-knows', 'bad-params'])
      expect(result.rules.errors[0].error).toBe('boom')
      expect(result.rules.errors[1].error).toMatch(/unknown rule kind "no_such_kind"/)
      expect(await states('fine')).toEqual({'eu-1': 'firing'})
      expect(await states('broken')).toEqual({'alertstate=error': 'firing'})
      const runRow = (await db('alert_runs').where({id: result.runId}).first()) as {status: string; stats: string}
      expect(runRow.status).toBe('partial')
      expect((JSON.parse(runRow.stats) as {errors: unknown[]}).errors).toHaveLength(3)
    })
  })

  describe('notifications', () => {
    it('groups a rule’s instances into one outbox row per subscription, and filters by severity, rule and matchers', async () => {
      await addRule(db, {name: 'overdue', severity: 'warning'})
      const all = await addSubscription(db, operatorId)
      const some = await addSubscription(db, operatorId, {matchers: ['rds=~t1.*']})
      await addSubscription(db, operatorId, {severities: ['critical']})
      await addSubscription(db, operatorId, {rules: ['other-rule']})
      const names = Array.from({length: 40}, (_, i) => `t${i + 1}`)
      truth.set('test_a', active(...names))
      const result = await run(0)
      expect(result.notifications.queued).toBe(2)
      const rows = await outbox()
      expect(rows.map((r) => Number(r.subscription_id))).toEqual([all, some])
      const [first, second] = rows.map(payloadOf)
      expect(first.alerts).toHaveLength(40)
      expect(first.title).toBe('[FIRING:40] overdue (warning)')
      expect(first.key).toBe(rows[0].key)
      expect(rows[0].key).toMatch(new RegExp(`^firing:\\d+:${all}:[0-9a-f]{64}$`))
      expect(second.alerts.map((a) => a.labels.rds).sort()).toEqual(['t1', 't10', 't11', 't12', 't13', 't14', 't15', 't16', 't17', 't18', 't19'])
      expect(rows.every((r) => r.state === 'pending' && toIso(r.next_attempt_at) === at(0).toISOString())).toBe(true)
    })

    it('a group too large for one message lists the first instances and counts the others', async () => {
      await addRule(db, {name: 'crowd'})
      await addSubscription(db, operatorId)
      truth.set('test_a', active(...Array.from({length: 300}, (_, i) => `r${i}`)))
      await run(0)
      const [row] = await outbox()
      const payload = payloadOf(row)
      expect(payload.title).toBe('[FIRING:300] crowd (warning)')
      expect(payload.alerts).toHaveLength(100)
      expect(payload.omitted).toBe(200)
      expect(await db('alert_instances').whereNotNull('last_notified_at')).toHaveLength(300)
    })

    it('tells each transition exactly once across consecutive runs, with unique keys, and a resolved message', async () => {
      await addRule(db, {name: 'down', forMin: 5})
      await addSubscription(db, operatorId)
      truth.set('test_a', active('eu-1'))
      for (const minute of [0, 5, 10, 15]) await run(minute)
      truth.set('test_a', active())
      await run(20)
      await run(25)
      const rows = await outbox()
      expect(rows.map((r) => r.kind)).toEqual(['firing', 'resolved'])
      expect(new Set(rows.map((r) => r.key)).size).toBe(2)
      expect(payloadOf(rows[1]).title).toBe('[RESOLVED:1] down (warning)')
    })

    it('repeats a firing alert after the repeat interval and not before; an acknowledged one is not repeated', async () => {
      await addRule(db, {name: 'down'})
      await addSubscription(db, operatorId)
      truth.set('test_a', active('eu-1', 'eu-2'))
      await run(0, {repeatIntervalMs: 60 * MIN})
      for (let m = 5; m < 60; m += 5) await run(m, {repeatIntervalMs: 60 * MIN})
      expect((await outbox()).map((r) => r.kind)).toEqual(['firing'])
      await db('alert_instances')
        .where('labels', 'like', '%eu-2%')
        .update({acked_by: 'ops@example.com', acked_at: at(30)})
      await run(60, {repeatIntervalMs: 60 * MIN})
      const rows = await outbox()
      expect(rows.map((r) => r.kind)).toEqual(['firing', 'repeat'])
      expect(payloadOf(rows[1]).alerts.map((a) => a.labels.rds)).toEqual(['eu-1'])
      await run(65, {repeatIntervalMs: 60 * MIN})
      expect(await outbox()).toHaveLength(2)

      // The acknowledgement holds until its episode ends: resolved, it is kept; firing again, it is gone.
      const ackOf = async () =>
        (await db('alert_instances').where('labels', 'like', '%eu-2%').first('state', 'acked_by')) as {state: string; acked_by: string | null}
      truth.set('test_a', active('eu-1'))
      await run(70, {repeatIntervalMs: 60 * MIN})
      expect(await ackOf()).toEqual({state: 'resolved', acked_by: 'ops@example.com'})
      truth.set('test_a', active('eu-1', 'eu-2'))
      await run(75, {repeatIntervalMs: 60 * MIN})
      expect(await ackOf()).toEqual({state: 'firing', acked_by: null})
      expect((await outbox()).map((r) => r.kind)).toEqual(['firing', 'repeat', 'resolved', 'firing'])
    })

    it('a silenced instance records its transitions, is not told, and gets no resolved message after the silence', async () => {
      await addRule(db, {name: 'down'})
      await addSubscription(db, operatorId)
      await db('alert_silences').insert({
        matchers: JSON.stringify(['rds=eu-1']),
        reason: 'maintenance window',
        created_by: 'ops@example.com',
        starts_at: at(-1),
        ends_at: at(7),
        expired_at: null,
        created_at: at(-1),
      })
      const silence = Number((await db('alert_silences').first('id'))?.id)
      truth.set('test_a', active('eu-1', 'eu-2'))
      await run(0)
      const rows = await outbox()
      expect(rows).toHaveLength(1)
      expect(payloadOf(rows[0]).alerts.map((a) => a.labels.rds)).toEqual(['eu-2'])
      const fired = (await db('alert_transitions').where({to_state: 'firing'}).orderBy('id')) as AlertTransitionRow[]
      expect(fired.map((t) => t.muted_by)).toEqual([`silence:${silence}`, null])
      truth.set('test_a', active())
      await run(10)
      expect(
        (await outbox()).map(
          (r) =>
            `${r.kind}:${payloadOf(r)
              .alerts.map((a) => a.labels.rds)
              .join()}`,
        ),
      ).toEqual(['firing:eu-2', 'resolved:eu-2'])
      expect(await states('down')).toEqual({'eu-1': 'resolved', 'eu-2': 'resolved'})
    })

    it('an RDS that is down inhibits its degraded alert, not another RDS’s', async () => {
      await addRule(db, {name: 'rds-down', kind: 'rds_down', severity: 'critical'})
      await addRule(db, {name: 'rds-degraded', kind: 'rds_degraded'})
      await addSubscription(db, operatorId)
      truth.set('rds_down', active('eu-2'))
      truth.set('rds_degraded', active('eu-2', 'eu-3'))
      const result = await run(0)
      const downId = Number((await db('alert_instances as i').join('alert_rules as r', 'r.id', 'i.rule_id').where('r.name', 'rds-down').first('i.id'))?.id)
      const degraded = result.transitions.filter((t) => t.rule === 'rds-degraded')
      expect(Object.fromEntries(degraded.map((t) => [t.labels.rds, t.mutedBy]))).toEqual({'eu-2': `inhibited:${downId}`, 'eu-3': null})
      const told = (await outbox()).map(
        (r) =>
          `${payloadOf(r).rule.name}:${payloadOf(r)
            .alerts.map((a) => a.labels.rds)
            .join()}`,
      )
      expect(told.sort()).toEqual(['rds-degraded:eu-3', 'rds-down:eu-2'])
      expect(result.firingUnmuted).toEqual({critical: 1, warning: 1, info: 0})
    })
  })

  it('a run sends the same number of queries with 4 times as many live instances', async () => {
    await addRule(db, {name: 'many', severity: 'critical'})
    await addRule(db, {name: 'pending-many', kind: 'test_b', forMin: 60})
    await addSubscription(db, operatorId)
    /** Both rules see `n` RDS active, from rds-<from>. */
    const fleet = (n: number, from = 0) => {
      for (const kind of ['test_a', 'test_b']) truth.set(kind, active(...Array.from({length: n}, (_, i) => `rds-${i + from}`)))
    }
    const queriesOf = async (minutes: number): Promise<number> => {
      let n = 0
      const count = () => void n++
      db.on('query', count)
      try {
        await run(minutes)
      } finally {
        db.off('query', count)
      }
      return n
    }
    fleet(50)
    await run(0)
    // Steady runs: every instance still active but one of each rule clearing, and one new.
    fleet(50, 1)
    const small = await queriesOf(5)
    fleet(200)
    await run(10)
    fleet(200, 1)
    const large = await queriesOf(15)
    expect(await db('alert_instances').whereIn('state', ['firing', 'pending'])).toHaveLength(400)
    expect(large).toBe(small)
  })

  describe('faults', () => {
    it('a run whose transaction fails leaves every stored state as before; the next run continues from them', async () => {
      await addRule(db, {name: 'down', forMin: 5})
      await addRule(db, {name: 'keeper', kind: 'test_b', onError: 'keep-last'})
      await addSubscription(db, operatorId)
      truth.set('test_a', active('eu-1', 'eu-2'))
      truth.set('test_b', active('eu-9'))
      await run(0)
      await run(5)
      const before = (await db('alert_instances').orderBy('id')) as AlertInstanceRow[]
      expect(before.map((r) => r.state)).toEqual(['firing', 'firing', 'firing'])

      // The rule evaluated after the others throws under keep-last: nothing of it changes.
      truth.set('test_b', new Error('lost the connection'))
      truth.set('test_a', active())
      // A crash inside the transaction: the outbox table is gone, the resolved message cannot be written.
      await db.schema.renameTable('alert_notifications', 'alert_notifications_away')
      try {
        await expect(run(10)).rejects.toThrow()
      } finally {
        await db.schema.renameTable('alert_notifications_away', 'alert_notifications')
      }
      const after = (await db('alert_instances').orderBy('id')) as AlertInstanceRow[]
      expect(after.map((r) => [r.state, toIso(r.last_eval_at), toIso(r.last_notified_at)])).toEqual(
        before.map((r) => [r.state, toIso(r.last_eval_at), toIso(r.last_notified_at)]),
      )
      expect(await db('alert_transitions').where({to_state: 'resolved'})).toHaveLength(0)
      const failed = (await db('alert_runs').orderBy('id', 'desc').first()) as {status: string; error: string}
      expect(failed.status).toBe('failed')

      // The next run, on time: continues from the stored states (the failed run is no evaluation: no gap).
      truth.set('test_a', active('eu-1', 'eu-2'))
      const next = await run(15)
      expect(next.gap).toBe(false)
      expect(next.transitions).toEqual([])
      expect(await states('down')).toEqual({'eu-1': 'firing', 'eu-2': 'firing'})
      expect(await states('keeper')).toEqual({'eu-9': 'firing'})
      expect((await outbox()).map((r) => r.kind)).toEqual(['firing', 'firing'])
    })

    it('a run killed mid-evaluation (its row left running) changes nothing; the next run closes it and continues', async () => {
      await addRule(db, {name: 'down'})
      truth.set('test_a', active('eu-1'))
      await run(0)
      await db('alert_runs').insert({started_at: at(5), status: 'running', previous_at: at(0), gap: false, holder: 'gone:1'})
      truth.set('test_a', active('eu-1'))
      const next = await run(10)
      expect(next.gap).toBe(false)
      expect(await states('down')).toEqual({'eu-1': 'firing'})
      expect((await db('alert_runs').orderBy('id')).map((r: {status: string}) => r.status)).toEqual(['ok', 'failed', 'ok'])
    })

    it('a run that died after its evaluation committed (sending failed, or it was killed while sending) was an evaluation: no false gap', async () => {
      await addRule(db, {name: 'down'})
      truth.set('test_a', active('eu-1'))
      await run(0)
      // At 5, the evaluation commits, then the delivery throws.
      const ctx = changeContext(db, {now: at(5)})
      Object.defineProperty(ctx, 'alerts', {
        get: () => {
          throw new Error('the channel settings could not be read')
        },
      })
      await expect(runAlerts(ctx, {now: at(5), kinds})).rejects.toThrow(/channel settings/)
      // At 10, the process is killed once its evaluation committed, while sending: its row is as that commit left it.
      const killed = await insertReturningId(db, 'alert_runs', {started_at: at(10), status: 'running', previous_at: at(5), gap: false, holder: 'gone:1'})
      await evaluateAlerts(changeContext(db, {now: at(10)}), {now: at(10), kinds, runId: killed})

      // At 15, on time after the evaluation at 10: the condition cleared, so the alert resolves (after a gap it would be unknown).
      truth.set('test_a', active())
      const next = await run(15)
      expect(next.gap).toBe(false)
      expect(await states('down')).toEqual({'eu-1': 'resolved'})
      const runs = (await db('alert_runs').orderBy('id')) as Array<{status: string; error: string | null}>
      expect(runs.map((r) => r.status)).toEqual(['ok', 'partial', 'partial', 'ok'])
      expect(runs[1].error).toBe('the channel settings could not be read')
      expect(runs[2].error).toMatch(/its evaluation was committed/)
    })

    // PostgreSQL lets a test hold the run between its read of the instances and its writes: a lock on the silences it reads next.
    it.runIf(engine === 'postgres')('an acknowledgement made while a run evaluates is kept by the run', async () => {
      await addRule(db, {name: 'down', forMin: 5})
      truth.set('test_a', active('eu-1'))
      await run(0)
      const instance = (await db('alert_instances').first('id', 'state')) as {id: number; state: string}
      expect(instance.state).toBe('pending')

      const lock = await db.transaction()
      await lock.raw('LOCK TABLE alert_silences IN ACCESS EXCLUSIVE MODE')
      let readSilences!: () => void
      const atSilences = new Promise<void>((resolve) => (readSilences = resolve))
      const watch = (query: {sql: string}) => {
        if (/from "alert_silences"/.test(query.sql)) readSilences()
      }
      db.on('query', watch)
      const running = run(5)
      let acking: Promise<unknown> = Promise.resolve()
      try {
        // The run has read the instance (still pending, not acknowledged) and waits for the lock.
        await atSilences
        // The acknowledgement commits (then reads the silences to show the alert: it waits for the lock too).
        acking = ackAlert(changeContext(db, {now: at(5)}), {id: Number(instance.id)})
        while ((await db('alert_instances').where({id: instance.id}).first('acked_by'))?.acked_by == null) await new Promise((r) => setImmediate(r))
      } finally {
        db.off('query', watch)
        await lock.commit()
      }
      await Promise.all([running, acking])
      const after = (await db('alert_instances').where({id: instance.id}).first()) as AlertInstanceRow
      expect(after.state).toBe('firing')
      expect(after.acked_by).toBe(TEST_AUDIT.actor)
    })

    it('a stop (Ctrl-C) before the evaluation commits rolls it back: nothing it wrote stays, its run is failed', async () => {
      await addRule(db, {name: 'down'})
      await addSubscription(db, operatorId)
      truth.set('test_a', active('eu-1'))
      await run(0)
      const before = (await db('alert_instances').orderBy('id')) as AlertInstanceRow[]
      const outboxBefore = (await outbox()).length
      const transitionsBefore = (await db('alert_transitions')).length

      // The last rule's kind is where the stop arrives: every rule evaluated, the transaction not yet committed.
      const stop = new AbortController()
      const stopping: RuleKindRegistry = new Map([
        ...kinds,
        [
          'stopper',
          defineRuleKind({
            kind: 'stopper',
            description: 'a test kind that stops the run',
            labelNames: [],
            params: z.object({}).strict(),
            evaluate: async () => {
              stop.abort(new Error('interrupted'))
              return {noData: false, active: []}
            },
          }),
        ],
      ])
      await addRule(db, {name: 'stop', kind: 'stopper'})
      truth.set('test_a', active())
      await expect(run(5, {kinds: stopping, signal: stop.signal})).rejects.toThrow(/interrupted/)

      const after = (await db('alert_instances').orderBy('id')) as AlertInstanceRow[]
      expect(after.map((r) => [r.state, toIso(r.last_eval_at), toIso(r.resolved_at)])).toEqual(
        before.map((r) => [r.state, toIso(r.last_eval_at), toIso(r.resolved_at)]),
      )
      expect(await db('alert_transitions')).toHaveLength(transitionsBefore)
      expect(await outbox()).toHaveLength(outboxBefore)
      const runs = (await db('alert_runs').orderBy('id')) as Array<{status: string; error: string | null}>
      expect(runs.map((r) => r.status)).toEqual(['ok', 'failed'])

      // The next run continues from the stored states.
      const next = await run(10, {kinds: stopping})
      expect(next.transitions.map((t) => [t.rule, t.from, t.to])).toEqual([['down', 'firing', 'resolved']])
    })

    it('a second run while one holds the alerts lease is busy', async () => {
      await addRule(db, {name: 'down'})
      const lease = await acquireLease(db, ALERTS_LEASE, {heartbeatMs: 0})
      try {
        const error = await run(0).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(BusyError)
        expect(await db('alert_runs')).toHaveLength(0)
      } finally {
        await lease.release()
      }
    })
  })
})

describe('alerts:run, as cron runs it', () => {
  let dir: TestDir
  let home: string
  let session: CliSession
  let db: Knex

  beforeAll(async () => {
    dir = createTestDir('raiops-alerts-')
    home = join(dir.path, 'raiops')
    session = await initialisedHome({home, password: 'alerts-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(home, 'raiops.sqlite')}`, home))
    // A rule whose kind this raiops does not know: an evaluation error, which its Error policy makes a critical alert firing at once.
    await addRule(db, {name: 'mystery', kind: 'no_such_kind', severity: 'critical', onError: 'error'})
  })
  afterAll(async () => {
    await db?.destroy()
    dir?.drop()
  })

  it('exits 0 with firing alerts; --json gives the run; --fail-on exits 4 at the level asked', async () => {
    const first = await session.run(['alerts:run', '--json'])
    expect(first.code, first.stderr).toBe(0)
    const result = JSON.parse(first.stdout) as AlertRunResult
    expect(result).toMatchObject({gap: false, firing: 1, pending: 0, status: 'partial', firingUnmuted: {critical: 1, warning: 0, info: 0}})
    // `raiops init` seeded the default rules: they are evaluated too, and on a fleet with no RDS nothing of theirs fires.
    const enabled = Number((await db('alert_rules').where({enabled: true}).count({n: '*'}))[0].n)
    expect(enabled).toBeGreaterThan(1)
    expect(result.rules).toMatchObject({evaluated: enabled, errors: [{rule: 'mystery', error: 'unknown rule kind "no_such_kind"'}]})
    expect(result.transitions).toEqual([
      {rule: 'mystery', labels: {alertname: 'mystery', severity: 'critical', alertstate: 'error'}, from: 'inactive', to: 'firing', mutedBy: null},
    ])
    expect(result.notifications).toEqual({queued: 0, sent: 0, failed: 0, deferred: 0, pendingAfter: 0})
    expect(typeof result.runId).toBe('number')

    const failing = await session.run(['alerts:run', '--fail-on', 'firing'])
    expect(failing.code).toBe(4)
    expect(failing.stdout).toMatch(new RegExp(`evaluated ${enabled} rule\\(s\\) at .*: 1 firing, 0 pending`))
    expect((await session.run(['alerts:run', '--fail-on', 'warning'])).code).toBe(4)
    expect((await session.run(['alerts:run', '--fail-on', 'critical', '--interval', '1m'])).code).toBe(4)
  })

  it('bad flag values exit 2 and change nothing', async () => {
    const runs = (await db('alert_runs').count({n: '*'}).first())?.n
    for (const args of [
      ['--fail-on', 'sometimes'],
      ['--interval', '5 parsecs'],
      ['--interval', '0m'],
    ]) {
      const result = await session.run(['alerts:run', ...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n').length).toBeLessThanOrEqual(2)
    }
    expect((await db('alert_runs').count({n: '*'}).first())?.n).toBe(runs)
  })

  it('exits 6 while another run holds the alerts lease', async () => {
    const lease = await acquireLease(db, ALERTS_LEASE, {heartbeatMs: 0})
    try {
      const busy = await runCli(['alerts:run'], {env: session.env})
      expect(busy.code, busy.stderr).toBe(6)
      expect(busy.stderr).toMatch(/alerts is already running/)
    } finally {
      await lease.release()
    }
  })

  it('exits 3 when a notification could not be delivered: every rule is still evaluated, the message waits in the outbox for the next run', async () => {
    const port = await closedPort()
    const target = `http://127.0.0.1:${port}/hook`
    const operator = await db('operators').orderBy('id').first('id')
    await addSubscription(db, Number(operator?.id), {target, rules: ['mystery-too']})
    await addRule(db, {name: 'mystery-too', kind: 'no_such_kind_either', severity: 'warning', onError: 'error'})
    const env = {RAIOPS_ALERT_WEBHOOK_SECRET: 'alert-webhook-secret-0123456789'}

    const result = await session.run(['alerts:run', '--json'], {env})
    expect(result.code, result.stderr).toBe(3)
    const run = JSON.parse(result.stdout) as AlertRunResult
    const enabled = Number((await db('alert_rules').where({enabled: true}).count({n: '*'}))[0].n)
    expect(run.rules.evaluated).toBe(enabled)
    expect(run.transitions).toContainEqual(expect.objectContaining({rule: 'mystery-too', from: 'inactive', to: 'firing'}))
    expect(run.notifications).toEqual({queued: 1, sent: 0, failed: 1, deferred: 0, pendingAfter: 1})
    expect(run.deliveryErrors).toEqual([`webhook to ${target}: connection refused`])
    expect(run.status).toBe('partial')
    const rule = await db('alert_rules').where({name: 'mystery-too'}).first('id')
    expect((await db('alert_instances').where({rule_id: rule?.id})).map((i: AlertInstanceRow) => i.state)).toEqual(['firing'])
    const outbox = await db('alert_notifications').where({target})
    expect(outbox.map((n: AlertNotificationRow) => [n.state, Number(n.attempts)])).toEqual([['pending', 1]])

    // An unmuted alert firing at the level asked outranks an undelivered message.
    expect((await session.run(['alerts:run', '--fail-on', 'warning'], {env})).code).toBe(4)
  })
})

describe('alerts:run killed (kill -9) mid-evaluation, on a MariaDB control database', () => {
  let dir: TestDir
  let database: TestDatabase
  let session: CliSession
  let db: Knex

  beforeAll(async () => {
    dir = createTestDir('raiops-alerts-kill-')
    database = await createTestDatabase('mysql', 'raiops_ctl')
    session = await initialisedHome({
      home: join(dir.path, 'raiops'),
      password: 'alerts-admin-password-1',
      env: {RAIOPS_DATABASE_URL: database.url, RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    db = await openControlDb(parseDatabaseUrl(database.url, '/nonexistent'))
  })
  afterAll(async () => {
    killStartedClis()
    await db?.destroy()
    await database?.drop()
    dir?.drop()
  })

  it('leaves the states of the run before; the next run takes over the lease at once and resolves the alert exactly once', async () => {
    // A rule whose kind is unknown fires at once under its Error policy `error`; the policy `ok` clears it.
    await addRule(db, {name: 'mystery', kind: 'no_such_kind', severity: 'critical', onError: 'error'})
    const operator = await db('operators').orderBy('id').first('id')
    await addSubscription(db, Number(operator?.id), {target: `http://127.0.0.1:${await closedPort()}/hook`, rules: ['mystery']})
    const env = {RAIOPS_ALERT_WEBHOOK_SECRET: 'alert-webhook-secret-0123456789'}
    const instances = async () =>
      (await db('alert_instances as i').join('alert_rules as r', 'r.id', 'i.rule_id').where('r.name', 'mystery').select('i.state')).map(
        (i: {state: string}) => i.state,
      )
    const resolvedTransitions = async () => (await db('alert_transitions').where({to_state: 'resolved'})).length
    const outboxKinds = async () => (await db('alert_notifications').orderBy('id')).map((n: AlertNotificationRow) => n.kind)

    const first = await session.run(['alerts:run', '--json'], {env})
    expect(first.code, first.stderr).toBe(3)
    expect(await instances()).toEqual(['firing'])
    expect(await outboxKinds()).toEqual(['firing'])

    await db('alert_rules').where({name: 'mystery'}).update({on_error: 'ok'})
    const killed = startCli(['alerts:run'], {env: {...session.env, ...env, RAIOPS_ALERT_HANG: 'mid-evaluation'}})
    await waitFor(() => killed.output.stderr.includes('hanging at mid-evaluation') || killed.child.exitCode !== null, {what: 'the run to hang mid-evaluation'})
    expect(killed.output.stderr).toContain('hanging at mid-evaluation')
    // The evaluation wrote inside its transaction before it hung: the resolved transition, not committed.
    killed.child.kill('SIGKILL')
    expect(await killed.exited).toBeNull()
    expect(killed.child.signalCode).toBe('SIGKILL')

    expect(await instances()).toEqual(['firing'])
    expect(await resolvedTransitions()).toBe(0)
    expect(await outboxKinds()).toEqual(['firing'])
    expect((await db('alert_runs').orderBy('id')).map((r: {status: string}) => r.status)).toEqual(['partial', 'running'])

    // At once: the killed holder of the lease is proven gone on this host.
    const next = await session.run(['alerts:run', '--json'], {env})
    expect(next.code, next.stderr).toBe(3)
    const result = JSON.parse(next.stdout) as AlertRunResult
    expect(result.transitions.filter((t) => t.rule === 'mystery').map((t) => [t.from, t.to])).toEqual([['firing', 'resolved']])
    expect(await instances()).toEqual(['resolved'])
    expect(await resolvedTransitions()).toBe(1)
    expect(await outboxKinds()).toEqual(['firing', 'resolved'])
    const runs = (await db('alert_runs').orderBy('id')) as Array<{status: string; error: string | null}>
    expect(runs.map((r) => r.status)).toEqual(['partial', 'failed', 'partial'])
    expect(runs[1].error).toMatch(/its evaluation was not committed/)
  })
})
