import {decodeJwt} from 'jose'
import type {Knex} from 'knex'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {seedRoles} from '../../src/lib/auth/seed.js'
import {acquireLease} from '../../src/lib/lease/lease.js'
import {addOperator, editOperator} from '../../src/lib/operator/service.js'
import {runGhostUserSync, runTenantSync, type GhostSyncRequest} from '../../src/lib/sync/index.js'
import type {FixtureEngine, RaiFixture} from '../support/rai-fixture.js'
import {createTestDir} from '../support/servers.js'
import {initialisedHome} from '../support/session.js'
import {
  cachedTenants,
  context,
  control,
  fixture,
  onFixture,
  proxyTo,
  register,
  registerMaster,
  TENANTS,
  useSyncHarness,
  type Ctx,
} from '../support/sync-harness.js'

useSyncHarness()

const DOMAIN = 'ghosts.invalid'
const RUN: GhostSyncRequest = {dryRun: false, prune: false, domain: DOMAIN, concurrency: 4, deadlineMs: 30_000}

interface GhostRow {
  tenant_id: number
  name: string
  email: string
  password: string
  status: string
  is_ghost: boolean
}

/** Every ghost user of the domain on a fixture, as stored. */
async function ghostsOf(target: RaiFixture, domain = DOMAIN): Promise<GhostRow[]> {
  return onFixture(target, async (db) =>
    (await db('users').where('email', 'like', `ghost+%@${domain}`).orderBy(['tenant_id', 'email'])).map((r: Record<string, unknown>) => ({
      tenant_id: Number(r.tenant_id),
      name: String(r.name),
      email: String(r.email),
      password: String(r.password),
      status: String(r.status),
      is_ghost: Boolean(Number(r.is_ghost)) || r.is_ghost === true,
    })),
  )
}

const countOf = async (query: Knex.QueryBuilder): Promise<number> => Number((await query.count({n: '*'}))[0].n)
const userCount = (target: RaiFixture) => onFixture(target, (db: Knex) => countOf(db('users')))

async function operators(ctx: Ctx) {
  await seedRoles(ctx.db, new Date())
  const add = (email: string, name: string, role: string) => addOperator(ctx, {email, name, role, password: 'ghost-test-password-1'})
  return {
    ana: await add('ana@example.com', 'Ana Support', 'system_admin'),
    bo: await add('bo@example.com', 'Bo Admin', 'support_admin'),
    cy: await add('cy@example.com', 'Cy Reader', 'read_only'),
  }
}

describe.each<FixtureEngine>(['mysql', 'postgres', 'sqlite'])('sync:ghost-users on a %s fleet', (engine) => {
  it('creates exactly tenants × operators ghosts, then nothing; renames; filters; dry run; prune; tenant counts unchanged', async () => {
    // Given: three operators (two may impersonate), a master RDS with 3 tenants and another with 2, each tenant with a ghost of the RAI's own.
    const {db} = await control('sqlite')
    const ctx = context(db)
    const {ana, bo, cy} = await operators(ctx)
    const [main, second] = await Promise.all([fixture({engine, master: true, tenants: 3, usersPerTenant: 2}), fixture({engine, tenants: 2, usersPerTenant: 2})])
    await registerMaster(ctx, main, 'main')
    await register(ctx, second, 'second')
    await runTenantSync(ctx, TENANTS)
    const countsBefore = (await cachedTenants(db)).map((t) => t.users)
    const usersBefore = [await userCount(main), await userCount(second)]

    // When: the first run. Then: 5 tenants × 2 operators, with the right fields, unusable passwords, no routing rows.
    const first = await runGhostUserSync(ctx, RUN)
    expect(first).toMatchObject({status: 'ok', changed: true, totals: {inserted: 10, updated: 0, pruned: 0, unchanged: 0}})
    expect(first.operators.map((o) => o.id)).toEqual([ana.id, bo.id])
    expect(first.rds.map((r) => [r.name, r.tenants, r.counts.inserted])).toEqual([
      ['main', 3, 6],
      ['second', 2, 4],
    ])
    for (const [target, tenants] of [
      [main, 3],
      [second, 2],
    ] as const) {
      const ghosts = await ghostsOf(target)
      expect(ghosts.map((g) => [g.tenant_id, g.email, g.name, g.status, g.is_ghost])).toEqual(
        Array.from({length: tenants}, (_, i) => [
          [i + 1, `ghost+${ana.id}@${DOMAIN}`, 'RAI support (Ana Support)', 'active', true],
          [i + 1, `ghost+${bo.id}@${DOMAIN}`, 'RAI support (Bo Admin)', 'active', true],
        ]).flat(),
      )
      for (const g of ghosts) {
        expect(g.password).toMatch(/^!/)
        expect(g.password).not.toMatch(/^\$2[aby]\$/)
        expect(g.password.length).toBeGreaterThan(40)
      }
      expect(ghosts.some((g) => g.email.includes(`+${cy.id}@`))).toBe(false)
    }
    expect(await onFixture(main, (fdb) => countOf(fdb('user_email_routing').where('email', 'like', `%@${DOMAIN}`)))).toBe(0)
    expect([await userCount(main), await userCount(second)]).toEqual([usersBefore[0] + 6, usersBefore[1] + 4])
    const runs = await db('sync_runs').where({kind: 'ghost-users'}).orderBy('id')
    expect(runs.map((r) => [r.rds_instance_id === null ? null : Number(r.rds_instance_id), r.status])).toEqual([
      [expect.any(Number), 'ok'],
      [expect.any(Number), 'ok'],
      [null, 'ok'],
    ])
    const audit = await db('audit_logs').where({action: 'sync.ghost-users'})
    expect(audit).toHaveLength(1)
    expect(JSON.parse(String(audit[0].new_values))).toMatchObject({inserted: 10, updated: 0, pruned: 0, operators: [ana.id, bo.id]})
    expect(String(audit[0].new_values)).not.toMatch(/!|\$2/)

    // When: a second run. Then: nothing changed, no audit entry.
    const second2 = await runGhostUserSync(ctx, RUN)
    expect(second2).toMatchObject({status: 'ok', changed: false, totals: {inserted: 0, updated: 0, pruned: 0, unchanged: 10}})
    expect(await db('audit_logs').where({action: 'sync.ghost-users'})).toHaveLength(1)

    // When: Ana is renamed. Then: her 5 ghosts are renamed, nothing else.
    await editOperator(ctx, {ref: ana.email, changes: {name: 'Ana Lima'}})
    expect((await runGhostUserSync(ctx, RUN)).totals).toEqual({inserted: 0, updated: 5, pruned: 0, unchanged: 5})
    expect((await ghostsOf(second)).filter((g) => g.email.startsWith(`ghost+${ana.id}@`)).map((g) => g.name)).toEqual([
      'RAI support (Ana Lima)',
      'RAI support (Ana Lima)',
    ])

    // Given: a new tenant on `second`. When: a dry run. Then: counted, nothing written.
    await onFixture(second, (fdb) => fdb('tenants').insert({id: 3, name: 'Newcomer', status: 'active'}))
    const usersNow = await userCount(second)
    const dry = await runGhostUserSync(ctx, {...RUN, dryRun: true})
    expect(dry).toMatchObject({dryRun: true, changed: true, totals: {inserted: 2, updated: 0, pruned: 0}})
    expect(dry.rds.map((r) => r.counts.inserted)).toEqual([0, 2])
    expect(await userCount(second)).toBe(usersNow)
    expect(await db('sync_runs').where({kind: 'ghost-users'})).toHaveLength(9)

    // --rds main: nothing to do there; --operator bo: only his ghost on the new tenant.
    expect((await runGhostUserSync(ctx, {...RUN, refs: ['main']})).totals.inserted).toBe(0)
    const onlyBo = await runGhostUserSync(ctx, {...RUN, operators: [bo.email]})
    expect(onlyBo.totals.inserted).toBe(1)
    expect((await ghostsOf(second)).filter((g) => g.tenant_id === 3).map((g) => g.email)).toEqual([`ghost+${bo.id}@${DOMAIN}`])
    expect((await runGhostUserSync(ctx, RUN)).totals.inserted).toBe(1)

    // When: Bo is disabled. Then: a run without --prune leaves his ghosts; --prune suspends them (kept), once.
    await editOperator(ctx, {ref: bo.email, changes: {isActive: false}})
    const kept = await runGhostUserSync(ctx, RUN)
    expect(kept.totals).toMatchObject({inserted: 0, updated: 0, pruned: 0})
    const pruned = await runGhostUserSync(ctx, {...RUN, prune: true})
    expect(pruned.totals).toMatchObject({inserted: 0, updated: 0, pruned: 6})
    const boGhosts = [...(await ghostsOf(main)), ...(await ghostsOf(second))].filter((g) => g.email.startsWith(`ghost+${bo.id}@`))
    expect(boGhosts.map((g) => g.status)).toEqual(Array(6).fill('suspended'))
    expect((await runGhostUserSync(ctx, {...RUN, prune: true})).totals.pruned).toBe(0)
    // The fixture's own ghosts (another domain) are never touched.
    expect(await onFixture(second, (fdb) => countOf(fdb('users').where('email', 'like', '%@ghost.example.com').whereNot('status', 'active')))).toBe(0)
    // Bo enabled again: his ghosts are active again.
    await editOperator(ctx, {ref: bo.email, changes: {isActive: true}})
    expect((await runGhostUserSync(ctx, RUN)).totals.updated).toBe(6)

    // Bo's role loses tenant.impersonate: --operator bo --prune suspends only his ghosts, and says he may not impersonate.
    await editOperator(ctx, {ref: bo.email, changes: {role: 'read_only'}})
    const demoted = await runGhostUserSync(ctx, {...RUN, operators: [bo.email], prune: true})
    expect(demoted.notEligible).toEqual([{id: bo.id, email: bo.email}])
    expect(demoted.operators).toEqual([])
    expect(demoted.totals).toMatchObject({inserted: 0, updated: 0, pruned: 6})
    const all = [...(await ghostsOf(main)), ...(await ghostsOf(second))]
    expect(all.filter((g) => g.status === 'active').map((g) => g.email)).toEqual(Array(6).fill(`ghost+${ana.id}@${DOMAIN}`))

    // The tenant sync's user counts do not count ghosts.
    await runTenantSync(ctx, {...TENANTS, force: true})
    expect((await cachedTenants(db)).map((t) => t.users)).toEqual([...countsBefore, 0])
  })

  it('a run after a complete one reads only the counts; a ghost deleted or a tenant added on the RDS is seen; an edited name is found by --full and after a day', async () => {
    // Given: two operators who may impersonate, two RDS, a first run that made every ghost.
    const {db} = await control('sqlite')
    const ctx = context(db)
    const {ana, bo} = await operators(ctx)
    const [main, second] = await Promise.all([fixture({engine, master: true, tenants: 3, usersPerTenant: 1}), fixture({engine, tenants: 2, usersPerTenant: 1})])
    await registerMaster(ctx, main, 'main')
    await register(ctx, second, 'second')
    expect((await runGhostUserSync(ctx, RUN)).rds.map((r) => [r.name, r.check, r.counts.inserted])).toEqual([
      ['main', 'rows', 6],
      ['second', 'rows', 4],
    ])
    // What is kept per RDS: its tenants (count, highest id, sum of ids) and the ghost emails' counts (every operator's, Cy's none).
    const marks = (await db('sync_state').where('name', 'like', 'ghost-users.%').orderBy('name')).map((m) => JSON.parse(String(m.value)))
    expect(marks.map((m) => [m.tenants, m.maxTenantId, m.tenantIdSum, m.ghosts])).toEqual([
      [3, 3, 6, {[`ghost+${ana.id}@${DOMAIN}`]: 3, [`ghost+${bo.id}@${DOMAIN}`]: 3}],
      [2, 2, 3, {[`ghost+${ana.id}@${DOMAIN}`]: 2, [`ghost+${bo.id}@${DOMAIN}`]: 2}],
    ])

    // When: nothing changed. Then: both RDS answered by their counts, nothing written, all unchanged.
    const quiet = await runGhostUserSync(ctx, RUN)
    expect(quiet).toMatchObject({status: 'ok', changed: false, totals: {inserted: 0, updated: 0, pruned: 0, unchanged: 10}})
    expect(quiet.rds.map((r) => r.check)).toEqual(['counts', 'counts'])

    // When: one of Bo's ghosts is deleted on `second`, by hand. Then: `second` is checked row by row and the ghost made again; `main` is not.
    await onFixture(second, (fdb) =>
      fdb('users')
        .where({tenant_id: 2, email: `ghost+${bo.id}@${DOMAIN}`})
        .delete(),
    )
    const healed = await runGhostUserSync(ctx, RUN)
    expect(healed.rds.map((r) => [r.name, r.check, r.counts.inserted])).toEqual([
      ['main', 'counts', 0],
      ['second', 'rows', 1],
    ])
    expect((await ghostsOf(second)).filter((g) => g.tenant_id === 2).map((g) => g.email)).toEqual([`ghost+${ana.id}@${DOMAIN}`, `ghost+${bo.id}@${DOMAIN}`])

    // When: a tenant is deleted and another created on `main` (same count). Then: the new tenant gets its ghosts.
    await onFixture(main, async (fdb) => {
      await fdb('users').where({tenant_id: 3}).delete()
      await fdb('tenants').where({id: 3}).delete()
      await fdb('tenants').insert({id: 4, name: 'Replacement', status: 'active'})
    })
    const replaced = await runGhostUserSync(ctx, RUN)
    expect(replaced.rds.map((r) => [r.name, r.check, r.counts.inserted])).toEqual([
      ['main', 'rows', 2],
      ['second', 'counts', 0],
    ])

    // When: a ghost's name and status are edited on the RDS itself (the counts do not change). Then: a plain run does not see it;
    // --full does, on every RDS; so does a plain run a day after the last full check.
    const edit = (target: RaiFixture, tenantId: number) =>
      onFixture(target, (fdb) =>
        fdb('users')
          .where({tenant_id: tenantId, email: `ghost+${ana.id}@${DOMAIN}`})
          .update({name: 'Someone', status: 'suspended'}),
      )
    await edit(second, 1)
    const blind = await runGhostUserSync(ctx, RUN)
    expect(blind.totals).toMatchObject({inserted: 0, updated: 0})
    expect(blind.rds.map((r) => r.check)).toEqual(['counts', 'counts'])
    const full = await runGhostUserSync(ctx, {...RUN, full: true})
    expect(full.rds.map((r) => [r.name, r.check, r.counts.updated])).toEqual([
      ['main', 'rows', 0],
      ['second', 'rows', 1],
    ])
    expect((await ghostsOf(second)).filter((g) => g.tenant_id === 1).map((g) => [g.name, g.status])).toEqual([
      ['RAI support (Ana Support)', 'active'],
      ['RAI support (Bo Admin)', 'active'],
    ])
    await edit(main, 1)
    expect((await runGhostUserSync(ctx, RUN)).rds.map((r) => r.check)).toEqual(['counts', 'counts'])
    const tomorrow = {...ctx, now: () => new Date(Date.now() + 25 * 3_600_000)}
    const nextDay = await runGhostUserSync(tomorrow, RUN)
    expect(nextDay.rds.map((r) => [r.name, r.check, r.counts.updated])).toEqual([
      ['main', 'rows', 1],
      ['second', 'rows', 0],
    ])
    // A dry run with --full writes no mark: the next plain run still reads the counts.
    await runGhostUserSync(tomorrow, {...RUN, full: true, dryRun: true})
    expect((await runGhostUserSync(tomorrow, RUN)).rds.map((r) => r.check)).toEqual(['counts', 'counts'])
  })

  it('the counts see a tenant replaced below the highest id and a ghost email of another case as the server compares it; a lost mark or run row costs a row check, never a wrong answer', async () => {
    const {db} = await control('sqlite')
    const ctx = context(db)
    const {ana} = await operators(ctx)
    const main = await fixture({engine, master: true, tenants: 3, usersPerTenant: 1})
    await registerMaster(ctx, main, 'main')
    const ghostOfAna = `ghost+${ana.id}@${DOMAIN}`
    const anaGhostTenants = async () => (await ghostsOf(main)).filter((g) => g.email === ghostOfAna).map((g) => g.tenant_id)
    // Tenant 2 goes (with its users): ids 1 and 3 remain.
    await onFixture(main, async (fdb) => {
      await fdb('users').where({tenant_id: 2}).delete()
      await fdb('tenants').where({id: 2}).delete()
    })
    await runGhostUserSync(ctx, RUN)
    // Tenant 1 is deleted leaving its users (its ghosts too), and a tenant 2 is created: the same count, the same highest id,
    // the same ghost counts; only the sum of ids differs. Then: checked row by row, the new tenant gets its ghosts.
    await onFixture(main, async (fdb) => {
      await fdb('tenants').where({id: 1}).delete()
      await fdb('tenants').insert({id: 2, name: 'In its place', status: 'active'})
    })
    const replaced = await runGhostUserSync(ctx, RUN)
    expect(replaced.rds.map((r) => [r.check, r.counts.inserted])).toEqual([['rows', 2]])
    expect(await anaGhostTenants()).toEqual([1, 2, 3])

    // Ana's ghost on tenant 3 gets an upper-case email. MariaDB compares emails without case: it is still her ghost, for the
    // counts as for the writes and impersonation. PostgreSQL and SQLite compare exactly: the counts change, and she gets one again.
    await onFixture(main, (fdb) => fdb('users').where({tenant_id: 3, email: ghostOfAna}).update({email: ghostOfAna.toUpperCase()}))
    const cased = await runGhostUserSync(ctx, RUN)
    expect(cased.rds.map((r) => [r.check, r.counts.inserted])).toEqual(engine === 'mysql' ? [['counts', 0]] : [['rows', 1]])

    // The control database refuses the mark after a rename was written: the RDS's result stands (ok, changed, audited), and
    // its old mark is gone, so after the rename is undone the next run checks every row and renames the ghosts back.
    const audited = async () => Number((await db('audit_logs').where({action: 'sync.ghost-users'}).count({n: '*'}))[0].n)
    await db.raw(
      "CREATE TRIGGER no_ghost_marks BEFORE INSERT ON sync_state WHEN NEW.name LIKE 'ghost-users.%' BEGIN SELECT RAISE(ABORT, 'sync_state refused'); END",
    )
    await editOperator(ctx, {ref: ana.email, changes: {name: 'Ana Two'}})
    const before = await audited()
    const renamed = await runGhostUserSync(ctx, RUN)
    expect(renamed).toMatchObject({status: 'ok', changed: true})
    expect(renamed.totals.updated).toBeGreaterThan(0)
    expect(await audited()).toBe(before + 1)
    expect(await db('sync_state').where('name', 'like', 'ghost-users.%')).toEqual([])
    await db.raw('DROP TRIGGER no_ghost_marks')
    await editOperator(ctx, {ref: ana.email, changes: {name: 'Ana Support'}})
    const back = await runGhostUserSync(ctx, RUN)
    expect(back.rds.map((r) => r.check)).toEqual(['rows'])
    expect(new Set((await ghostsOf(main)).filter((g) => g.email === ghostOfAna).map((g) => g.name))).toEqual(new Set(['RAI support (Ana Support)']))

    // The control database refuses the run's row: nothing is written on the RDS, which is reported failed.
    await db.raw(
      "CREATE TRIGGER no_ghost_runs BEFORE INSERT ON sync_runs WHEN NEW.kind = 'ghost-users' AND NEW.rds_instance_id IS NOT NULL BEGIN SELECT RAISE(ABORT, 'sync_runs refused'); END",
    )
    await onFixture(main, (fdb) => fdb('tenants').insert({id: 9, name: 'Newest', status: 'active'}))
    const usersBefore = await userCount(main)
    const refused = await runGhostUserSync(ctx, RUN)
    expect(refused.rds.map((r) => [r.status, r.counts.inserted])).toEqual([['failed', 0]])
    expect(refused.rds[0].error).toMatch(/sync_runs refused/)
    expect(await userCount(main)).toBe(usersBefore)
    await db.raw('DROP TRIGGER no_ghost_runs')
    // Once the run's row can be written: the new tenant gets Ana's and Bo's ghosts.
    expect((await runGhostUserSync(ctx, RUN)).totals.inserted).toBe(2)
  })
})

describe('sync:ghost-users faults', () => {
  it('a server without is_ghost and a refused one are reported (partial), nothing written there; the others done; a held lease is busy', async () => {
    const {db} = await control('sqlite')
    const ctx = context(db, {connectTimeoutMs: 2000})
    await operators(ctx)
    const [good, noColumn, down] = await Promise.all([
      fixture({engine: 'mysql', tenants: 2}),
      fixture({engine: 'mysql', tenants: 2}),
      fixture({engine: 'mysql', tenants: 2}),
    ])
    await onFixture(noColumn, (fdb) => fdb.schema.alterTable('users', (t) => t.dropColumn('is_ghost')))
    const proxy = await proxyTo(down, 'refuse')
    await register(ctx, good, 'good')
    await register(ctx, noColumn, 'old-schema')
    await register(ctx, down, 'down', {via: proxy})
    const usersBefore = await userCount(noColumn)

    const report = await runGhostUserSync(ctx, RUN)
    expect(report.status).toBe('partial')
    expect(report.rds.map((r) => [r.name, r.status, r.counts.inserted])).toEqual([
      ['good', 'ok', 4],
      ['old-schema', 'failed', 0],
      ['down', 'failed', 0],
    ])
    expect(report.rds[1].error).toMatch(/users table has no is_ghost column/)
    expect(report.rds[2].error).toMatch(/refused/i)
    expect(await userCount(noColumn)).toBe(usersBefore)
    expect(await ghostsOf(down)).toEqual([])
    const summary = await db('sync_runs').where({kind: 'ghost-users'}).whereNull('rds_instance_id').first('status')
    expect(summary?.status).toBe('partial')

    const lease = await acquireLease(db, 'sync:ghost-users')
    try {
      await expect(runGhostUserSync(ctx, RUN)).rejects.toMatchObject({exitCode: 6})
    } finally {
      await lease.release()
    }
  })
})

describe('sync:ghost-users, sync:all --with-ghosts and tenant:impersonate at the command line', () => {
  it('reports per RDS, exits 3 for a server without is_ghost, says when nothing changed; the link names the ghost user when it exists, else warns', async () => {
    const home = createTestDir('raiops-ghosts-')
    const [main, old] = await Promise.all([fixture({engine: 'sqlite', master: true, tenants: 2}), fixture({engine: 'sqlite', tenants: 1})])
    try {
      await onFixture(old, (fdb) => fdb.schema.alterTable('users', (t) => t.dropColumn('is_ghost')))
      const session = await initialisedHome({
        home: join(home.path, 'raiops'),
        password: 'ghosts-admin-password-1',
        env: {RAIOPS_TOKEN: ''},
        runner: 'in-process',
      })
      const cli = (args: string[]) => session.run(args)
      for (const args of [
        ['rds:add', '--name', 'main', '--engine', 'sqlite', '--file', main.database, '--app-url', 'https://eu.rai.example', '--master', '--no-test'],
        ['rds:add', '--name', 'old', '--engine', 'sqlite', '--file', old.database, '--no-test'],
        ['sync:tenants', '--rds', 'main'],
      ]) {
        const result = await cli(args)
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
      }
      const REASON = ['--reason', 'customer cannot see the March invoices']

      // No ghost yet: the link is issued without the claim, and a warning (also in --json) says how to create it.
      const before = await cli(['tenant:impersonate', 'main:1', ...REASON, '--json'])
      expect(before.code, before.stderr).toBe(0)
      const link = JSON.parse(before.stdout) as {token: string; ghostUser: {userId: number | null; missing: string}; warnings: string[]}
      expect(link.ghostUser).toMatchObject({userId: null, missing: 'not-found'})
      expect(decodeJwt(link.token).ghost_user_id).toBeUndefined()
      expect(link.warnings.filter((w) => w.includes('ghost'))).toEqual([
        'you have no ghost user on tenant "Maple Fitness 1" (#1): the link carries none; create it with `raiops sync:ghost-users --rds main`',
      ])
      expect(before.stderr).toContain('Warning: you have no ghost user on tenant')

      // A dry run counts, writes nothing.
      const dry = await cli(['sync:ghost-users', '--rds', 'main', '--dry-run', '--json'])
      expect(dry.code, dry.stderr).toBe(0)
      expect(JSON.parse(dry.stdout)).toMatchObject({dryRun: true, changed: true, totals: {inserted: 2}})
      expect(await ghostsOf(main, 'raiops.invalid')).toEqual([])

      // Every active RDS: main done, old reported with its reason, exit 3.
      const run = await cli(['sync:ghost-users'])
      expect(run.code, run.stderr).toBe(3)
      expect(run.stdout).toMatch(/main .* ok .* 2 /)
      expect(run.stdout).toMatch(/failed: old: its users table has no is_ghost column/)
      const ghosts = await ghostsOf(main, 'raiops.invalid')
      expect(ghosts.map((g) => [g.tenant_id, g.email])).toEqual([
        [1, 'ghost+1@raiops.invalid'],
        [2, 'ghost+1@raiops.invalid'],
      ])
      const again = await cli(['sync:ghost-users', '--rds', 'main'])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain('nothing changed: every tenant already has its ghosts')
      // With old still failing, its tenants are not said to have their ghosts.
      const stillFailing = await cli(['sync:ghost-users'])
      expect(stillFailing.code, stillFailing.stderr).toBe(3)
      expect(stillFailing.stdout).toContain('nothing changed: every tenant of the RDS done already has its ghosts')
      expect(stillFailing.stdout).not.toContain('every tenant already has its ghosts')

      // The ghost exists: the link carries its id, no warning.
      const after = await cli(['tenant:impersonate', 'main:2', ...REASON, '--json'])
      expect(after.code, after.stderr).toBe(0)
      const withGhost = JSON.parse(after.stdout) as {token: string; warnings?: string[]}
      const id = await onFixture(main, async (fdb) =>
        Number((await fdb('users').where({tenant_id: 2, email: 'ghost+1@raiops.invalid', is_ghost: true}).first('id')).id),
      )
      expect(decodeJwt(withGhost.token).ghost_user_id).toBe(id)
      expect(withGhost.warnings).toBeUndefined()
      expect(after.stderr).toBe('')

      // sync:all --with-ghosts: a new tenant upstream gets its ghost after tenants and routing.
      await onFixture(main, (fdb) => fdb('tenants').insert({id: 3, name: 'Newcomer', status: 'active'}))
      expect((await cli(['rds:edit', 'old', '--no-active', '--no-test'])).code).toBe(0)
      const all = await cli(['sync:all', '--with-ghosts', '--force', '--json'])
      expect(all.code, all.stderr).toBe(0)
      const report = JSON.parse(all.stdout) as {status: string; ghosts: {status: string; totals: {inserted: number; unchanged: number}}}
      expect(report.status).toBe('ok')
      expect(report.ghosts).toMatchObject({status: 'ok', totals: {inserted: 1, unchanged: 2}})
      expect((await ghostsOf(main, 'raiops.invalid')).map((g) => g.tenant_id)).toEqual([1, 2, 3])
      session.expectNoSecretInTranscript(...(await onFixture(main, (fdb) => fdb('users').where({is_ghost: true}).pluck('password'))))
    } finally {
      home.drop()
    }
  })
})
