import {spawn} from 'node:child_process'
import {createRequire} from 'node:module'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {verifyAuditChain} from '../../src/lib/audit/verify.js'
import {appendAudit, appendAudits} from '../../src/lib/audit/writer.js'
import {BUILTIN_ROLES} from '../../src/lib/auth/permissions.js'
import {seedRoles} from '../../src/lib/auth/seed.js'
import {checkKeyring} from '../../src/lib/crypto/key-check.js'
import {parseKeyring} from '../../src/lib/crypto/keyring.js'
import {decryptSecret} from '../../src/lib/crypto/secret-box.js'
import {migrateDownAll, migrateLatest, migrationStatus, openControlDb} from '../../src/lib/db/control-db.js'
import {BusyError} from '../../src/lib/errors/index.js'
import {registerActiveKey} from '../../src/lib/keys/register.js'
import {rotateKeys} from '../../src/lib/keys/rotate.js'
import {acquireLease, leaseName} from '../../src/lib/lease/lease.js'
import {removeRds} from '../../src/lib/rds/remove.js'
import {addRds, editRds, listRds, setRdsState, showRds} from '../../src/lib/rds/service.js'
import {makeContext, randomKeyring, TEST_AUDIT} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const EXPECTED_TABLES = [
  'rds_instances',
  'health_checks',
  'tenant_master',
  'user_email_routing_cache',
  'sync_runs',
  'webhook_events',
  'auth_sessions',
  'sync_state',
  'locks',
  'operators',
  'api_tokens',
  'raiops_permissions',
  'raiops_role_permissions',
  'raiops_roles',
  'subscription_plans',
  'tenant_billing',
  'billing_events',
  'payments',
  'audit_logs',
  'impersonations',
]

const sqliteRds = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  engine: 'sqlite' as const,
  raiDatabase: `/tmp/${name}.sqlite`,
  ...extra,
})
const mysqlRds = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  engine: 'mysql' as const,
  host: '127.0.0.1',
  port: 3306,
  username: 'root',
  raiDatabase: 'rai',
  ...extra,
})

describe.each(CONTROL_ENGINES)('control database on %s', (engine) => {
  let control: TestControlDb

  beforeAll(async () => {
    control = await createControlDb(engine, {migrate: false})
  })
  afterAll(async () => {
    await control?.drop()
  })

  it('migrates up, down and up again', async () => {
    expect((await migrationStatus(control.db)).pending.length).toBeGreaterThan(0)
    await migrateLatest(control.db)
    for (const table of EXPECTED_TABLES) expect(await control.db.schema.hasTable(table), table).toBe(true)
    expect(await control.db.schema.hasColumn('impersonations', 'ticket')).toBe(true)
    expect(await migrationStatus(control.db)).toMatchObject({pending: []})
    await migrateDownAll(control.db)
    for (const table of EXPECTED_TABLES) expect(await control.db.schema.hasTable(table), table).toBe(false)
    await migrateLatest(control.db)
    expect(await control.db.schema.hasTable('rds_instances')).toBe(true)
  })

  it('seeds the built-in roles once, keeping later revocations', async () => {
    const first = await control.db.transaction((tx) => seedRoles(tx, new Date()))
    expect(first.rolesCreated.sort()).toEqual(Object.keys(BUILTIN_ROLES).sort())
    const supportGrants = (await control.db('raiops_role_permissions').where({role: 'support_admin'}).pluck('permission')) as string[]
    expect(supportGrants.sort()).toEqual([...BUILTIN_ROLES.support_admin.permissions].sort())
    const readOnly = (await control.db('raiops_role_permissions').where({role: 'read_only'}).pluck('permission')) as string[]
    expect(readOnly.every((p) => p.endsWith('.view'))).toBe(true)
    expect(readOnly).toContain('rds.view')
    expect(readOnly).not.toContain('pii.view')
    await control.db('raiops_role_permissions').where({role: 'support_admin', permission: 'tenant.edit'}).delete()
    const second = await control.db.transaction((tx) => seedRoles(tx, new Date()))
    expect(second).toEqual({permissionsCreated: [], rolesCreated: [], grantsCreated: 0})
    expect(await control.db('raiops_role_permissions').where({role: 'support_admin', permission: 'tenant.edit'}).first()).toBeUndefined()
  })

  it('adds, edits, changes state and removes RDS rows, each with an audit row in a valid chain', async () => {
    const keyring = randomKeyring('k1')
    const ctx = makeContext(control.db, {keyring})
    try {
      const added = await addRds(ctx, {
        ...mysqlRds('main', {password: 'pw-for-main-1', master: true, appUrl: 'https://app.example.com'}),
        test: false,
      })
      expect(added.rds).toMatchObject({
        name: 'main',
        engine: 'mysql',
        host: '127.0.0.1',
        port: 3306,
        passwordSet: true,
        isMaster: true,
        isActive: true,
        state: 'online',
      })
      expect(added.rds.health.status).toBe('unknown')
      await addRds(ctx, {...sqliteRds('local'), test: false})

      const row = (await control.db('rds_instances').where({name: 'main'}).first())!
      expect(row.password_enc).not.toContain('pw-for-main-1')
      expect(decryptSecret(keyring, row.password_enc!, {table: 'rds_instances', column: 'password_enc', rowId: row.id})).toBe('pw-for-main-1')

      await expect(addRds(ctx, {...mysqlRds('main'), test: false})).rejects.toThrow('an RDS named "main" already exists')
      await expect(addRds(ctx, {...mysqlRds('second', {master: true}), test: false})).rejects.toThrow('"main" (id 1) is already the master RDS')

      const edited = await editRds(ctx, {ref: 'main', changes: {port: 3307, password: 'pw-for-main-2'}, test: false})
      expect(edited.changed).toEqual(['port', 'password'])
      expect((await showRds(ctx, {ref: String(added.rds.id)})).port).toBe(3307)
      const unchanged = await editRds(ctx, {ref: 'main', changes: {port: 3307}, test: false})
      expect(unchanged.changed).toEqual([])

      expect((await setRdsState(ctx, {ref: 'local', state: 'draining'})).changed).toBe(true)
      expect((await setRdsState(ctx, {ref: 'local', state: 'draining'})).changed).toBe(false)

      await removeRds(ctx, {ref: 'local'})
      expect((await listRds(ctx)).map((r) => r.name)).toEqual(['main'])

      const actions = (await control.db('audit_logs').orderBy('seq').pluck('action')) as string[]
      expect(actions).toEqual(['keys.register', 'rds.add', 'rds.add', 'rds.edit', 'rds.drain', 'rds.remove'])
      const allAudit = JSON.stringify(await control.db('audit_logs').select())
      expect(allAudit).not.toContain('pw-for-main')
      const edit = (await control.db('audit_logs').where({action: 'rds.edit'}).first())!
      expect(JSON.parse(edit.old_values!)).toEqual({port: 3306, password: '[redacted]'})
      // Both sides redacted, the new one saying that the password changed.
      expect(JSON.parse(edit.new_values!)).toEqual({port: 3307, password: '[redacted: changed]'})
      expect(await verifyAuditChain({db: control.db})).toMatchObject({ok: true, entries: 6, headSeq: 6})
    } finally {
      await ctx.close()
    }
  })

  it('refuses to remove an RDS that tenants reference unless forced', async () => {
    const ctx = makeContext(control.db)
    try {
      const {rds} = await addRds(ctx, {...sqliteRds('with-tenants'), test: false})
      const now = new Date()
      await control.db('tenant_master').insert([
        {rds_instance_id: rds.id, remote_tenant_id: 1, name: 'A', created_at: now, updated_at: now},
        {rds_instance_id: rds.id, remote_tenant_id: 2, name: 'B', created_at: now, updated_at: now},
      ])
      await expect(removeRds(ctx, {ref: 'with-tenants'})).rejects.toThrow('RDS "with-tenants" still has 2 tenant(s) in tenant_master')
      expect(await control.db('rds_instances').where({id: rds.id}).first()).toBeDefined()
      const removed = await removeRds(ctx, {ref: 'with-tenants', force: true})
      expect(removed.tenantsRemoved).toBe(2)
      expect(Number((await control.db('tenant_master').where({rds_instance_id: rds.id}).count({n: '*'}))[0].n)).toBe(0)
    } finally {
      await ctx.close()
    }
  })

  it('waits for no routing sync: while one holds its lease, removing an RDS exits busy (6) and removes nothing', async () => {
    const ctx = makeContext(control.db)
    const lease = await acquireLease(control.db, leaseName('routing'), {ttlMs: 60_000, heartbeatMs: 0})
    try {
      const {rds} = await addRds(ctx, {...sqliteRds('during-sync'), test: false})
      const refused = await removeRds(ctx, {ref: 'during-sync', force: true}).catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(BusyError)
      expect((refused as BusyError).exitCode).toBe(6)
      expect((refused as BusyError).message).toMatch(/RDS "during-sync" cannot be removed while the routing sync runs/)
      expect(await control.db('rds_instances').where({id: rds.id}).first()).toBeDefined()
      await lease.release()
      expect((await removeRds(ctx, {ref: 'during-sync'})).removed.name).toBe('during-sync')
      // Removing released the lease it took: a sync can run again.
      await (await acquireLease(control.db, leaseName('routing'), {ttlMs: 60_000, heartbeatMs: 0})).release()
    } finally {
      await lease.release()
      await ctx.close()
    }
  })

  it('detects a wrong key and rotates every secret to the active key in one transaction', async () => {
    const old = parseKeyring(`old:${Buffer.alloc(32, 1).toString('base64')}`, 'test')
    const ctx = makeContext(control.db, {keyring: old})
    await control.db('raiops_keys').delete()
    await control.db('rds_instances').update({password_enc: null})
    await addRds(ctx, {...mysqlRds('rot-a', {password: 'rot-pass-a'}), test: false})
    await addRds(ctx, {...mysqlRds('rot-b', {password: 'rot-pass-b'}), test: false})
    await ctx.close()

    const wrong = parseKeyring(`old:${Buffer.alloc(32, 2).toString('base64')}`, 'RAIOPS_MASTER_KEY')
    await expect(checkKeyring(control.db, wrong)).rejects.toThrow('wrong master key: key "old" from RAIOPS_MASTER_KEY')
    const unrelated = parseKeyring(`other:${Buffer.alloc(32, 3).toString('base64')}`, 'RAIOPS_MASTER_KEY')
    await expect(checkKeyring(control.db, unrelated)).rejects.toThrow(/holds "other", but this registry was encrypted with "old"/)

    const rotated = parseKeyring(`new:${Buffer.alloc(32, 4).toString('base64')},old:${Buffer.alloc(32, 1).toString('base64')}`, 'test')
    await checkKeyring(control.db, rotated)
    const rotateCtx = makeContext(control.db, {keyring: rotated})
    const before = (await control.db('audit_logs').count({n: '*'}))[0].n
    const result = await rotateKeys(rotateCtx)
    expect(result.activeKid).toBe('new')
    expect(result.fromKids.old).toBeGreaterThanOrEqual(2)
    const again = await rotateKeys(rotateCtx)
    expect(again.reencrypted).toBe(0)
    expect(Number((await control.db('audit_logs').count({n: '*'}))[0].n)).toBe(Number(before) + 2)
    expect((await control.db('audit_logs').orderBy('seq', 'desc').limit(2).pluck('action')).sort()).toEqual(['keys.register', 'keys.rotate'])
    await rotateCtx.close()

    const onlyNew = parseKeyring(`new:${Buffer.alloc(32, 4).toString('base64')}`, 'test')
    const rows = await control.db('rds_instances').whereNotNull('password_enc')
    for (const row of rows) {
      expect(row.password_enc!.startsWith('v1.new.')).toBe(true)
      decryptSecret(onlyNew, row.password_enc!, {table: 'rds_instances', column: 'password_enc', rowId: row.id})
    }
    expect(await registerActiveKey(control.db, onlyNew, TEST_AUDIT, new Date())).toBe(false)
    expect(await verifyAuditChain({db: control.db})).toMatchObject({ok: true})
  })

  it('serialises 50 concurrent audit writers into one linear chain', async () => {
    // On the servers, five independent pools (as five raiops processes would be), ten writers each;
    // SQLite's single connection takes them one after another.
    const extraPools = engine === 'sqlite' ? 0 : 4
    const pools = [control.db, ...(await Promise.all(Array.from({length: extraPools}, () => openControlDb(control.target))))]
    const before = Number(((await control.db('audit_logs').count({n: '*'})) as Array<{n: number | string}>)[0].n)
    try {
      await Promise.all(
        Array.from({length: 50}, (_, i) =>
          pools[i % pools.length].transaction((tx) =>
            appendAudit(tx, TEST_AUDIT, {action: 'test.concurrent', targetType: 'test', targetId: i, newValues: {i}}, new Date()),
          ),
        ),
      )
    } finally {
      await Promise.all(pools.slice(1).map((pool) => pool.destroy()))
    }
    const verification = await verifyAuditChain({db: control.db})
    expect(verification.ok).toBe(true)
    expect(verification.entries).toBe(before + 50)
    const prevHashes = (await control.db('audit_logs').pluck('prev_hash')) as string[]
    expect(new Set(prevHashes).size).toBe(prevHashes.length)
  })

  it('appends batches of entries (one of 60, past one INSERT) among single writers: one linear chain, ids in order, nothing secret', async () => {
    const pools = [control.db, ...(engine === 'sqlite' ? [] : [await openControlDb(control.target)])]
    const before = Number(((await control.db('audit_logs').count({n: '*'})) as Array<{n: number | string}>)[0].n)
    const batch = (n: number, tag: string) =>
      Array.from({length: n}, (_, i) => ({action: 'test.batch', targetType: 'test', targetId: `${tag}-${i}`, newValues: {i, password: 'batch-secret-1'}}))
    let appended: Array<{id: number; seq: number; hash: string}> = []
    try {
      const results = await Promise.all([
        pools[0].transaction((tx) => appendAudits(tx, TEST_AUDIT, batch(60, 'big'), new Date())),
        ...Array.from({length: 6}, (_, i) => pools[i % pools.length].transaction((tx) => appendAudits(tx, TEST_AUDIT, batch(i % 3, `small${i}`), new Date()))),
        pools[pools.length - 1].transaction((tx) => appendAudit(tx, TEST_AUDIT, {action: 'test.single', targetType: 'test', targetId: 'one'}, new Date())),
      ])
      appended = results[0] as typeof appended
    } finally {
      await Promise.all(pools.slice(1).map((pool) => pool.destroy()))
    }
    const verification = await verifyAuditChain({db: control.db})
    expect(verification).toMatchObject({ok: true, entries: before + 60 + (0 + 1 + 2 + 0 + 1 + 2) + 1})
    // The big batch: consecutive sequence numbers, each id the row of its entry, in the order given.
    expect(appended.map((a) => a.seq)).toEqual(Array.from({length: 60}, (_, i) => appended[0].seq + i))
    const stored = await control.db('audit_logs').whereIn(
      'id',
      appended.map((a) => a.id),
    )
    const byId = new Map(stored.map((r) => [Number(r.id), r]))
    expect(appended.map((a) => [byId.get(a.id)?.target_id, Number(byId.get(a.id)?.seq), byId.get(a.id)?.hash])).toEqual(
      appended.map((a, i) => [`big-${i}`, a.seq, a.hash]),
    )
    expect(stored.map((r) => String(r.new_values)).join()).not.toContain('batch-secret-1')
    expect(await appendAudits(control.db, TEST_AUDIT, [], new Date())).toEqual([])
  })

  it('reports the first altered, removed or reordered audit entry', async () => {
    const [first] = await control.db('audit_logs').orderBy('seq').limit(1)
    await control.db('audit_logs').where({id: first.id}).update({actor: 'someone-else'})
    expect((await verifyAuditChain({db: control.db})).firstBad).toMatchObject({seq: 1, reason: 'the content does not match its hash'})
    await control.db('audit_logs').where({id: first.id}).update({actor: first.actor})
    expect((await verifyAuditChain({db: control.db})).ok).toBe(true)
    const [third] = await control.db('audit_logs').where({seq: 3})
    await control.db('audit_logs').where({id: third.id}).delete()
    expect((await verifyAuditChain({db: control.db})).firstBad).toMatchObject({seq: 4, reason: 'entry 3 is missing'})
  })
})

describe('control database on sqlite, written by several processes', () => {
  /** Another raiops process writing a row, waiting its turn for the lock as raiops does (busy timeout). */
  function writeFromAnotherProcess(file: string, name: string): Promise<{code: number | null; stderr: string}> {
    const script = `const Database = require(process.env.DRIVER); const db = new Database(process.env.FILE); db.pragma('busy_timeout = 10000'); db.prepare('insert into sync_state (name, value, updated_at) values (?, ?, ?)').run(process.env.NAME, 'x', Date.now())`
    const child = spawn(process.execPath, ['-e', script], {
      env: {...process.env, DRIVER: createRequire(import.meta.url).resolve('better-sqlite3'), FILE: file, NAME: name},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    return new Promise((resolve) => child.on('close', (code) => resolve({code, stderr})))
  }

  it('a transaction that reads before it writes waits for a write of another process instead of failing with "database is locked"', async () => {
    const control = await createControlDb('sqlite')
    try {
      let other: Promise<{code: number | null; stderr: string}> | undefined
      await control.db.transaction(async (tx) => {
        await tx('sync_state').select('name')
        // The other process writes now: it commits at once unless this transaction already holds the lock.
        other = writeFromAnotherProcess(control.target.sqliteFile as string, 'theirs')
        await Promise.race([other, new Promise((resolve) => setTimeout(resolve, 2000))])
        await tx('sync_state').insert({name: 'ours', value: 'x', updated_at: new Date()})
      })
      expect(await other).toEqual({code: 0, stderr: ''})
      expect(await control.db('sync_state').orderBy('name').pluck('name')).toEqual(['ours', 'theirs'])
    } finally {
      await control.drop()
    }
  })
})
