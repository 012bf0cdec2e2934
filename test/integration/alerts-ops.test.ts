import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ackAlert} from '../../src/lib/alerts/ack.js'
import {parseFixture, runFixture} from '../../src/lib/alerts/fixtures.js'
import {fingerprint} from '../../src/lib/alerts/labels.js'
import {alertHistory, listAlerts} from '../../src/lib/alerts/query.js'
import {createSilence, expireSilence, listSilences} from '../../src/lib/alerts/silences.js'
import type {AlertState, Labels, Severity} from '../../src/lib/alerts/types.js'
import {insertReturningId} from '../../src/lib/db/control-db.js'
import type {AlertTransitionRow} from '../../src/lib/db/tables.js'
import {collectStatus} from '../../src/lib/status/index.js'
import {alertsSection} from '../../src/lib/status/sections/alerts.js'
import {testDownKind} from '../support/alerts-engine.js'
import {changeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const NOW = new Date('2026-12-01T12:00:00.000Z')
const minutes = (n: number) => new Date(NOW.getTime() - n * 60_000)

async function insertRule(db: Knex, name: string, kind: string, severity: Severity): Promise<number> {
  return insertReturningId(db, 'alert_rules', {
    name,
    kind,
    params: '{}',
    for_ms: 0,
    keep_firing_for_ms: 0,
    severity,
    labels: '{}',
    no_data: 'ok',
    on_error: 'error',
    enabled: true,
    builtin: false,
    created_by: 'test',
    created_at: NOW,
    updated_at: NOW,
  })
}

async function insertInstance(
  db: Knex,
  rule: {id: number; name: string; severity: Severity},
  own: Labels,
  state: AlertState,
  at: {active?: Date; fired?: Date; resolved?: Date; updated?: Date} = {},
): Promise<number> {
  const labels = {...own, alertname: rule.name, severity: rule.severity}
  return insertReturningId(db, 'alert_instances', {
    rule_id: rule.id,
    fingerprint: fingerprint(labels),
    labels: JSON.stringify(labels),
    state,
    summary: `${rule.name} ${JSON.stringify(own)}`,
    value: null,
    active_at: at.active ?? minutes(30),
    fired_at: at.fired ?? (state === 'firing' || state === 'resolved' ? minutes(20) : null),
    last_true_at: minutes(1),
    last_eval_at: minutes(1),
    resolved_at: at.resolved ?? null,
    created_at: minutes(30),
    updated_at: at.updated ?? minutes(1),
  })
}

describe.each(CONTROL_ENGINES)('alerts: list, history, silences, acknowledgements (%s)', (engine) => {
  let control: TestControlDb
  let db: Knex
  const ids: Record<string, number> = {}
  const rules: Record<string, {id: number; name: string; severity: Severity}> = {}

  beforeAll(async () => {
    control = await createControlDb(engine)
    db = control.db
    for (const [name, kind, severity] of [
      ['rds-down', 'rds_down', 'critical'],
      ['sync-failing', 'sync_failing', 'warning'],
      ['billing-overdue', 'billing_overdue', 'warning'],
      ['trials-ending', 'trial_ending', 'info'],
    ] as const) {
      rules[name] = {id: await insertRule(db, name, kind, severity), name, severity}
    }
    // eu-2 is down (firing), so its sync alert is inhibited; us-1's sync alert is not.
    ids.down = await insertInstance(db, rules['rds-down'], {rds: 'eu-2'}, 'firing')
    ids.syncEu = await insertInstance(db, rules['sync-failing'], {rds: 'eu-2'}, 'firing')
    ids.syncUs = await insertInstance(db, rules['sync-failing'], {rds: 'us-1'}, 'pending')
    ids.acme = await insertInstance(db, rules['billing-overdue'], {tenant: 'Acme'}, 'firing')
    ids.globex = await insertInstance(db, rules['billing-overdue'], {tenant: 'Globex'}, 'unknown')
    ids.oldResolved = await insertInstance(db, rules['billing-overdue'], {tenant: 'Initech'}, 'resolved', {resolved: minutes(60), updated: minutes(60)})
    ids.ancient = await insertInstance(db, rules['trials-ending'], {tenant: 'Hooli'}, 'inactive', {updated: new Date(NOW.getTime() - 3 * 86_400_000)})
    // History: three changes of eu-2, one of Acme.
    const transitions: Array<Partial<AlertTransitionRow>> = [
      {
        instance_id: ids.down,
        rule_id: rules['rds-down'].id,
        from_state: 'inactive',
        to_state: 'pending',
        at: minutes(30),
        labels: '{"rds":"eu-2","alertname":"rds-down","severity":"critical"}',
      },
      {
        instance_id: ids.down,
        rule_id: rules['rds-down'].id,
        from_state: 'pending',
        to_state: 'firing',
        at: minutes(20),
        labels: '{"rds":"eu-2","alertname":"rds-down","severity":"critical"}',
      },
      {
        instance_id: ids.syncEu,
        rule_id: rules['sync-failing'].id,
        from_state: 'inactive',
        to_state: 'firing',
        at: minutes(15),
        labels: '{"rds":"eu-2","alertname":"sync-failing","severity":"warning"}',
        muted_by: `inhibited:${ids.down}`,
      },
      {
        instance_id: ids.acme,
        rule_id: rules['billing-overdue'].id,
        from_state: 'pending',
        to_state: 'firing',
        at: minutes(5),
        labels: '{"tenant":"Acme","alertname":"billing-overdue","severity":"warning"}',
      },
    ]
    for (const t of transitions) await db('alert_transitions').insert({run_id: null, summary: null, muted_by: null, ...t})
  })

  afterAll(async () => {
    await control?.drop()
  })

  it('lists the live alerts firing first, critical first, with inhibition; --all adds the recently resolved', async () => {
    const ctx = changeContext(db, {now: NOW})
    const alerts = await listAlerts(ctx)
    expect(alerts.map((a) => [a.rule, a.labels.rds ?? a.labels.tenant, a.state])).toEqual([
      ['rds-down', 'eu-2', 'firing'],
      ['billing-overdue', 'Acme', 'firing'],
      ['sync-failing', 'eu-2', 'firing'],
      ['billing-overdue', 'Globex', 'unknown'],
      ['sync-failing', 'us-1', 'pending'],
    ])
    const byId = new Map(alerts.map((a) => [a.id, a]))
    expect(byId.get(ids.syncEu)).toMatchObject({inhibitedBy: ids.down, silencedBy: null, kind: 'sync_failing', since: minutes(20).toISOString()})
    expect(byId.get(ids.syncUs)).toMatchObject({inhibitedBy: null, since: minutes(30).toISOString()})
    expect(byId.get(ids.down)?.inhibitedBy).toBeNull()

    const all = await listAlerts(ctx, {all: true, since: '24h'})
    expect(all.map((a) => a.id)).toContain(ids.oldResolved)
    expect(all.map((a) => a.id)).not.toContain(ids.ancient)
    expect(all.find((a) => a.id === ids.oldResolved)).toMatchObject({state: 'resolved', since: minutes(60).toISOString()})

    expect((await listAlerts(ctx, {matchers: ['rds=eu-2']})).map((a) => a.id).sort()).toEqual([ids.down, ids.syncEu].sort())
    expect((await listAlerts(ctx, {severity: 'critical'})).map((a) => a.id)).toEqual([ids.down])
    expect((await listAlerts(ctx, {rule: 'billing-overdue', limit: 1})).map((a) => a.id)).toEqual([ids.acme])
    await expect(listAlerts(ctx, {matchers: ['rds~eu']})).rejects.toThrow(/--matcher must be name=value/)
  })

  it('refuses a silence without a matcher that names something, a reason or an end, writing nothing', async () => {
    const ctx = changeContext(db, {now: NOW})
    const audits = await db('audit_logs').count({n: '*'}).first()
    const bad: Array<[Parameters<typeof createSilence>[1], RegExp]> = [
      [{matchers: [], reason: 'x', for: '1h'}, /at least one --matcher/],
      [{matchers: ['alertname=~.*'], reason: 'x', for: '1h'}, /would silence every alert/],
      [{matchers: ['rds!=eu-2', 'tenant=~.*'], reason: 'x', for: '1h'}, /would silence every alert/],
      [{matchers: ['rds=eu-2'], reason: '  ', for: '1h'}, /needs a --reason/],
      [{matchers: ['rds=eu-2'], reason: 'x'}, /--for 2h, or --until/],
      [{matchers: ['rds=eu-2'], reason: 'x', for: '45d'}, /--for must be at most 30d/],
      [{matchers: ['rds=eu-2'], reason: 'x', until: '2026-11-30T00:00:00Z'}, /--until must be in the future/],
      [{matchers: ['rds=eu-2'], reason: 'x', until: '2h'}, /for a duration use --for 2h/],
      [{matchers: ['rds=~(eu'], reason: 'x', for: '1h'}, /invalid regular expression/],
    ]
    for (const [input, message] of bad) await expect(createSilence(ctx, input)).rejects.toThrow(message)
    expect(await db('alert_silences').count({n: '*'}).first()).toMatchObject({n: expect.anything()})
    expect(Number((await db('alert_silences').count({n: '*'}).first())?.n)).toBe(0)
    expect(Number((await db('audit_logs').count({n: '*'}).first())?.n)).toBe(Number(audits?.n))
  })

  it('a silence mutes the alerts it matches while in force, is audited, listed, and lifted by expireSilence', async () => {
    const ctx = changeContext(db, {now: NOW})
    const silence = await createSilence(ctx, {matchers: ['alertname=billing-overdue', 'tenant=~Ac.*'], reason: 'collections on it', for: '2h'})
    expect(silence).toMatchObject({
      state: 'active',
      matchers: ['alertname=billing-overdue', 'tenant=~Ac.*'],
      matchingNow: 1,
      endsAt: new Date(NOW.getTime() + 7_200_000).toISOString(),
    })
    const audit = await db('audit_logs').where({action: 'alert.silence'}).first()
    expect(audit).toMatchObject({target_type: 'alert_silence', target_id: String(silence.id)})

    const alerts = await listAlerts(ctx)
    expect(alerts.find((a) => a.id === ids.acme)?.silencedBy).toBe(silence.id)
    expect(alerts.filter((a) => a.silencedBy !== null).map((a) => a.id)).toEqual([ids.acme])
    // Not yet in force for a reader before it starts, no longer after it ends.
    expect((await listAlerts(changeContext(db, {now: minutes(1)}))).find((a) => a.id === ids.acme)?.silencedBy).toBeNull()
    expect((await listAlerts(changeContext(db, {now: new Date(NOW.getTime() + 7_200_000)}))).find((a) => a.id === ids.acme)?.silencedBy).toBeNull()

    expect((await listSilences(ctx)).map((s) => s.id)).toEqual([silence.id])
    const later = changeContext(db, {now: new Date(NOW.getTime() + 60_000)})
    const lifted = await expireSilence(later, {id: silence.id})
    expect(lifted).toMatchObject({state: 'expired', expiredAt: new Date(NOW.getTime() + 60_000).toISOString()})
    expect(await listSilences(later)).toEqual([])
    expect((await listSilences(later, {all: true})).map((s) => s.id)).toEqual([silence.id])
    expect((await listAlerts(later)).find((a) => a.id === ids.acme)?.silencedBy).toBeNull()
    await expect(expireSilence(later, {id: silence.id})).rejects.toThrow(/is over already/)
    await expect(expireSilence(later, {id: 999_999})).rejects.toThrow(/no silence 999999/)
    expect(await db('audit_logs').where({action: 'alert.unsilence'}).count({n: '*'}).first()).toMatchObject({n: expect.anything()})
    expect(Number((await db('audit_logs').where({action: 'alert.unsilence'}).count({n: '*'}).first())?.n)).toBe(1)
  })

  it('acknowledges a live alert (audited with its comment) and refuses a resolved one or an unknown id', async () => {
    const ctx = changeContext(db, {now: NOW})
    const acked = await ackAlert(ctx, {id: ids.globex, comment: 'calling them'})
    expect(acked).toMatchObject({id: ids.globex, state: 'unknown', acked: {by: 'test@localhost', at: NOW.toISOString()}})
    expect((await listAlerts(ctx)).find((a) => a.id === ids.globex)?.acked).toEqual({by: 'test@localhost', at: NOW.toISOString()})
    const audit = await db('audit_logs').where({action: 'alert.ack'}).first()
    expect(JSON.parse(audit?.new_values ?? 'null')).toMatchObject({
      state: 'unknown',
      comment: 'calling them',
      labels: 'alertname=billing-overdue,severity=warning,tenant=Globex',
    })

    await expect(ackAlert(ctx, {id: ids.oldResolved})).rejects.toThrow(/is resolved: only a pending, firing or unknown alert/)
    await expect(ackAlert(ctx, {id: 999_999})).rejects.toThrow(/no alert 999999/)
    expect((await db('alert_instances').where({id: ids.oldResolved}).first())?.acked_by).toBeNull()
  })

  it('history: newest first, by rule, by matcher, since a time, limited', async () => {
    const ctx = changeContext(db, {now: NOW})
    const all = await alertHistory(ctx)
    expect(all.map((t) => [t.rule, t.from, t.to])).toEqual([
      ['billing-overdue', 'pending', 'firing'],
      ['sync-failing', 'inactive', 'firing'],
      ['rds-down', 'pending', 'firing'],
      ['rds-down', 'inactive', 'pending'],
    ])
    expect(all[1]).toMatchObject({mutedBy: `inhibited:${ids.down}`, instanceId: ids.syncEu, at: minutes(15).toISOString()})
    expect((await alertHistory(ctx, {rule: 'rds-down'})).map((t) => t.to)).toEqual(['firing', 'pending'])
    expect((await alertHistory(ctx, {matchers: ['rds=eu-2']})).map((t) => t.rule)).toEqual(['sync-failing', 'rds-down', 'rds-down'])
    expect((await alertHistory(ctx, {since: '16m'})).map((t) => t.rule)).toEqual(['billing-overdue', 'sync-failing'])
    expect((await alertHistory(ctx, {matchers: ['rds=eu-2'], limit: 2})).map((t) => t.to)).toEqual(['firing', 'firing'])
    await expect(alertHistory(ctx, {since: 'yesterday'})).rejects.toThrow(/--since must be an ISO date/)
  })

  it('status: firing alerts by severity (muted ones apart), the heartbeat, and the outbox', async () => {
    const section = async (now: Date) => (await collectStatus({db, now: () => now}, {sections: [alertsSection]})).sections[0]
    const never = await section(NOW)
    expect(never).toMatchObject({state: 'never', summary: expect.stringContaining('*/5 * * * * raiops alerts:run')})

    await db('alert_runs').insert({started_at: minutes(3), finished_at: minutes(3), status: 'ok', holder: 'test', gap: false})
    const fresh = await section(NOW)
    // rds-down and Acme fire unmuted (the Acme silence was lifted); eu-2's sync alert is inhibited.
    expect(fresh.data).toMatchObject({firing: {critical: 1, warning: 1, info: 0}, muted: 1, outbox: {pending: 0}})
    expect(fresh.state).toBe('fail')
    expect(fresh.summary).toContain('1 critical firing, 1 warning firing, 1 muted')

    await db('alert_notifications').insert({
      key: 'k1',
      subscription_id: null,
      channel: 'webhook',
      target: 'http://127.0.0.1:9/',
      rule_id: rules['rds-down'].id,
      kind: 'firing',
      payload: '{}',
      state: 'pending',
      attempts: 2,
      created_at: minutes(40),
      next_attempt_at: minutes(1),
    })
    const stale = await section(new Date(NOW.getTime() + 20 * 60_000))
    expect(stale.state).toBe('fail')
    expect(stale.summary).toMatch(/^alerts:run has not run since 23 min ago/)
    expect(stale.facts.find((f) => f.label === 'outbox')).toMatchObject({tone: 'warn', value: expect.stringContaining('1 notification(s) not yet delivered')})
  })
})

describe('alerts:test fixtures: parsing, validation and the runner', () => {
  const valid = {
    rules: [{name: 'down', kind: 'test_down', for: '5m', severity: 'critical'}],
    steps: [
      {
        insert: {rds_instances: [{name: 'eu-2', health_status: 'down', health_checked_at: 'now-1m'}]},
        expect: {alerts: [{rule: 'down', labels: {rds: 'eu-2'}, state: 'pending'}]},
      },
      {expect: {alerts: [{rule: 'down', labels: {rds: 'eu-2'}, state: 'firing'}], notifications: [{rule: 'down', kind: 'firing', alerts: 1}]}},
      {
        update: [{table: 'rds_instances', where: {name: 'eu-2'}, set: {health_status: 'healthy'}}],
        expect: {alerts: [], notifications: [{rule: 'down', kind: 'resolved', alerts: 1}]},
      },
    ],
  }

  it('names the line and column of a syntax error, and the path and line of a bad field', () => {
    expect(() => parseFixture('{\n  "rules": ["rds-down"],\n  "steps": [\n    {"expect": {}},\n  ]\n}\n', 'f.json')).toThrow(
      /^f\.json:5:3: not JSON: expected another element after the comma \(a trailing comma is not JSON\)/,
    )
    expect(() => parseFixture('{"rules": ["rds-down"], "steps": [{"name": "a\nb"}]}', 'g.json')).toThrow(/^g\.json:1:46: not JSON: a control character/)
    expect(() => parseFixture('{"rules": ["rds-down"],\n "steps": [', 'h.json')).toThrow(/^h\.json:2:12: not JSON: expected a value/)
    expect(() => parseFixture('', 'e.json')).toThrow(/^e\.json:1:1: not JSON/)

    const badState = JSON.stringify({...valid, steps: [{expect: {alerts: [{rule: 'down', state: 'burning'}]}}]}, null, 2)
    expect(() => parseFixture(badState, 'x.json')).toThrow(/^x\.json:16:22: steps\[0\]\.expect\.alerts\[0\]\.state: Invalid enum value/)
    const unknownField = '{\n  "rules": ["rds-down"],\n  "steps": [{"expcet": {}}]\n}'
    expect(() => parseFixture(unknownField, 'y.json')).toThrow(/^y\.json:3:14: steps\[0\]\.expcet: unknown field "expcet"/)
    const badDuration = '{"rules": ["rds-down"], "interval": "5 minutes", "steps": [{}]}'
    expect(() => parseFixture(badDuration, 'z.json')).toThrow(/^z\.json:1:37: interval: must be a duration/)
    const badMatcher = '{"rules": ["rds-down"],\n"steps": [{"silences": [{"matchers": ["rds~x"], "for": "1h"}]}]}'
    expect(() => parseFixture(badMatcher, 'm.json')).toThrow(/^m\.json:2:38: steps\[0\]\.silences\[0\]\.matchers: a matcher must be name=value/)
    expect(parseFixture(JSON.stringify(valid), 'ok.json').fixture).toMatchObject({interval: '5m', start: '2026-01-05T10:00:00.000Z'})
  })

  it('runs each step in a scratch database through the engine and reports what differs', async () => {
    const kinds = new Map([[testDownKind.kind, testDownKind]])
    const passing = await runFixture(parseFixture(JSON.stringify(valid), 'ok.json'), {kinds})
    expect(passing.steps.map((s) => [s.at, s.passed, s.diff])).toEqual([
      ['2026-01-05T10:00:00.000Z', true, []],
      ['2026-01-05T10:05:00.000Z', true, []],
      ['2026-01-05T10:10:00.000Z', true, []],
    ])
    expect(passing.passed).toBe(true)

    const wrong = structuredClone(valid)
    wrong.steps[1].expect = {alerts: [{rule: 'down', labels: {rds: 'eu-3'}, state: 'firing'}], notifications: []}
    const failing = await runFixture(parseFixture(JSON.stringify(wrong), 'bad.json'), {kinds})
    expect(failing.passed).toBe(false)
    expect(failing.steps[1]).toMatchObject({
      passed: false,
      diff: ['- alert down{rds=eu-3} firing', '+ alert down{rds=eu-2} firing', '+ notification firing down (1 alert)'],
    })
    expect(failing.steps[2].passed).toBe(true)

    const unknownKind = JSON.stringify({...valid, rules: [{name: 'down', kind: 'nope'}]}, null, 2)
    await expect(runFixture(parseFixture(unknownKind, 'k.json'), {kinds})).rejects.toThrow(
      /^k\.json:5:15: rules\[0\]\.kind: unknown kind "nope" \(kinds: test_down\)/,
    )
    const noTable = JSON.stringify({...valid, steps: [{insert: {rds_instancez: [{name: 'x'}]}}]})
    await expect(runFixture(parseFixture(noTable, 't.json'), {kinds})).rejects.toThrow(
      /t\.json:1:\d+: steps\[0\]\.insert\.rds_instancez: there is no table rds_instancez/,
    )
  })
})
