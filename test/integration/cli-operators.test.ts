import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ANA_PASSWORD = 'ana-password-123'

describe('operators, roles and access:explain', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  // In-process: what is tested is the commands' output and rows, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const expectOneLine = (result: CliResult, code: number, message: RegExp) => {
    expect(result.code, result.stderr).toBe(code)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  }
  const operators = () =>
    queryControlDb<{email: string; role: string; is_active: number}>(env.RAIOPS_HOME, 'select email, role, is_active from operators order by id')

  beforeAll(async () => {
    home = createTestDir('raiops-operators-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'operators-admin-password-1',
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    env = session.env
  })

  afterAll(() => home?.drop())

  it('adds an operator with a bcrypt $2y$ hash (email lower-cased), lists and shows them without it', async () => {
    const added = await cli(['operator:add', '--email', 'Ana@Example.com', '--name', 'Ana', '--role', 'support_admin', '--password-stdin', '--json'], {
      input: `${ANA_PASSWORD}\n`,
    })
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toMatchObject({email: 'ana@example.com', role: 'support_admin', isActive: true})
    const [hash] = queryControlDb<{password_hash: string}>(env.RAIOPS_HOME, "select password_hash from operators where email = 'ana@example.com'")
    expect(hash.password_hash).toMatch(/^\$2y\$12\$.{53}$/)
    const list = await cli(['operator:list'])
    expect(list.stdout).toMatch(/ana@example\.com\s+│ Ana\s+│ support_admin/)
    const shown = JSON.parse((await cli(['operator:show', 'ana@example.com', '--json'])).stdout) as {permissions: string[]}
    expect(shown.permissions).toContain('tenant.impersonate')
    for (const output of [added.stdout, list.stdout, JSON.stringify(shown)]) {
      expect(output).not.toContain(hash.password_hash)
      expect(output).not.toContain(ANA_PASSWORD)
    }
    const [entry] = queryControlDb<{new_values: string}>(
      env.RAIOPS_HOME,
      "select new_values from audit_logs where action = 'operator.create' order by seq desc limit 1",
    )
    expect(JSON.parse(entry.new_values)).toEqual({email: 'ana@example.com', name: 'Ana', role: 'support_admin'})
  })

  it.each([
    [
      ['operator:add', '--email', 'not-an-email', '--name', 'X', '--role', 'read_only', '--password-stdin'],
      'long-enough-password\n',
      /is not an email address/,
    ],
    [['operator:add', '--email', 'x@example.com', '--name', 'X', '--role', 'nope', '--password-stdin'], 'long-enough-password\n', /no role "nope"/],
    [['operator:add', '--email', 'x@example.com', '--name', 'X', '--role', 'read_only', '--password-stdin'], 'short\n', /at least 10 characters/],
    [['operator:add', '--email', 'ana@example.com', '--name', 'X', '--role', 'read_only', '--password-stdin'], 'long-enough-password\n', /already exists/],
    [
      ['operator:add', '--email', 'x@example.com', '--name', 'X', '--role', 'read_only', '--password', 'long-enough-password'],
      '',
      /Nonexistent flag: --password/,
    ],
    [['operator:edit', 'ana@example.com'], '', /nothing to change/],
    [['operator:show', 'nobody@example.com'], '', /no operator "nobody@example.com"/],
  ])('%j: exit 2, one line, nothing changed', async (args, input, message) => {
    const before = operators()
    expectOneLine(await cli(args, {input}), 2, message)
    expect(operators()).toEqual(before)
  })

  it('the last active system_admin can be neither disabled nor demoted; with a second one, it can', async () => {
    expectOneLine(await cli(['operator:disable', 'ops@example.com']), 2, /last active system_admin/)
    expectOneLine(await cli(['operator:edit', 'ops@example.com', '--role', 'read_only']), 2, /last active system_admin/)
    expect(operators()[0]).toMatchObject({role: 'system_admin', is_active: 1})
    const promoted = await cli(['operator:edit', 'ana@example.com', '--role', 'system_admin'])
    expect(promoted.code, promoted.stderr).toBe(0)
    const demoted = await cli(['operator:edit', 'ana@example.com', '--role', 'support_admin', '--name', 'Ana Lopez'])
    expect(demoted.code, demoted.stderr).toBe(0)
    const [edit] = queryControlDb<{old_values: string; new_values: string}>(
      env.RAIOPS_HOME,
      "select old_values, new_values from audit_logs where action = 'operator.edit' order by seq desc limit 1",
    )
    expect(JSON.parse(edit.old_values)).toMatchObject({role: 'system_admin', name: 'Ana'})
    expect(JSON.parse(edit.new_values)).toMatchObject({role: 'support_admin', name: 'Ana Lopez'})
  })

  it('a disabled operator cannot sign in, and a password change lifts a lock', async () => {
    expect((await cli(['operator:disable', 'ana@example.com'])).code).toBe(0)
    const refused = await cli(['auth:login', '--email', 'ana@example.com', '--password-stdin'], {input: `${ANA_PASSWORD}\n`})
    expect(refused.code).toBe(5)
    expect(refused.stderr).toMatch(/ana@example.com is disabled/)
    expect((await cli(['operator:edit', 'ana@example.com', '--active'])).code).toBe(0)
    const changed = await cli(['operator:password', 'ana@example.com', '--password-stdin'], {input: 'ana-new-password-456\n'})
    expect(changed.code, changed.stderr).toBe(0)
    const [entry] = queryControlDb<{new_values: string}>(
      env.RAIOPS_HOME,
      "select new_values from audit_logs where action = 'operator.password' order by seq desc limit 1",
    )
    expect(entry.new_values).not.toContain('ana-new-password-456')
    // Sign in as Ana, then back as the admin for the rest.
    const asAna = await cli(['auth:login', '--email', 'ana@example.com', '--password-stdin'], {input: 'ana-new-password-456\n'})
    expect(asAna.code, asAna.stderr).toBe(0)
    expectOneLine(await cli(['operator:list']), 5, /ana@example.com \(role support_admin\) may not run operator:list: it needs the permission operator.view/)
    expect((await cli(['auth:login', '--email', 'ops@example.com', '--password-stdin'], {input: 'operators-admin-password-1\n'})).code).toBe(0)
  })

  it('custom roles: created with permissions, granted and revoked, held by a token; built-in roles are fixed', async () => {
    const created = await cli([
      'role:create',
      'sync_runner',
      '--permission',
      'sync.run',
      '--permission',
      'sync.view',
      '--description',
      'cron: the syncs',
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({name: 'sync_runner', builtin: false, permissions: ['sync.run', 'sync.view']})
    const token = (
      JSON.parse((await cli(['token:create', '--name', 'cron-sync', '--role', 'sync_runner', '--expires', '1d', '--json'])).stdout) as {
        token: string
      }
    ).token
    expectOneLine(await cli(['rds:list'], {env: {RAIOPS_TOKEN: token}}), 5, /needs the permission rds.view/)
    expect((await cli(['role:grant', 'sync_runner', 'rds.view'])).code).toBe(0)
    expect((await cli(['rds:list', '--json'], {env: {RAIOPS_TOKEN: token}})).code).toBe(0)
    expect((await cli(['role:revoke', 'sync_runner', 'rds.view'])).code).toBe(0)
    expect((await cli(['rds:list'], {env: {RAIOPS_TOKEN: token}})).code).toBe(5)

    expectOneLine(await cli(['role:grant', 'read_only', 'rds.manage']), 2, /built-in role: its permissions are fixed/)
    expectOneLine(await cli(['role:grant', 'sync_runner', 'no.such']), 2, /unknown permission "no.such"/)
    expectOneLine(await cli(['role:create', 'sync_runner']), 2, /already exists/)
    expectOneLine(await cli(['role:create', 'Bad-Name']), 2, /must be lower-case/)
    const shown = await cli(['role:show', 'sync_runner'])
    expect(shown.stdout).toMatch(/sync\.run\s+run the tenant, routing and ghost-user syncs/)
    const list = JSON.parse((await cli(['role:list', '--json'])).stdout) as Array<{name: string; tokens: number; builtin: boolean}>
    expect(list.find((r) => r.name === 'sync_runner')).toMatchObject({tokens: 1, builtin: false})
    expect(
      list
        .filter((r) => r.builtin)
        .map((r) => r.name)
        .sort(),
    ).toEqual(['billing_admin', 'read_only', 'support_admin', 'system_admin'])
    const audited = queryControlDb<{action: string}>(env.RAIOPS_HOME, "select action from audit_logs where action like 'role.%' order by seq").map(
      (r) => r.action,
    )
    expect(audited).toEqual(['role.create', 'role.grant', 'role.revoke'])
  })

  it('access:explain says yes or no and why', async () => {
    const no = JSON.parse((await cli(['access:explain', 'ana@example.com', 'rds:add', '--json'])).stdout) as {
      allowed: boolean
      reason: string
      permission: string
    }
    expect(no).toMatchObject({allowed: false, permission: 'rds.manage'})
    expect(no.reason).toBe('rds:add needs rds.manage, which the role support_admin of ana@example.com does not grant')
    const yes = await cli(['access:explain', 'ana@example.com', 'rds:list'])
    expect(yes.stdout).toBe('yes: rds:list needs rds.view, which the role support_admin of ana@example.com grants\n')
    expect((await cli(['access:explain', 'ana@example.com', 'auth:login', '--json'])).stdout).toMatch(/"allowed": true/)
    expectOneLine(await cli(['access:explain', 'ana@example.com', 'no:such']), 2, /no command "no:such"/)
    expectOneLine(await cli(['access:explain', 'nobody@example.com', 'rds:list']), 2, /no operator/)
  })
})
