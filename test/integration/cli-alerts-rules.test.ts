import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {RuleKindView} from '../../src/lib/alerts/rules.js'
import {DEFAULT_RULES} from '../../src/lib/alerts/rules.js'
import type {AlertRule} from '../../src/lib/alerts/types.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

describe('alerts:rules:* commands, as an operator runs them', () => {
  let dir: TestDir
  let session: CliSession
  let readOnly = ''
  const password = 'alert-rules-admin-password-1'

  const rules = async (): Promise<AlertRule[]> => {
    const listed = await session.run(['alerts:rules:list', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    return JSON.parse(listed.stdout) as AlertRule[]
  }

  beforeAll(async () => {
    dir = createTestDir('raiops-alert-rules-')
    session = await initialisedHome({home: join(dir.path, 'raiops'), password, env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const created = await session.run(['token:create', '--name', 'viewer', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    readOnly = (JSON.parse(created.stdout) as {token: string}).token
  })

  afterAll(() => dir?.drop())

  it('raiops init seeded the default rules; a second init changes nothing; list shows them as a table or JSON', async () => {
    const seeded = await rules()
    expect(seeded.map((r) => r.name)).toEqual([...DEFAULT_RULES.map((r) => r.name)].sort())
    expect(seeded.every((r) => r.builtin && r.enabled)).toBe(true)
    expect(seeded.find((r) => r.name === 'rds-down')).toMatchObject({kind: 'rds_down', forMs: 300_000, severity: 'critical', params: {}, labels: {}})

    const again = await session.run(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], {input: `${password}\n`})
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain('nothing changed')
    expect(await rules()).toEqual(seeded)

    const table = await session.run(['alerts:rules:list', '--wide'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/name\W+kind\W+params\W+for\W+severity\W+enabled\W+builtin/)
    expect(table.stdout).toMatch(/sync-routing-stale\W+sync_stale\W+maxAge=30m sync=routing\W+0\W+warning\W+yes\W+yes/)
    const csv = await session.run(['alerts:rules:list', '--format', 'csv', '--columns', 'name,for'])
    expect(csv.stdout.split('\n')).toContain('rds-down,300000')
  })

  it('alerts:rules:kinds lists each kind with its parameters and defaults', async () => {
    const listed = await session.run(['alerts:rules:kinds', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    const kinds = JSON.parse(listed.stdout) as RuleKindView[]
    expect(kinds.find((k) => k.kind === 'jobs_stuck')).toEqual({
      kind: 'jobs_stuck',
      description: expect.any(String) as string,
      labels: ['job', 'kind'],
      params: [{name: 'after', default: '30m', description: 'how long without progress before a job is stuck'}],
    })
    const text = await session.run(['alerts:rules:kinds'])
    expect(text.stdout).toContain('--param maxAge=…  how old the last successful sync may be (default 2h)')
  })

  it('create, show, edit, disable and enable a rule; --json returns the rule', async () => {
    const created = await session.run([
      'alerts:rules:create',
      '--name',
      'ghosts-stale',
      '--kind',
      'sync_stale',
      '--param',
      'sync=ghost-users',
      '--param',
      'maxAge=1d',
      '--for',
      '10m',
      '--severity',
      'info',
      '--label',
      'team=ops',
      '--description',
      'ghost users not synced for a day',
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    const rule = JSON.parse(created.stdout) as AlertRule
    expect(rule).toMatchObject({
      name: 'ghosts-stale',
      kind: 'sync_stale',
      params: {sync: 'ghost-users', maxAge: '1d'},
      forMs: 600_000,
      keepFiringForMs: 0,
      severity: 'info',
      labels: {team: 'ops'},
      noData: 'nodata',
      onError: 'error',
      enabled: true,
      builtin: false,
      createdBy: 'ops@example.com',
    })
    expect(Object.keys(rule).sort()).toEqual(
      [
        'id',
        'name',
        'kind',
        'params',
        'forMs',
        'keepFiringForMs',
        'severity',
        'labels',
        'noData',
        'onError',
        'description',
        'enabled',
        'builtin',
        'createdBy',
        'createdAt',
        'updatedAt',
      ].sort(),
    )

    const shown = await session.run(['alerts:rules:show', 'ghosts-stale'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^params +maxAge=1d sync=ghost-users$/m)
    expect(shown.stdout).toMatch(/^for +10m$/m)

    const edited = await session.run(['alerts:rules:edit', 'ghosts-stale', '--param', 'maxAge=12h', '--keep-firing-for', '5m', '--label', 'team=', '--json'])
    expect(edited.code, edited.stderr).toBe(0)
    expect(JSON.parse(edited.stdout)).toMatchObject({params: {sync: 'ghost-users', maxAge: '12h'}, keepFiringForMs: 300_000, labels: {}, forMs: 600_000})

    const disabled = await session.run(['alerts:rules:disable', 'rds-degraded'])
    expect(disabled.code, disabled.stderr).toBe(0)
    expect(disabled.stdout).toBe('alert rule rds-degraded (rds_degraded, warning, for 10m, disabled)\n')
    const enabled = await session.run(['alerts:rules:enable', 'rds-degraded', '--json'])
    expect(JSON.parse(enabled.stdout)).toMatchObject({name: 'rds-degraded', enabled: true})

    const audit = await session.run(['audit:list', '--json'])
    const actions = (JSON.parse(audit.stdout) as Array<{action: string}>).map((e) => e.action)
    expect(actions).toEqual(expect.arrayContaining(['alert.rule.create', 'alert.rule.edit', 'alert.rule.disable', 'alert.rule.enable']))
  })

  it.each([
    [['--kind', 'disk_full'], /^Error: unknown rule kind "disk_full"; the kinds are rds_down, .*engine_heartbeat — see `raiops alerts:rules:kinds`$/],
    [['--kind', 'rds_down', '--for', '-5m'], /^Error: --for must not be negative, not "-5m"/],
    [['--kind', 'rds_down', '--keep-firing-for', '5 minutes'], /^Error: --keep-firing-for must be a duration such as/],
    [['--kind', 'jobs_stuck', '--param', 'after=-30m'], /^Error: --param after must be a duration/],
    [['--kind', 'jobs_stuck', '--param', 'after'], /^Error: --param must be key=value, not "after"/],
    [['--kind', 'rds_down', '--label', 'bad-name=x'], /^Error: the --label name "bad-name" must start with a letter/],
    [['--kind', 'rds_down', '--label', 'rds=eu-1'], /^Error: the --label rds is set by the kind rds_down/],
    [['--kind', 'rds_down', '--severity', 'page'], /page/],
  ])('create %j: exit 2, one line, nothing written', async (args, message) => {
    const before = await rules()
    const result = await session.run(['alerts:rules:create', '--name', 'refused', ...args])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr.trim()).toMatch(message)
    expect(await rules()).toEqual(before)
  })

  it('a name taken, an unknown rule, and an edit with nothing to change: exit 2', async () => {
    const taken = await session.run(['alerts:rules:create', '--name', 'rds-down', '--kind', 'rds_down'])
    expect(taken.code).toBe(2)
    expect(taken.stderr).toContain('an alert rule named "rds-down" already exists')
    const missing = await session.run(['alerts:rules:show', 'no-such-rule'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no alert rule named "no-such-rule"')
    const nothing = await session.run(['alerts:rules:edit', 'rds-down'])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toContain('give at least one change')
  })

  it('alerts:rules:delete removes an operator’s rule; a built-in one is refused (exit 2)', async () => {
    const created = await session.run(['alerts:rules:create', '--name', 'short-lived', '--kind', 'jobs_failed'])
    expect(created.code, created.stderr).toBe(0)
    const deleted = await session.run(['alerts:rules:delete', 'short-lived', '--json'])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(JSON.parse(deleted.stdout)).toMatchObject({name: 'short-lived', kind: 'jobs_failed', builtin: false})
    expect((await rules()).map((r) => r.name)).not.toContain('short-lived')
    const builtin = await session.run(['alerts:rules:delete', 'rds-down'])
    expect(builtin.code).toBe(2)
    expect(builtin.stderr.trim()).toBe('Error: rds-down is a built-in rule: it cannot be deleted — disable it with `raiops alerts:rules:disable rds-down`')
  })

  it('read_only may list, show and see the kinds, not create, edit, enable or disable (exit 5)', async () => {
    const env = {RAIOPS_TOKEN: readOnly}
    expect((await session.run(['alerts:rules:list', '--json'], {env})).code).toBe(0)
    expect((await session.run(['alerts:rules:show', 'rds-down'], {env})).code).toBe(0)
    expect((await session.run(['alerts:rules:kinds'], {env})).code).toBe(0)
    const before = await rules()
    for (const args of [
      ['alerts:rules:create', '--name', 'sneaky', '--kind', 'rds_down'],
      ['alerts:rules:edit', 'rds-down', '--for', '1m'],
      ['alerts:rules:disable', 'rds-down'],
      ['alerts:rules:enable', 'rds-down'],
      ['alerts:rules:delete', 'ghosts-stale'],
    ]) {
      const refused = await session.run(args, {env})
      expect(refused.code, args.join(' ')).toBe(5)
      expect(refused.stderr).toContain('alerts.manage-rules')
    }
    expect(await rules()).toEqual(before)
  })
})
