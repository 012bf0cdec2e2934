import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {resolveIdentity} from '../../src/lib/auth/identity.js'
import {hashPassword} from '../../src/lib/auth/passwords.js'
import {BUILTIN_ROLES} from '../../src/lib/auth/permissions.js'
import type {Principal} from '../../src/lib/auth/principal.js'
import {seedRoles} from '../../src/lib/auth/seed.js'
import {hashToken} from '../../src/lib/auth/token-hash.js'
import {insertReturningId} from '../../src/lib/db/control-db.js'
import {NotPermittedError} from '../../src/lib/errors/index.js'
import {editOperator, setOperatorPassword} from '../../src/lib/operator/service.js'
import {changeGrants, createRole} from '../../src/lib/role/roles.js'
import {Runtime} from '../../src/lib/runtime.js'
import {createToken, revokeToken} from '../../src/lib/token/tokens.js'
import {changeContext, makeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'
import {createTestDir} from '../support/servers.js'

/** The narrow custom role of the issue: it may manage operators, and holds nothing else. */
const NARROW = 'operator_manager'
/** Another role holding exactly what NARROW holds: a peer, which NARROW may act on. */
const PEER = 'peer_manager'
const CUSTOM_ROLES: Record<string, readonly string[]> = {[NARROW]: ['operator.manage'], [PEER]: ['operator.manage'], no_access: []}

const BUILTINS = Object.keys(BUILTIN_ROLES)
const CALLERS = [...BUILTINS, NARROW]
const TARGETS = [...BUILTINS, PEER]
const permissionsOf = (role: string): readonly string[] => BUILTIN_ROLES[role]?.permissions ?? CUSTOM_ROLES[role]

/**
 * The rule, stated independently of the code under test: the caller must hold
 * operator.manage (what every one of these commands needs), and every
 * permission the target holds.
 */
const expectedAllowed = (caller: string, target: string) =>
  permissionsOf(caller).includes('operator.manage') && permissionsOf(target).every((p) => permissionsOf(caller).includes(p))

/** Everything a target is made of, fresh for each cell so that one cell's change never decides another's. */
interface Target {
  role: string
  operatorId: number
  email: string
  /** A token of the target role. */
  token: string
  /** A custom role granting what the target role grants, held by an operator and a token. */
  copy: string
}

type Command = {
  run(ctx: ReturnType<typeof makeContext>, target: Target): Promise<unknown>
  /** What the command visibly did when it was allowed, as problems found (none: it did it). */
  effect(db: Knex, target: Target, before: Snapshot): Promise<string[]>
}

interface Snapshot {
  [table: string]: Array<Record<string, unknown>>
}

/** Every row a principal change could touch, as plain JSON: equal snapshots mean nothing was written. */
async function snapshot(db: Knex): Promise<Snapshot> {
  const tables: Array<[string, string[]]> = [
    ['operators', ['id']],
    ['api_tokens', ['id']],
    ['auth_sessions', ['jti']],
    ['raiops_roles', ['name']],
    ['raiops_role_permissions', ['role', 'permission']],
    ['audit_logs', ['seq']],
    ['audit_head', ['id']],
  ]
  const result: Snapshot = {}
  for (const [table, order] of tables) result[table] = JSON.parse(JSON.stringify(await db(table).select('*').orderBy(order))) as Array<Record<string, unknown>>
  return result
}

const row = (snap: Snapshot, table: string, match: (r: Record<string, unknown>) => boolean) => snap[table].find(match)
const openSessions = async (db: Knex, operatorId: number) =>
  Number(((await db('auth_sessions').where({operator_id: operatorId}).whereNull('revoked_at').count({n: '*'})) as Array<{n: number | string}>)[0].n)
const auditedSince = async (db: Knex, before: Snapshot, action: string) =>
  ((await db('audit_logs').where('seq', '>', before.audit_logs.length).pluck('action')) as string[]).includes(action)

const COMMANDS: Record<string, Command> = {
  'operator:password': {
    run: (ctx, t) => setOperatorPassword(ctx, {ref: t.email, password: 'a-brand-new-password-1'}),
    async effect(db, t, before) {
      const after = (await db('operators').where({id: t.operatorId}).first('password_hash')) as {password_hash: string}
      return [
        ...(after.password_hash === row(before, 'operators', (r) => r.id === t.operatorId)?.password_hash ? ['password_hash unchanged'] : []),
        ...((await openSessions(db, t.operatorId)) > 0 ? ['a session still open'] : []),
        ...((await auditedSince(db, before, 'operator.password')) ? [] : ['not audited']),
      ]
    },
  },
  'operator:edit --name': {
    run: (ctx, t) => editOperator(ctx, {ref: t.email, changes: {name: 'Renamed'}}),
    effect: async (db, t) => (((await db('operators').where({id: t.operatorId}).first('name')) as {name: string}).name === 'Renamed' ? [] : ['name unchanged']),
  },
  'operator:edit --role': {
    run: (ctx, t) => editOperator(ctx, {ref: t.email, changes: {role: 'no_access'}}),
    effect: async (db, t) =>
      ((await db('operators').where({id: t.operatorId}).first('role')) as {role: string}).role === 'no_access' ? [] : ['role unchanged'],
  },
  'operator:disable': {
    run: (ctx, t) => editOperator(ctx, {ref: t.email, changes: {isActive: false}, action: 'operator.disable'}),
    async effect(db, t, before) {
      const after = (await db('operators').where({id: t.operatorId}).first('is_active')) as {is_active: unknown}
      return [
        ...(Number(after.is_active) === 0 ? [] : ['still active']),
        ...((await openSessions(db, t.operatorId)) > 0 ? ['a session still open'] : []),
        ...((await auditedSince(db, before, 'operator.disable')) ? [] : ['not audited']),
      ]
    },
  },
  'token:revoke': {
    run: (ctx, t) => revokeToken(ctx, {ref: t.token}),
    effect: async (db, t) =>
      ((await db('api_tokens').where({name: t.token}).first('revoked_at')) as {revoked_at: unknown}).revoked_at ? [] : ['token not revoked'],
  },
  'role:grant': {
    // operator.manage: a permission every caller that may run role:grant holds, so only the target decides.
    run: (ctx, t) => changeGrants(ctx, {role: t.copy, permissions: ['operator.manage'], grant: true}),
    effect: async (db, t) =>
      ((await db('raiops_role_permissions').where({role: t.copy}).pluck('permission')) as string[]).includes('operator.manage') ? [] : ['not granted'],
  },
  'role:revoke': {
    run: (ctx, t) => changeGrants(ctx, {role: t.copy, permissions: [permissionsOf(t.role)[0]], grant: false}),
    effect: async (db, t) =>
      ((await db('raiops_role_permissions').where({role: t.copy}).pluck('permission')) as string[]).includes(permissionsOf(t.role)[0]) ? ['not revoked'] : [],
  },
}

describe.each(CONTROL_ENGINES)('nobody acts on someone who holds more, on a %s control database', (engine) => {
  let control: TestControlDb
  let system: ReturnType<typeof makeContext>
  let passwordHash: string
  const callers = new Map<string, Principal>()
  let cell = 0

  /** Given an operator, a session, a token and a role copy of `role`, each new. */
  async function given(role: string): Promise<Target> {
    const db = control.db
    const n = ++cell
    const now = new Date()
    const base = {password_hash: passwordHash, is_active: true, failed_logins: 0, created_at: now, updated_at: now}
    const operatorId = await insertReturningId(db, 'operators', {...base, name: `Target ${n}`, email: `target-${n}@example.com`, role})
    await db('auth_sessions').insert({
      jti: `session-${n}`,
      operator_id: operatorId,
      host: 'localhost',
      issued_at: now,
      expires_at: new Date(now.getTime() + 3_600_000),
    })
    await db('api_tokens').insert({
      name: `target-${n}`,
      token_hash: hashToken(randomBytes(16).toString('hex')),
      operator_id: null,
      role,
      created_at: now,
      updated_at: now,
    })
    const copy = `copy_${n}`
    await db('raiops_roles').insert({name: copy, description: `what ${role} grants`, is_builtin: false, created_at: now, updated_at: now})
    await db('raiops_role_permissions').insert(permissionsOf(role).map((permission) => ({role: copy, permission, created_at: now})))
    await insertReturningId(db, 'operators', {...base, name: `Holder ${n}`, email: `holder-${n}@example.com`, role: copy})
    await db('api_tokens').insert({
      name: `holder-${n}`,
      token_hash: hashToken(randomBytes(16).toString('hex')),
      operator_id: null,
      role: copy,
      created_at: now,
      updated_at: now,
    })
    return {role, operatorId, email: `target-${n}@example.com`, token: `target-${n}`, copy}
  }

  beforeAll(async () => {
    control = await createControlDb(engine)
    system = makeContext(control.db)
    await seedRoles(control.db, new Date())
    for (const [name, permissions] of Object.entries(CUSTOM_ROLES)) await createRole(system, {name, permissions: [...permissions]})
    passwordHash = await hashPassword('the-old-password-1', 4)
    // An active system_admin besides every target, so that "the last active system_admin" never decides a cell.
    const now = new Date()
    await insertReturningId(control.db, 'operators', {
      name: 'Root',
      email: 'root@example.com',
      password_hash: passwordHash,
      role: 'system_admin',
      is_active: true,
      failed_logins: 0,
      created_at: now,
      updated_at: now,
    })
    // Each caller is a service token of its role, resolved as a command resolves RAIOPS_TOKEN.
    for (const role of CALLERS) {
      const {token} = await createToken(system, {name: `caller-${role.replaceAll('_', '-')}`, role, expiresAt: null})
      callers.set(role, await resolveIdentity(changeContext(control.db), {token, session: null, home: '/nonexistent'}))
    }
  })

  afterAll(async () => {
    await system?.close()
    await control?.drop()
  })

  it('every caller × every target × every command: allowed and done, or NotPermittedError (exit 5) with nothing written', async () => {
    const mismatches: string[] = []
    const outcomes: Record<string, Record<string, string[]>> = {}
    for (const caller of CALLERS) {
      const ctx = makeContext(control.db, {principal: callers.get(caller)})
      for (const target of TARGETS) {
        for (const [id, command] of Object.entries(COMMANDS)) {
          const t = await given(target)
          const before = await snapshot(control.db)
          const error = await command.run(ctx, t).then(
            () => null,
            (e: unknown) => e as Error,
          )
          const cellName = `${id} by ${caller} on ${target}`
          const allowed = expectedAllowed(caller, target)
          ;((outcomes[caller] ??= {})[target] ??= []).push(`${id}: ${error ? 'refused' : 'allowed'}`)
          if (allowed) {
            if (error) mismatches.push(`${cellName}: expected allowed, got ${error.constructor.name}: ${error.message}`)
            else for (const problem of await command.effect(control.db, t, before)) mismatches.push(`${cellName}: allowed, but ${problem}`)
          } else {
            if (!(error instanceof NotPermittedError))
              mismatches.push(`${cellName}: expected NotPermittedError, got ${error ? `${error.constructor.name}: ${error.message}` : 'success'}`)
            else if (error.exitCode !== 5 || error.message.includes('\n'))
              mismatches.push(`${cellName}: exit ${error.exitCode}, message ${JSON.stringify(error.message)}`)
            expect(await snapshot(control.db), `${cellName} wrote something`).toEqual(before)
          }
        }
      }
      await ctx.close()
    }
    expect(mismatches).toEqual([])
    // The cells the issue names, spelled out: the narrow role cannot touch a system_admin, but can touch its peer.
    const all = (verdict: string) => Object.keys(COMMANDS).map((id) => `${id}: ${verdict}`)
    expect(outcomes[NARROW].system_admin).toEqual(all('refused'))
    expect(outcomes[NARROW].read_only).toEqual(all('refused'))
    expect(outcomes[NARROW][PEER]).toEqual(all('allowed'))
    expect(outcomes.system_admin.system_admin).toEqual(all('allowed'))
    expect(outcomes.support_admin[PEER]).toEqual(all('refused'))
  }, 180_000)

  it('the refusal names the target and what it holds beyond the caller', async () => {
    const t = await given('support_admin')
    const ctx = makeContext(control.db, {principal: callers.get(NARROW)})
    await expect(setOperatorPassword(ctx, {ref: t.email, password: 'a-brand-new-password-1'})).rejects.toThrow(
      new RegExp(
        `^the operator ${t.email} \\(role support_admin\\) holds audit\\.view, rds\\.view, tenant\\.edit and 5 more, which you do not hold yourself: you may not change them$`,
      ),
    )
    await expect(revokeToken(ctx, {ref: t.token})).rejects.toThrow(/^the token "target-\d+" \(role support_admin\) holds .* which you do not hold yourself/)
    await expect(changeGrants(ctx, {role: t.copy, permissions: ['tenant.view'], grant: false})).rejects.toThrow(
      /^the role copy_\d+ holds .* which you do not hold yourself: you may not change it$/,
    )
    const readOnly = makeContext(control.db, {principal: callers.get('read_only')})
    await expect(editOperator(readOnly, {ref: t.email, changes: {name: 'x'}})).rejects.toThrow(
      /^token "caller-read-only" \(role read_only\) may not change operators, tokens or roles: it needs the permission operator\.manage$/,
    )
    await ctx.close()
    await readOnly.close()
  })

  it('fails closed: a command that resolved nobody cannot change a principal through its context', async () => {
    const t = await given('read_only')
    const dir = createTestDir('raiops-principal-')
    const runtime = new Runtime({
      env: {RAIOPS_HOME: join(dir.path, 'home'), RAIOPS_DATABASE_URL: control.url},
      cwd: dir.path,
      permission: null,
      commandLine: ['operator:password'],
    })
    try {
      const ctx = await runtime.context()
      const before = await snapshot(control.db)
      await expect(setOperatorPassword(ctx, {ref: t.email, password: 'a-brand-new-password-1'})).rejects.toThrow(NotPermittedError)
      await expect(revokeToken(ctx, {ref: t.token})).rejects.toThrow(/not signed in/)
      expect(await snapshot(control.db)).toEqual(before)
    } finally {
      await runtime.close()
      dir.drop()
    }
  })
})
