import type {Knex} from 'knex'
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {fingerprint} from '../../src/lib/alerts/labels.js'
import type {AlertListItem, AlertTransitionView} from '../../src/lib/alerts/query.js'
import type {SilenceView} from '../../src/lib/alerts/silences.js'
import {insertReturningId, openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {queryControlDb} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {type CliSession, initialisedHome} from '../support/session.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('alerts:list, history, silence, silences, unsilence, ack, test, as an operator runs them', () => {
  let dir: TestDir
  let home: string
  let session: CliSession
  let db: Knex
  const tokens: Record<string, string> = {}
  const ids = {down: 0, sync: 0, resolved: 0}

  beforeAll(async () => {
    dir = createTestDir('raiops-alerts-ops-')
    home = join(dir.path, 'raiops')
    session = await initialisedHome({home, password: 'alerts-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const created = await session.run(['token:create', '--name', 'as-read-only', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    tokens.readOnly = (JSON.parse(created.stdout) as {token: string}).token
    // The engine's rows, written as alerts:run writes them (rules named apart from the seeded defaults).
    db = await openControlDb(parseDatabaseUrl(`sqlite://${join(home, 'raiops.sqlite')}`, home))
    const now = new Date()
    const rule = (name: string, kind: string, severity: string) =>
      insertReturningId(db, 'alert_rules', {
        name,
        kind,
        params: '{}',
        for_ms: 0,
        keep_firing_for_ms: 0,
        severity: severity as 'critical',
        labels: '{}',
        no_data: 'ok',
        on_error: 'error',
        enabled: true,
        builtin: false,
        created_by: 'test',
        created_at: now,
        updated_at: now,
      })
    const instance = async (ruleId: number, labels: Record<string, string>, state: 'firing' | 'resolved') =>
      insertReturningId(db, 'alert_instances', {
        rule_id: ruleId,
        fingerprint: fingerprint(labels),
        labels: JSON.stringify(labels),
        state,
        summary: `${labels.alertname} ${labels.rds}`,
        active_at: new Date(now.getTime() - 600_000),
        fired_at: new Date(now.getTime() - 300_000),
        last_eval_at: now,
        resolved_at: state === 'resolved' ? now : null,
        created_at: now,
        updated_at: now,
      })
    const down = await rule('eu-down', 'rds_down', 'critical')
    const sync = await rule('eu-sync-failing', 'sync_failing', 'warning')
    ids.down = await instance(down, {alertname: 'eu-down', severity: 'critical', rds: 'eu-2'}, 'firing')
    ids.sync = await instance(sync, {alertname: 'eu-sync-failing', severity: 'warning', rds: 'eu-2'}, 'firing')
    ids.resolved = await instance(sync, {alertname: 'eu-sync-failing', severity: 'warning', rds: 'us-1'}, 'resolved')
    await db('alert_transitions').insert({
      instance_id: ids.down,
      rule_id: down,
      from_state: 'pending',
      to_state: 'firing',
      at: new Date(now.getTime() - 300_000),
      labels: JSON.stringify({alertname: 'eu-down', severity: 'critical', rds: 'eu-2'}),
    })
  })

  afterAll(async () => {
    await db?.destroy()
    dir?.drop()
  })

  it('alerts:list: a table, --json with the mute flags, CSV; a read-only token may list', async () => {
    const json = await session.run(['alerts:list', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const alerts = JSON.parse(json.stdout) as AlertListItem[]
    expect(alerts.map((a) => [a.id, a.state, a.inhibitedBy, a.silencedBy, a.acked])).toEqual([
      [ids.down, 'firing', null, null, null],
      [ids.sync, 'firing', ids.down, null, null],
    ])
    const table = await session.run(['alerts:list', '--wide'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/id\W+state\W+severity\W+rule\W+labels\W+since\W+muted\W+acked\W+summary/)
    expect(table.stdout).toMatch(new RegExp(`eu-sync-failing\\W+rds=eu-2\\W+.*inhibited by ${ids.down}`))
    const csv = await session.run(['alerts:list', '--all', '--format', 'csv', '--columns', 'id,state,labels'])
    expect(csv.stdout.trim().split('\n')).toEqual([
      'id,state,labels',
      `${ids.down},firing,"alertname=eu-down,rds=eu-2,severity=critical"`,
      `${ids.sync},firing,"alertname=eu-sync-failing,rds=eu-2,severity=warning"`,
      `${ids.resolved},resolved,"alertname=eu-sync-failing,rds=us-1,severity=warning"`,
    ])
    const readOnly = await session.run(['alerts:list', '--json'], {env: {RAIOPS_TOKEN: tokens.readOnly}})
    expect(readOnly.code, readOnly.stderr).toBe(0)
    const bad = await session.run(['alerts:list', '--matcher', 'rds'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')[0]).toMatch(/--matcher must be name=value/)
  })

  it('alerts:history --json lists the changes, filtered', async () => {
    const history = await session.run(['alerts:history', '--rule', 'eu-down', '--json'])
    expect(history.code, history.stderr).toBe(0)
    expect((JSON.parse(history.stdout) as AlertTransitionView[]).map((t) => [t.instanceId, t.from, t.to])).toEqual([[ids.down, 'pending', 'firing']])
    const none = await session.run(['alerts:history', '--matcher', 'rds=us-1', '--json'])
    expect(JSON.parse(none.stdout)).toEqual([])
  })

  it('alerts:silence refuses bad input with one line and exit 2, nothing written; the read-only role is refused with exit 5', async () => {
    for (const args of [
      ['--matcher', 'alertname=~.*', '--reason', 'all', '--for', '1h'],
      ['--matcher', 'rds=eu-2', '--reason', 'x'],
      ['--matcher', 'rds=eu-2', '--reason', 'x', '--for', 'soon'],
      ['--reason', 'no matcher', '--for', '1h'],
    ]) {
      const result = await session.run(['alerts:silence', ...args])
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stdout).toBe('')
    }
    const everything = await session.run(['alerts:silence', '--matcher', 'alertname=~.*', '--reason', 'all', '--for', '1h'])
    expect(everything.stderr).toMatch(/^Error: the matchers alertname=~\.\* would silence every alert/)
    expect(queryControlDb<{n: number}>(home, 'select count(*) as n from alert_silences')[0].n).toBe(0)

    const refused = await session.run(['alerts:silence', '--matcher', 'rds=eu-2', '--reason', 'x', '--for', '1h'], {env: {RAIOPS_TOKEN: tokens.readOnly}})
    expect(refused.code).toBe(5)
    expect(queryControlDb<{n: number}>(home, 'select count(*) as n from alert_silences')[0].n).toBe(0)
  })

  it('alerts:silence, alerts:silences, alerts:list shows it silenced, alerts:unsilence lifts it', async () => {
    const created = await session.run([
      'alerts:silence',
      '--matcher',
      'rds=eu-2',
      '--matcher',
      'alertname=eu-down',
      '--reason',
      'eu-2 maintenance',
      '--for',
      '2h',
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    const silence = JSON.parse(created.stdout) as SilenceView
    expect(silence).toMatchObject({
      matchers: ['rds=eu-2', 'alertname=eu-down'],
      reason: 'eu-2 maintenance',
      state: 'active',
      matchingNow: 1,
      createdBy: 'ops@example.com',
    })
    const text = await session.run(['alerts:silence', '--matcher', 'rds=us-9', '--reason', 'later', '--for', '1h'])
    expect(text.stdout).toMatch(/^silence \d+: rds=us-9 until \S+ \(0 alert\(s\) match now\)\n$/)

    const list = JSON.parse((await session.run(['alerts:list', '--json'])).stdout) as AlertListItem[]
    expect(list.find((a) => a.id === ids.down)?.silencedBy).toBe(silence.id)
    const silences = JSON.parse((await session.run(['alerts:silences', '--json'])).stdout) as SilenceView[]
    expect(silences.map((s) => s.reason)).toEqual(['later', 'eu-2 maintenance'])

    const lifted = await session.run(['alerts:unsilence', String(silence.id), '--json'])
    expect(lifted.code, lifted.stderr).toBe(0)
    expect(JSON.parse(lifted.stdout)).toMatchObject({id: silence.id, state: 'expired'})
    const again = await session.run(['alerts:unsilence', String(silence.id)])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/^Error: silence \d+ is over already/)
    expect((await session.run(['alerts:unsilence', 'abc'])).code).toBe(2)
    expect(queryControlDb<{action: string}>(home, "select action from audit_logs where action like 'alert.%' order by seq").map((r) => r.action)).toEqual([
      'alert.silence',
      'alert.silence',
      'alert.unsilence',
    ])
  })

  it('alerts:ack acknowledges a firing alert; a resolved one is exit 2', async () => {
    const acked = await session.run(['alerts:ack', String(ids.sync), '--comment', 'on it', '--json'])
    expect(acked.code, acked.stderr).toBe(0)
    expect(JSON.parse(acked.stdout)).toMatchObject({id: ids.sync, acked: {by: 'ops@example.com'}})
    const refused = await session.run(['alerts:ack', String(ids.resolved)])
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim().split('\n')[0]).toBe(
      `Error: alert ${ids.resolved} is resolved: only a pending, firing or unknown alert is acknowledged — see \`raiops alerts:list\``,
    )
    expect((await session.run(['alerts:ack', String(ids.sync)], {env: {RAIOPS_TOKEN: tokens.readOnly}})).code).toBe(5)
  })

  it('alerts:test: a fixture that does not parse is exit 2 naming its line; a missing one exit 2', async () => {
    const file = join(dir.path, 'broken.json')
    writeFileSync(file, '{\n  "rules": ["rds-down"],\n  "steps": [\n    {"expect": {"alerts": []}}\n    {"after": "5m"}\n  ]\n}\n')
    const broken = await session.run(['alerts:test', file])
    expect(broken.code).toBe(2)
    expect(broken.stderr.trim().split('\n')[0]).toBe(`Error: ${file}:5:5: not JSON: expected "," or "]" after an element, found "{"`)
    const json = await session.run(['alerts:test', file, '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {message: expect.stringContaining(`${file}:5:5`)}})

    const badField = join(dir.path, 'bad-field.json')
    writeFileSync(badField, '{\n  "rules": ["rds-down"],\n  "steps": [{"expect": {"alerts": [{"rule": "rds-down", "state": "on"}]}}]\n}\n')
    const field = await session.run(['alerts:test', badField])
    expect(field.code).toBe(2)
    expect(field.stderr).toMatch(
      new RegExp(`^Error: ${badField.replaceAll('/', '\\/')}:3:66: steps\\[0\\]\\.expect\\.alerts\\[0\\]\\.state: Invalid enum value`),
    )
    expect((await session.run(['alerts:test', join(dir.path, 'missing.json')])).code).toBe(2)
    expect((await session.run(['alerts:test'])).code).toBe(2)
  })

  it('alerts:test runs a fixture: exit 0 when every step passes, 4 with a diff when one fails', async () => {
    const shipped = join(root, 'alerts', 'fixtures', 'rds-down.json')
    const passed = await session.run(['alerts:test', shipped])
    expect(passed.code, passed.stderr).toBe(0)
    expect(passed.stdout).toMatch(/^pass step 1 at 2026-01-05T10:00:00.000Z \(eu-2 is found down\)$/m)
    expect(passed.stdout).toContain('4 step(s) passed')

    const wrong = join(dir.path, 'wrong.json')
    writeFileSync(wrong, readFileSync(shipped, 'utf8').replace('"state": "pending"', '"state": "firing"'))
    const failed = await session.run(['alerts:test', wrong, '--json'])
    expect(failed.code).toBe(4)
    const result = JSON.parse(failed.stdout) as {passed: boolean; fixtures: Array<{steps: Array<{passed: boolean; diff: string[]}>}>}
    expect(result.passed).toBe(false)
    expect(result.fixtures[0].steps[0]).toMatchObject({passed: false, diff: ['- alert rds-down{rds=eu-2} firing', '+ alert rds-down{rds=eu-2} pending']})
    expect(result.fixtures[0].steps.slice(1).every((s) => s.passed)).toBe(true)
  })
})
