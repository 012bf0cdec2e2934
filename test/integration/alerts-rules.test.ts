import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  createRule,
  DEFAULT_RULES,
  deleteRule,
  editRule,
  listRuleKinds,
  listRules,
  seedDefaultRules,
  setRuleEnabled,
  showRule,
} from '../../src/lib/alerts/rules.js'
import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {NotFoundError, UserError} from '../../src/lib/errors/index.js'
import {changeContext, TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const T0 = new Date('2026-07-01T08:00:00.000Z')
const T1 = new Date('2026-07-01T09:00:00.000Z')

/** Every rule row and the audit trail's length: equal snapshots mean nothing was written. */
async function snapshot(db: Knex): Promise<{rules: unknown[]; audit: number}> {
  const rules = await db('alert_rules').orderBy('id').select('*')
  const [{n}] = await db('audit_logs').count({n: '*'})
  return {rules: JSON.parse(JSON.stringify(rules)) as unknown[], audit: Number(n)}
}

async function auditOf(db: Knex, action: string) {
  const rows = await db('audit_logs').where({action}).orderBy('seq').select('target_type', 'target_id', 'actor', 'old_values', 'new_values')
  return rows.map((r) => ({
    target: `${r.target_type}:${r.target_id}`,
    actor: r.actor,
    old: r.old_values ? (JSON.parse(r.old_values) as Record<string, unknown>) : null,
    new: r.new_values ? (JSON.parse(r.new_values) as Record<string, unknown>) : null,
  }))
}

describe.each(CONTROL_ENGINES)('alert rules on %s', (engine) => {
  let control: TestControlDb
  const ctx = (now = T1) => changeContext(control.db, {now})

  beforeAll(async () => {
    control = await createControlDb(engine)
  })

  afterAll(async () => {
    await control?.drop()
  })

  it('seeds the default rules once, by name, with their kinds’ defaults; a second seeding changes nothing', async () => {
    const {db} = control
    const created = await seedDefaultRules(db, T0)
    expect(created).toEqual(DEFAULT_RULES.map((r) => r.name))
    const rules = await listRules({db})
    expect(rules.map((r) => r.name)).toEqual([...DEFAULT_RULES.map((r) => r.name)].sort())
    expect(rules.every((r) => r.builtin && r.enabled && r.createdBy === 'raiops' && r.createdAt === T0.toISOString())).toBe(true)
    expect(await showRule({db}, {name: 'rds-down'})).toMatchObject({
      kind: 'rds_down',
      forMs: 300_000,
      severity: 'critical',
      params: {},
      noData: 'ok',
      onError: 'error',
    })
    expect(await showRule({db}, {name: 'sync-routing-stale'})).toMatchObject({kind: 'sync_stale', params: {sync: 'routing', maxAge: '30m'}})
    // The kind's defaults are stored: what the rule evaluates with is what show shows.
    expect((await showRule({db}, {name: 'lease-overdue'})).params).toEqual({grace: '1m'})

    const before = await snapshot(db)
    expect(await seedDefaultRules(db, T1)).toEqual([])
    expect(await snapshot(db)).toEqual(before)
  })

  it('never changes an edited or disabled default; re-creates only one that is missing', async () => {
    const {db} = control
    await editRule(ctx(), {name: 'rds-down', for: '2m', labels: {team: 'dba'}})
    await setRuleEnabled(ctx(), {name: 'trials-ending', enabled: false})
    await db('alert_rules').where({name: 'jobs-stuck'}).delete()
    expect(await seedDefaultRules(db, T1)).toEqual(['jobs-stuck'])
    expect(await showRule({db}, {name: 'rds-down'})).toMatchObject({forMs: 120_000, labels: {team: 'dba'}, builtin: true})
    expect(await showRule({db}, {name: 'trials-ending'})).toMatchObject({enabled: false})
    expect(await showRule({db}, {name: 'jobs-stuck'})).toMatchObject({params: {after: '30m'}, createdAt: T1.toISOString()})
  })

  it('createRule stores the rule checked whole, with the kind’s defaults, and audits it in the same transaction', async () => {
    const {db} = control
    const rule = await createRule(ctx(), {
      name: 'ghosts-stale',
      kind: 'sync_stale',
      params: {sync: 'ghost-users'},
      for: '10m',
      keepFiringFor: '1h30m',
      severity: 'info',
      labels: {team: 'ops'},
      noData: 'keep-last',
      onError: 'ok',
      description: 'ghost users not synced for a day',
      enabled: false,
    })
    expect(rule).toMatchObject({
      name: 'ghosts-stale',
      kind: 'sync_stale',
      params: {sync: 'ghost-users', maxAge: '2h'},
      forMs: 600_000,
      keepFiringForMs: 5_400_000,
      severity: 'info',
      labels: {team: 'ops'},
      noData: 'keep-last',
      onError: 'ok',
      description: 'ghost users not synced for a day',
      enabled: false,
      builtin: false,
      createdBy: TEST_AUDIT.actor,
      createdAt: T1.toISOString(),
    })
    const [entry] = await auditOf(db, 'alert.rule.create')
    expect(entry).toEqual({
      target: 'alert_rule:ghosts-stale',
      actor: TEST_AUDIT.actor,
      old: null,
      new: {
        kind: 'sync_stale',
        params: {sync: 'ghost-users', maxAge: '2h'},
        forMs: 600_000,
        keepFiringForMs: 5_400_000,
        severity: 'info',
        labels: {team: 'ops'},
        noData: 'keep-last',
        onError: 'ok',
        description: 'ghost users not synced for a day',
        enabled: false,
      },
    })
    // Defaults for what is not given: fires at once, warning, NoData and errors alert.
    expect(await createRule(ctx(), {name: 'any-down', kind: 'rds_down'})).toMatchObject({
      forMs: 0,
      keepFiringForMs: 0,
      severity: 'warning',
      labels: {},
      noData: 'nodata',
      onError: 'error',
      enabled: true,
      description: null,
    })
    expect((await verifyAuditChain({db})).ok).toBe(true)
  })

  it.each([
    [
      'an unknown kind, listing the known ones',
      {kind: 'disk_full'},
      /^unknown rule kind "disk_full"; the kinds are rds_down, rds_degraded, sync_stale, .*engine_heartbeat$/,
    ],
    ['a parameter the kind does not take', {kind: 'rds_down', params: {rds: 'eu-1'}}, 'the kind rds_down has no parameter "rds"; it takes none'],
    [
      'a parameter that does not parse',
      {kind: 'sync_stale', params: {maxAge: 'soon'}},
      /^--param maxAge must be a duration such as .*, not "soon" \(kind sync_stale\)$/,
    ],
    ['a negative parameter duration', {kind: 'jobs_stuck', params: {after: '-5m'}}, /^--param after must be a duration/],
    ['a parameter out of range', {kind: 'billing_overdue', params: {graceDays: '-1'}}, /^--param graceDays must be a whole number from 0 to 36500/],
    ['an unknown sync', {kind: 'sync_failing', params: {sync: 'users'}}, /^--param sync must be one of tenants, routing, ghost-users/],
    ['a negative --for', {kind: 'rds_down', for: '-5m'}, '--for must not be negative, not "-5m"'],
    ['a malformed --keep-firing-for', {kind: 'rds_down', keepFiringFor: 'ten minutes'}, /^--keep-firing-for must be a duration such as/],
    ['an invalid severity', {kind: 'rds_down', severity: 'page'}, '--severity must be one of critical, warning, info, not "page"'],
    ['an invalid NoData policy', {kind: 'rds_down', noData: 'alerting'}, '--no-data must be one of nodata, ok, keep-last, not "alerting"'],
    ['an invalid label name', {kind: 'rds_down', labels: {'team-name': 'dba'}}, /^the --label name "team-name" must start with a letter or _/],
    ['a label the engine sets', {kind: 'rds_down', labels: {severity: 'page'}}, /^the --label severity is set by the engine/],
    ['a label the kind sets', {kind: 'rds_down', labels: {rds: 'eu-1'}}, /^the --label rds is set by the kind rds_down/],
    ['a label value too long', {kind: 'rds_down', labels: {team: 'x'.repeat(300)}}, /^the --label team is longer than 255 characters$/],
    ['an invalid name', {name: 'no spaces please', kind: 'rds_down'}, /^--name "no spaces please" must be 1 to 128 letters/],
    ['a name taken', {name: 'rds-down', kind: 'rds_down'}, 'an alert rule named "rds-down" already exists'],
  ])('refuses %s: exit 2, nothing written', async (_what, input, message) => {
    const before = await snapshot(control.db)
    const attempt = createRule(ctx(), {name: 'refused', ...input} as Parameters<typeof createRule>[1])
    await expect(attempt).rejects.toBeInstanceOf(UserError)
    await expect(attempt).rejects.toThrow(message)
    expect(await snapshot(control.db)).toEqual(before)
  })

  it('editRule changes only what is given, merges parameters and labels, and audits the values before and after', async () => {
    const {db} = control
    await createRule(ctx(T0), {name: 'stale-edit', kind: 'sync_stale', params: {sync: 'tenants', maxAge: '3h'}, labels: {team: 'ops', tier: '1'}, for: '5m'})
    const edited = await editRule(ctx(T1), {name: 'stale-edit', params: {maxAge: '1h'}, labels: {tier: '', region: 'eu'}, severity: 'critical'})
    expect(edited).toMatchObject({
      params: {sync: 'tenants', maxAge: '1h'},
      labels: {team: 'ops', region: 'eu'},
      severity: 'critical',
      forMs: 300_000,
      updatedAt: T1.toISOString(),
      createdAt: T0.toISOString(),
    })
    expect((await auditOf(db, 'alert.rule.edit')).filter((e) => e.target === 'alert_rule:stale-edit')).toEqual([
      {
        target: 'alert_rule:stale-edit',
        actor: TEST_AUDIT.actor,
        old: {params: {sync: 'tenants', maxAge: '3h'}, labels: {team: 'ops', tier: '1'}, severity: 'warning'},
        new: {params: {sync: 'tenants', maxAge: '1h'}, labels: {team: 'ops', region: 'eu'}, severity: 'critical'},
      },
    ])

    // A parameter given empty goes back to its default; another kind drops the old kind's parameters.
    expect((await editRule(ctx(), {name: 'stale-edit', params: {maxAge: ''}})).params).toEqual({sync: 'tenants', maxAge: '2h'})
    expect((await editRule(ctx(), {name: 'stale-edit', kind: 'jobs_stuck', params: {after: '1h'}})).params).toEqual({after: '1h'})

    // The same values again: nothing written.
    const before = await snapshot(db)
    await editRule(ctx(), {name: 'stale-edit', severity: 'critical', for: '5m'})
    expect(await snapshot(db)).toEqual(before)
  })

  it('editRule refuses bad input with nothing written, nothing given, and a rule that does not exist', async () => {
    const {db} = control
    const before = await snapshot(db)
    await expect(editRule(ctx(), {name: 'stale-edit'})).rejects.toThrow(/^give at least one change/)
    await expect(editRule(ctx(), {name: 'stale-edit', for: '-1m'})).rejects.toThrow('--for must not be negative')
    await expect(editRule(ctx(), {name: 'stale-edit', params: {maxAge: '2h'}})).rejects.toThrow(
      'the kind jobs_stuck has no parameter "maxAge"; its parameters are after',
    )
    await expect(editRule(ctx(), {name: 'stale-edit', kind: 'nope'})).rejects.toThrow(/^unknown rule kind "nope"/)
    await expect(editRule(ctx(), {name: 'stale-edit', labels: {alertname: 'x'}})).rejects.toThrow(/set by the engine/)
    const missing = editRule(ctx(), {name: 'no-such-rule', severity: 'info'})
    await expect(missing).rejects.toBeInstanceOf(NotFoundError)
    await expect(missing).rejects.toThrow('no alert rule named "no-such-rule"')
    expect(await snapshot(db)).toEqual(before)
  })

  it('setRuleEnabled disables and enables a rule, audited once per change', async () => {
    const {db} = control
    const countOf = async () => (await auditOf(db, 'alert.rule.disable')).filter((e) => e.target === 'alert_rule:any-down').length
    expect(await setRuleEnabled(ctx(), {name: 'any-down', enabled: false})).toMatchObject({enabled: false})
    expect(await setRuleEnabled(ctx(), {name: 'any-down', enabled: false})).toMatchObject({enabled: false})
    expect(await countOf()).toBe(1)
    expect((await auditOf(db, 'alert.rule.disable')).at(-1)).toMatchObject({old: {enabled: true}, new: {enabled: false}})
    expect(await setRuleEnabled(ctx(), {name: 'any-down', enabled: true})).toMatchObject({enabled: true})
    expect((await auditOf(db, 'alert.rule.enable')).map((e) => e.target)).toContain('alert_rule:any-down')
    expect((await listRules({db}, {enabled: false})).map((r) => r.name)).toEqual(['ghosts-stale', 'trials-ending'])
    await expect(setRuleEnabled(ctx(), {name: 'gone', enabled: true})).rejects.toBeInstanceOf(NotFoundError)
  })

  it('deleteRule removes an operator’s rule with its alerts and their history, audited; a built-in rule cannot be deleted', async () => {
    const {db} = control
    const rule = await createRule(ctx(T0), {name: 'to-delete', kind: 'jobs_failed', severity: 'info'})
    await db('alert_instances').insert({
      rule_id: rule.id,
      fingerprint: 'f'.repeat(64),
      labels: '{}',
      state: 'firing',
      last_eval_at: T0,
      created_at: T0,
      updated_at: T0,
    })
    const instance = await db('alert_instances').where({rule_id: rule.id}).first('id')
    await db('alert_transitions').insert({instance_id: instance!.id, rule_id: rule.id, from_state: 'pending', to_state: 'firing', at: T0, labels: '{}'})

    expect(await deleteRule(ctx(), {name: 'to-delete'})).toMatchObject({name: 'to-delete', kind: 'jobs_failed'})
    await expect(showRule({db}, {name: 'to-delete'})).rejects.toBeInstanceOf(NotFoundError)
    expect(await db('alert_instances').where({rule_id: rule.id}).select('id')).toEqual([])
    expect(await db('alert_transitions').where({rule_id: rule.id}).select('id')).toEqual([])
    expect(await auditOf(db, 'alert.rule.delete')).toEqual([
      {target: 'alert_rule:to-delete', actor: TEST_AUDIT.actor, old: expect.objectContaining({kind: 'jobs_failed', severity: 'info'}) as unknown, new: null},
    ])

    const before = await snapshot(db)
    await expect(deleteRule(ctx(), {name: 'rds-down'})).rejects.toThrow('rds-down is a built-in rule: it cannot be deleted')
    await expect(deleteRule(ctx(), {name: 'to-delete'})).rejects.toBeInstanceOf(NotFoundError)
    expect(await snapshot(db)).toEqual(before)
  })

  it('listRuleKinds gives every kind with its parameters and defaults', () => {
    const kinds = listRuleKinds()
    expect(kinds.map((k) => k.kind)).toContain('engine_heartbeat')
    expect(kinds.find((k) => k.kind === 'sync_stale')).toMatchObject({
      labels: ['sync', 'rds'],
      params: [
        {name: 'sync', default: null},
        {name: 'maxAge', default: '2h'},
      ],
    })
    expect(kinds.find((k) => k.kind === 'rds_down')!.params).toEqual([])
  })
})
