import Database from 'better-sqlite3'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PERMISSIONS} from '../../src/lib/auth/permissions.js'
import type {CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

describe('access:explain for operators, tokens and flags; access:list', () => {
  let home: TestDir
  let session: CliSession
  let readOnlyToken: string
  // In-process: what is tested is the commands' answers, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const json = async <T>(args: string[]): Promise<T> => {
    const result = await cli([...args, '--json'])
    expect(result.code, result.stderr).toBe(0)
    return JSON.parse(result.stdout) as T
  }
  const expectOneLine = (result: CliResult, code: number, message: RegExp) => {
    expect(result.code, result.stderr).toBe(code)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
  }
  const write = (sql: string) => {
    const db = new Database(join(session.env.RAIOPS_HOME, 'raiops.sqlite'))
    try {
      db.prepare(sql).run()
    } finally {
      db.close()
    }
  }

  beforeAll(async () => {
    home = createTestDir('raiops-access-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'access-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const setup = [
      [['operator:add', '--email', 'ana@example.com', '--name', 'Ana', '--role', 'read_only', '--password-stdin'], 'ana-password-long-1\n'],
      [['operator:add', '--email', 'bo@example.com', '--name', 'Bo', '--role', 'system_admin', '--password-stdin'], 'bo-password-long-12\n'],
      [['operator:disable', 'bo@example.com']],
      [['role:create', 'sync_runner', '--permission', 'sync.run', '--permission', 'sync.view']],
      [['token:create', '--name', 'ci-sync', '--role', 'sync_runner', '--expires', '1d']],
      [['token:create', '--name', 'old', '--role', 'system_admin', '--expires', '1d']],
      [['token:revoke', 'old']],
      [['token:create', '--name', 'short', '--role', 'system_admin', '--expires', '1d']],
    ] as const
    for (const [args, input] of setup) {
      const result = await cli([...args], {input})
      expect(result.code, result.stderr).toBe(0)
    }
    write("update api_tokens set expires_at = '2000-01-01 00:00:00.000' where name = 'short'")
    const created = await cli(['token:create', '--name', 'ci-health', '--role', 'read_only', '--expires', '1d'])
    expect(created.code, created.stderr).toBe(0)
    readOnlyToken = created.stdout.trim()
  })

  afterAll(() => home?.drop())

  it('answers for an operator: allowed or refused by their role, refused when disabled', async () => {
    const yes = await cli(['access:explain', 'ana@example.com', 'rds:list'])
    expect(yes).toMatchObject({code: 0, stderr: '', stdout: 'yes: rds:list needs rds.view, which the role read_only of ana@example.com grants\n'})
    const no = await cli(['access:explain', 'ana@example.com', 'rds:add'])
    expect(no).toMatchObject({code: 0, stdout: 'no: rds:add needs rds.manage, which the role read_only of ana@example.com does not grant\n'})
    expect(await json(['access:explain', 'ana@example.com', 'rds:add'])).toEqual({
      operator: 'ana@example.com',
      state: 'active',
      role: 'read_only',
      command: 'rds:add',
      flags: [],
      permission: 'rds.manage',
      needs: [{permission: 'rds.manage', for: 'rds:add', granted: false}],
      allowed: false,
      reason: 'rds:add needs rds.manage, which the role read_only of ana@example.com does not grant',
    })
    expect(await json(['access:explain', 'bo@example.com', 'rds:list'])).toMatchObject({
      state: 'disabled',
      needs: [{permission: 'rds.view', granted: true}],
      allowed: false,
      reason: 'bo@example.com is disabled',
    })
  })

  it('answers for a service token (--token): its role, and whether it is active, expired or revoked', async () => {
    const yes = await cli(['access:explain', '--token', 'ci-sync', 'sync:tenants'])
    expect(yes).toMatchObject({code: 0, stdout: 'yes: sync:tenants needs sync.run, which the role sync_runner of the token "ci-sync" grants\n'})
    const no = await json<Record<string, unknown>>(['access:explain', '--token', 'ci-sync', 'rds:add'])
    expect(no).toMatchObject({token: 'ci-sync', state: 'active', role: 'sync_runner', permission: 'rds.manage', allowed: false})
    expect(no.reason).toBe('rds:add needs rds.manage, which the role sync_runner of the token "ci-sync" does not grant')
    expect(no).not.toHaveProperty('operator')

    // A system_admin token grants everything, but not once it is revoked or expired.
    const revoked = await json<Record<string, unknown>>(['access:explain', '--token', 'old', 'rds:add'])
    expect(revoked).toMatchObject({token: 'old', state: 'revoked', needs: [{permission: 'rds.manage', granted: true}], allowed: false})
    expect(revoked.reason).toMatch(/^the token "old" was revoked at \d{4}-/)
    const expired = await cli(['access:explain', '--token', 'short', 'rds:add'])
    expect(expired).toMatchObject({code: 0, stdout: 'no: the token "short" expired at 2000-01-01T00:00:00.000Z\n'})

    // The answer is the one the token gets when it runs the command.
    expect(await json(['access:explain', '--token', 'ci-health', 'rds:add'])).toMatchObject({allowed: false, state: 'active'})
    const ran = await cli(['rds:add', '--no-such-flag'], {env: {RAIOPS_TOKEN: readOnlyToken}})
    expect(ran.code).toBe(5)
    expect(ran.stderr).toMatch(/token "ci-health" \(role read_only\) may not run rds:add: it needs the permission rds.manage/)
  })

  it('answers for a flag that needs a permission of its own: rds:show --reveal needs rds.secrets beside rds.view', async () => {
    const no = await cli(['access:explain', 'ana@example.com', 'rds:show', 'main', '--reveal'])
    expect(no.code, no.stderr).toBe(0)
    expect(no.stdout).toBe(
      'no: rds:show --reveal needs rds.view and rds.secrets (for --reveal); the role read_only of ana@example.com grants rds.view but not rds.secrets\n',
    )
    expect(await json(['access:explain', '--token', 'ci-health', 'rds:show', '--reveal'])).toMatchObject({
      token: 'ci-health',
      command: 'rds:show',
      flags: ['--reveal'],
      permission: 'rds.view',
      needs: [
        {permission: 'rds.view', for: 'rds:show', granted: true},
        {permission: 'rds.secrets', for: '--reveal', granted: false},
      ],
      allowed: false,
    })
    const admin = await cli(['access:explain', 'ops@example.com', 'rds:show', '--reveal'])
    expect(admin.stdout).toBe('yes: rds:show --reveal needs rds.view and rds.secrets (for --reveal), which the role system_admin of ops@example.com grants\n')
    // Without the flag, or with flags that need nothing more, only the command's permission counts.
    expect(await json(['access:explain', 'ana@example.com', 'rds:show', 'main'])).toMatchObject({flags: [], allowed: true})
    expect(await json(['access:explain', 'ana@example.com', 'rds:list', '-f', 'csv'])).toMatchObject({
      flags: ['--format'],
      needs: [{permission: 'rds.view', for: 'rds:list', granted: true}],
      allowed: true,
    })

    // The declared flag permission is what rds:show enforces: refused once its flags are read, before the RDS is looked up.
    const revealed = await cli(['rds:show', 'no-such-rds', '--reveal'], {env: {RAIOPS_TOKEN: readOnlyToken}})
    expectOneLine(revealed, 5, /token "ci-health" \(role read_only\) may not run rds:show --reveal: it needs the permission rds.secrets/)
    expectOneLine(await cli(['rds:show', 'no-such-rds'], {env: {RAIOPS_TOKEN: readOnlyToken}}), 2, /no RDS named "no-such-rds"/)
  })

  it('refuses what it cannot answer with one line and exit 2', async () => {
    expectOneLine(await cli(['access:explain', '--token', 'nope', 'rds:list']), 2, /no token "nope" — see `raiops token:list`/)
    expectOneLine(await cli(['access:explain', 'nobody@example.com', 'rds:list']), 2, /no operator "nobody@example.com"/)
    expectOneLine(await cli(['access:explain', 'ana@example.com', 'no:such']), 2, /no command "no:such"/)
    expectOneLine(await cli(['access:explain', 'ana@example.com', 'rds:show', '--nope']), 2, /rds:show has no flag --nope/)
    expectOneLine(await cli(['access:explain', '--token', 'ci-sync']), 2, /name the command to explain/)
    expectOneLine(await cli(['access:explain']), 2, /name an operator and a command/)
    const json = await cli(['access:explain', '--token', 'nope', 'rds:list', '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'NOT_FOUND', message: 'no token "nope"', exitCode: 2}})
  })

  it('is refused, like access:list, to a role without operator.view', async () => {
    const asSync = await cli(['token:create', '--name', 'sync-only', '--role', 'sync_runner', '--expires', '1d'])
    for (const args of [['access:explain', 'ana@example.com', 'rds:list'], ['access:list']]) {
      const refused = await cli(args, {env: {RAIOPS_TOKEN: asSync.stdout.trim()}})
      expectOneLine(refused, 5, new RegExp(`may not run ${args[0]}: it needs the permission operator.view`))
    }
    expect((await cli(['access:list'], {env: {RAIOPS_TOKEN: readOnlyToken}})).code).toBe(0)
  })

  it('access:list shows every permission, what it allows and the built-in and custom roles that grant it', async () => {
    const table = await cli(['access:list'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stderr).toBe('')
    const lines = table.stdout.split('\n')
    expect(lines[1]).toMatch(/Permission\s+│ Allows\s+│ Built-in roles\s+│ Custom roles/)
    expect(lines.find((l) => l.includes(' rds.secrets '))).toMatch(/│ rds\.secrets\s+│ reveal RDS connection secrets\s+│ system_admin\s+│ -\s+│/)
    expect(lines.find((l) => l.includes(' sync.run '))).toMatch(
      /│ sync\.run\s+│ run the tenant, routing and ghost-user syncs\s+│ system_admin\s+│ sync_runner\s+│/,
    )
    for (const permission of Object.keys(PERMISSIONS)) expect(table.stdout).toContain(` ${permission} `)

    const rows = await json<Array<{permission: string; allows: string; builtinRoles: string[]; customRoles: string[]; commands: string[]}>>(['access:list'])
    expect(rows.map((r) => r.permission)).toEqual(Object.keys(PERMISSIONS))
    expect(rows.find((r) => r.permission === 'rds.secrets')).toEqual({
      permission: 'rds.secrets',
      allows: 'reveal RDS connection secrets',
      builtinRoles: ['system_admin'],
      customRoles: [],
      commands: ['rds:show --reveal'],
    })
    expect(rows.find((r) => r.permission === 'sync.view')).toMatchObject({builtinRoles: ['read_only', 'system_admin'], customRoles: ['sync_runner']})
    expect(rows.find((r) => r.permission === 'operator.view')?.commands).toEqual(expect.arrayContaining(['access:explain', 'access:list', 'role:list']))
    expect(rows.find((r) => r.permission === 'pii.view')).toMatchObject({builtinRoles: ['system_admin'], commands: []})

    const csv = await cli(['access:list', '--format', 'csv'])
    expect(csv.stdout.split('\n').slice(0, 2)).toEqual([
      'Permission,Allows,Built-in roles,Custom roles',
      'system.manage,"initialise raiops, migrate the control database, rotate keys",system_admin,',
    ])
  })
})
