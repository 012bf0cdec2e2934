import Database from 'better-sqlite3'
import {decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify} from 'jose'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const REASON = 'customer cannot see the March invoices'

describe('tenant:impersonate and tenant:impersonation-key', () => {
  let home: TestDir
  let env: Record<string, string>
  let main: RaiFixture
  let other: RaiFixture
  let session: CliSession
  const tokens = new Map<string, string>()

  // In-process: what is tested is the links, rows and messages, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const as = (role: string, args: string[]) => cli(args, {env: {RAIOPS_TOKEN: tokens.get(role) as string}})
  const count = (sql: string) => queryControlDb<{n: number}>(env.RAIOPS_HOME, sql)[0].n
  const written = () => ({links: count('select count(*) as n from impersonations'), audit: count('select count(*) as n from audit_logs')})
  const expectOneLine = (result: CliResult, code: number, message: RegExp) => {
    expect(result.code, result.stderr).toBe(code)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  }

  beforeAll(async () => {
    home = createTestDir('raiops-impersonate-')
    ;[main, other] = await Promise.all([createRaiFixture({engine: 'sqlite', tenants: 4}), createRaiFixture({engine: 'sqlite', tenants: 2})])
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'impersonate-admin-password-1',
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    env = session.env
    const steps = [
      ['rds:add', '--name', 'main', '--engine', 'sqlite', '--file', main.database, '--app-url', 'https://eu.rai.example/', '--no-test'],
      ['rds:add', '--name', 'us', '--engine', 'sqlite', '--file', other.database, '--app-url', 'https://us.rai.example', '--no-test'],
      ['rds:add', '--name', 'noapp', '--engine', 'sqlite', '--file', other.database, '--no-test'],
      ['rds:add', '--name', 'off', '--engine', 'sqlite', '--file', other.database, '--app-url', 'https://off.rai.example', '--no-test'],
      ['rds:add', '--name', 'old', '--engine', 'sqlite', '--file', other.database, '--app-url', 'https://old.rai.example', '--no-test'],
      ['sync:tenants'],
      // The admin's ghost user on every tenant: links issued by the admin's tokens name it. One RDS at a time: four
      // entries share one SQLite file, and one process cannot hold two write transactions on a file at once.
      ['sync:ghost-users', '--concurrency', '1'],
      ['rds:edit', 'old', '--no-active', '--no-test'],
      ['rds:edit', 'off', '--no-impersonation'],
      ['rds:edit', 'us', '--impersonation-audience', 'rai-us', '--impersonation-ttl', '2m'],
    ]
    for (const args of steps) {
      const result = await cli(args)
      expect(result.code, `${args.join(' ')}: ${result.stderr} ${result.stdout}`).toBe(0)
    }
    // Tenant 4 of main vanishes upstream; the next sync marks it missing.
    const fleet = await main.knex()
    await fleet('tenants').where({id: 4}).delete()
    await fleet.destroy()
    const resync = await cli(['sync:tenants', '--rds', 'main', '--force'])
    expect(resync.code, resync.stderr).toBe(0)
    expect(
      count(
        "select count(*) as n from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = 'main' and t.remote_missing_at is not null",
      ),
    ).toBe(1)
    const settings = (JSON.parse((await cli(['rds:show', 'us', '--json'])).stdout) as {impersonation: unknown}).impersonation
    expect(settings).toEqual({enabled: true, audience: 'rai-us', ttlSeconds: 120})
    for (const role of ['support_admin', 'billing_admin', 'read_only']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
  })

  afterAll(async () => {
    await Promise.all([main?.drop(), other?.drop()])
    home?.drop()
  })

  it.each([
    ['unknown remote id', ['main:99'], /RDS "main" has no tenant 99 in the registry/],
    ['unknown id', ['9999'], /no tenant with id 9999/],
    ['unknown RDS', ['nowhere:1'], /no RDS named "nowhere"/],
    ['no tenant of that name', ['main'], /no tenant named "main"/],
    ['tenant gone upstream', ['main:4'], /tenant ".*" \(#\d+\) is gone from RDS "main" \(missing since /],
    ['impersonation turned off', ['off:1'], /impersonation is turned off on RDS "off" .* — turn it on with `raiops rds:edit off --impersonation`/],
    ['RDS without app URL', ['noapp:1'], /RDS "noapp" has no app URL .* — set it: `raiops rds:edit noapp --app-url/],
    ['inactive RDS', ['old:1'], /RDS "old" of tenant .* is inactive/],
    ['--ttl 10m', ['main:1', '--ttl', '10m'], /valid for 30 s to 5 minutes, not 600 s — give --ttl from 30s to 5m/],
    ['--ttl 10s', ['main:1', '--ttl', '10s'], /not 10 s/],
    ['--ttl soon', ['main:1', '--ttl', 'soon'], /--ttl must be a duration/],
    ['blank reason', ['main:1', '--reason', '   '], /--reason must say why you open the tenant — say in a sentence why/],
    ['short reason', ['main:1', '--reason', 'because'], /--reason is too short/],
    ['reason of 501 characters', ['main:1', '--reason', 'x'.repeat(501)], /--reason is too long: at most 500 characters/],
  ])('%s: exit 2, one line on stderr, nothing written', async (_label, args, message) => {
    const before = written()
    const withReason = args.includes('--reason') ? args : [...args, '--reason', REASON]
    const result = await as('support_admin', ['tenant:impersonate', ...withReason])
    expectOneLine(result, 2, message)
    expect(result.stdout).toBe('')
    expect(written()).toEqual(before)
    expect(existsSync(join(env.RAIOPS_HOME, 'impersonation.key'))).toBe(false)
  })

  it('without --reason: exit 2, never a prompt', async () => {
    const result = await as('support_admin', ['tenant:impersonate', 'main:1'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^Error: --reason is required: why you open the tenant/)
    expect(count('select count(*) as n from impersonations')).toBe(0)
  })

  it.each(['billing_admin', 'read_only'])('as %s: exit 5 naming tenant.impersonate, nothing written', async (role) => {
    const before = written()
    for (const args of [['tenant:impersonate', 'main:1', '--reason', REASON], ['tenant:impersonation-key']]) {
      expectOneLine(
        await as(role, args),
        5,
        new RegExp(`token "as-${role.replace('_', '-')}" \\(role ${role}\\) may not run ${args[0]}: it needs the permission tenant\\.impersonate`),
      )
    }
    expect(written()).toEqual(before)
    expect(existsSync(join(env.RAIOPS_HOME, 'impersonation.key'))).toBe(false)
  })

  it('as support_admin: the link on stdout, a token the public key verifies, one row, one audit entry without the token', async () => {
    const before = written()
    const result = await as('support_admin', ['tenant:impersonate', 'main:1', '--reason', REASON, '--ticket', 'SUP-1234'])
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[1]).toBe('')
    const url = new URL(lines[0])
    expect(`${url.origin}${url.pathname}`).toBe('https://eu.rai.example/raiops/impersonate')
    const token = url.searchParams.get('token') as string
    // The first link creates the key pair, and says so.
    expect(result.stderr).toMatch(/created the impersonation key pair \(key id [0-9a-f]{16}\)/)
    expect(result.stderr).toMatch(/link for tenant ".*" \(#\d+\) on RDS main, valid until \d{4}-\d\d-\d\dT[\d:.]+Z, single use\n$/)

    const pem = readFileSync(join(env.RAIOPS_HOME, 'impersonation.pub'), 'utf8')
    const {payload, protectedHeader} = await jwtVerify(token, await importSPKI(pem, 'EdDSA'), {
      algorithms: ['EdDSA'],
      issuer: 'raiops',
      audience: 'https://eu.rai.example',
    })
    expect(payload).toMatchObject({sub: '1', tenant_id: 1, act: {sub: 'as-support-admin'}, reason: REASON, ticket: 'SUP-1234'})
    expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(300)
    expect(protectedHeader).toMatchObject({alg: 'EdDSA', typ: 'raiops-imp+jwt'})

    expect(written()).toEqual({links: before.links + 1, audit: before.audit + 1})
    const [link] = queryControlDb<{jti: string; operator: string; reason: string; ticket: string; used_at: number | null}>(
      env.RAIOPS_HOME,
      'select jti, operator, reason, ticket, used_at from impersonations',
    )
    expect(link).toEqual({jti: payload.jti, operator: 'as-support-admin', reason: REASON, ticket: 'SUP-1234', used_at: null})
    const [entry] = queryControlDb<{
      actor_type: string
      actor: string
      target_type: string
      tenant_master_id: number
      rds_instance_id: number
      old_values: string | null
      new_values: string
      source: string
    }>(
      env.RAIOPS_HOME,
      "select actor_type, actor, target_type, tenant_master_id, rds_instance_id, old_values, new_values, source from audit_logs where action = 'tenant.impersonate'",
    )
    expect(entry).toMatchObject({actor_type: 'token', actor: 'as-support-admin', target_type: 'tenant', old_values: null})
    expect(entry.tenant_master_id).toBe(
      count("select t.id as n from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = 'main' and t.remote_tenant_id = 1"),
    )
    expect(entry.rds_instance_id).toBe(count("select id as n from rds_instances where name = 'main'"))
    expect(JSON.parse(entry.new_values)).toMatchObject({
      jti: payload.jti,
      reason: REASON,
      ticket: 'SUP-1234',
      expiresAt: new Date((payload.exp as number) * 1000).toISOString(),
    })
    expect(JSON.parse(entry.source).command).toMatch(/^raiops tenant:impersonate main:1 --reason/)
    for (const text of [entry.new_values, entry.source, entry.old_values ?? '']) {
      expect(text).not.toContain(token)
      expect(text).not.toContain(token.split('.')[2])
    }

    // tenant:impersonation-key prints that public key, whose id the token names.
    const key = await as('support_admin', ['tenant:impersonation-key', '--json'])
    expect(key.code, key.stderr).toBe(0)
    const shown = JSON.parse(key.stdout) as {file: string; keyId: string; publicKey: string; created: boolean}
    expect(shown).toEqual({file: join(env.RAIOPS_HOME, 'impersonation.pub'), keyId: protectedHeader.kid, publicKey: pem, created: false})
    expect((await as('support_admin', ['tenant:impersonation-key'])).stdout).toBe(pem)
  })

  it("--json: the link and its details, nothing on stderr; the RDS's audience and lifetime apply", async () => {
    const result = await as('support_admin', ['tenant:impersonate', 'us:2', '--reason', REASON, '--json'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    const link = JSON.parse(result.stdout) as Record<string, unknown> & {token: string; url: string; expiresAt: string; issuedAt: string}
    expect(Object.keys(link).sort()).toEqual([
      'actor',
      'audience',
      'expiresAt',
      'ghostUser',
      'issuedAt',
      'jti',
      'keyCreated',
      'keyId',
      'rds',
      'reason',
      'tenant',
      'ticket',
      'token',
      'ttlSeconds',
      'url',
    ])
    expect(link).toMatchObject({
      url: `https://us.rai.example/raiops/impersonate?token=${link.token}`,
      tenant: {remoteTenantId: 2},
      rds: {name: 'us'},
      audience: 'rai-us',
      actor: 'as-support-admin',
      reason: REASON,
      ticket: null,
      keyCreated: false,
      ttlSeconds: 120,
      ghostUser: {userId: expect.any(Number), email: 'ghost+1@raiops.invalid', missing: null, error: null},
    })
    expect(decodeJwt(link.token).ghost_user_id).toBe((link.ghostUser as {userId: number}).userId)
    expect(Date.parse(link.expiresAt) - Date.parse(link.issuedAt)).toBe(120_000)
    const [row] = queryControlDb<{expires_at: number}>(env.RAIOPS_HOME, `select expires_at from impersonations where jti = '${link.jti as string}'`)
    expect(new Date(row.expires_at).toISOString()).toBe(link.expiresAt)
  })

  it('rds:edit sets the impersonation settings: bad values exit 2 and change nothing; a change is audited', async () => {
    const before = (JSON.parse((await cli(['rds:show', 'us', '--json'])).stdout) as {impersonation: unknown}).impersonation
    for (const [args, message] of [
      [['--impersonation-ttl', '10m'], /^Error: --impersonation-ttl must be from 30s to 5m\n$/],
      [['--impersonation-ttl', '10s'], /^Error: --impersonation-ttl must be from 30s to 5m\n$/],
      [['--impersonation-ttl', 'soon'], /--impersonation-ttl must be a duration/],
      [['--impersonation-audience', 'two words'], /^Error: --impersonation-audience must be one word or URL/],
    ] as const) {
      expectOneLine(await cli(['rds:edit', 'us', ...args]), 2, message)
    }
    expect((JSON.parse((await cli(['rds:show', 'us', '--json'])).stdout) as {impersonation: unknown}).impersonation).toEqual(before)

    const edited = await cli(['rds:edit', 'us', '--impersonation-audience', '', '--impersonation-ttl', '', '--json'])
    expect(edited.code, edited.stderr).toBe(0)
    expect(JSON.parse(edited.stdout)).toMatchObject({
      changed: ['impersonationAudience', 'impersonationTtlSeconds'],
      rds: {impersonation: {enabled: true, audience: null, ttlSeconds: null}},
    })
    const [entry] = queryControlDb<{old_values: string; new_values: string}>(
      env.RAIOPS_HOME,
      "select old_values, new_values from audit_logs where action = 'rds.edit' order by id desc limit 1",
    )
    expect(JSON.parse(entry.old_values)).toEqual({impersonationAudience: 'rai-us', impersonationTtlSeconds: 120})
    expect(JSON.parse(entry.new_values)).toEqual({impersonationAudience: null, impersonationTtlSeconds: null})
    const restored = await cli(['rds:edit', 'us', '--impersonation-audience', 'rai-us', '--impersonation-ttl', '120s'])
    expect(restored.code, restored.stderr).toBe(0)
  })

  it("a tenant's name from the fleet is shown escaped on stderr: an escape sequence or a newline cannot forge a line; --json keeps it exact", async () => {
    const name = 'Evil\u001b[31mRED\nlink for tenant "Acme" (#1) on RDS main\u202e'
    const db = new Database(join(env.RAIOPS_HOME, 'raiops.sqlite'))
    try {
      db.prepare(
        `insert into tenant_master (rds_instance_id, remote_tenant_id, name, status, cached_user_count, cached_location_count, created_at, updated_at)
         select rds_instance_id, 77, ?, status, 0, 0, created_at, updated_at from tenant_master
         where remote_tenant_id = 1 and rds_instance_id = (select id from rds_instances where name = 'main')`,
      ).run(name)
    } finally {
      db.close()
    }
    const result = await as('support_admin', ['tenant:impersonate', 'main:77', '--reason', REASON])
    expect(result.code, result.stderr).toBe(0)
    expect(`${result.stdout}${result.stderr}`).not.toMatch(RAW_CONTROL)
    expect(result.stderr.split('\n').filter((line) => line.startsWith('link for tenant'))).toHaveLength(1)
    expect(result.stderr).toContain('link for tenant "Evil\\u001b[31mRED\\nlink for tenant "Acme" (#1) on RDS main\\u202e" (#')
    expect(result.stdout).toMatch(/^https:\/\/eu\.rai\.example\/raiops\/impersonate\?token=[\w.-]+\n$/)
    const json = await as('support_admin', ['tenant:impersonate', 'main:77', '--reason', REASON, '--json'])
    expect((JSON.parse(json.stdout) as {tenant: {name: string}}).tenant.name).toBe(name)
  })

  it('--ttl sets the lifetime, from 30s to 5m', async () => {
    const result = await as('support_admin', ['tenant:impersonate', 'main:2', '--reason', REASON, '--ttl', '90s', '--json'])
    expect(result.code, result.stderr).toBe(0)
    const link = JSON.parse(result.stdout) as {token: string; ttlSeconds: number}
    expect(link.ttlSeconds).toBe(90)
    expect(decodeProtectedHeader(link.token).alg).toBe('EdDSA')
  })
})
