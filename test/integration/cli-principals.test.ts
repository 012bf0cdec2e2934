import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'principals-admin-password-1'
const MANAGER_PASSWORD = 'manager-password-123'
const ATTACKER_PASSWORD = 'taken-over-password-1'

describe('an operator.manage-only caller against a system_admin, as a user runs it', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  let managerToken: string
  // In-process: what is tested is who may do what, decided inside the commands.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const ok = async (args: string[], input?: string) => {
    const result = await cli(args, {input})
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
    return result
  }
  /** Every row a refused command could have written. */
  const state = () => ({
    operators: queryControlDb(
      env.RAIOPS_HOME,
      'select id, email, role, is_active, password_hash, failed_logins, locked_until, updated_at from operators order by id',
    ),
    tokens: queryControlDb(env.RAIOPS_HOME, 'select id, name, role, revoked_at, updated_at from api_tokens order by id'),
    sessions: queryControlDb(env.RAIOPS_HOME, 'select jti, revoked_at from auth_sessions order by jti'),
    grants: queryControlDb(env.RAIOPS_HOME, 'select role, permission from raiops_role_permissions order by role, permission'),
    audit: queryControlDb(env.RAIOPS_HOME, 'select seq, action from audit_logs order by seq'),
  })

  beforeAll(async () => {
    home = createTestDir('raiops-principals-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    env = session.env
    await ok(['role:create', 'operator_manager', '-p', 'operator.manage'])
    await ok(['role:create', 'secrets_keeper', '-p', 'operator.manage', '-p', 'rds.secrets'])
    await ok(['operator:add', '--email', 'mgr@example.com', '--name', 'Manager', '--role', 'operator_manager', '--password-stdin'], `${MANAGER_PASSWORD}\n`)
    await ok(['operator:add', '--email', 'peer@example.com', '--name', 'Peer', '--role', 'operator_manager', '--password-stdin'], 'peer-password-123\n')
    await ok(['operator:add', '--email', 'keeper@example.com', '--name', 'Keeper', '--role', 'secrets_keeper', '--password-stdin'], 'keeper-password-123\n')
    await ok(['token:create', '--name', 'nightly', '--role', 'system_admin', '--expires', '1d'])
    managerToken = (
      JSON.parse((await ok(['token:create', '--name', 'manager', '--role', 'operator_manager', '--expires', '1d', '--json'])).stdout) as {
        token: string
      }
    ).token
    // The admin's own session stays on record; the manager signs in on this machine.
    await ok(['auth:login', '--email', 'mgr@example.com', '--password-stdin'], `${MANAGER_PASSWORD}\n`)
  })

  afterAll(() => home?.drop())

  it.each([
    [
      ['operator:password', 'ops@example.com', '--password-stdin'],
      /^Error: the operator ops@example\.com \(role system_admin\) holds .+, which you do not hold yourself: you may not change them — /,
    ],
    [['operator:edit', 'ops@example.com', '--role', 'operator_manager'], /^Error: the operator ops@example\.com \(role system_admin\) holds /],
    [['operator:edit', 'ops@example.com', '--name', 'Someone Else'], /^Error: the operator ops@example\.com \(role system_admin\) holds /],
    [['operator:disable', 'ops@example.com'], /^Error: the operator ops@example\.com \(role system_admin\) holds /],
    [
      ['operator:password', 'keeper@example.com', '--password-stdin'],
      /^Error: the operator keeper@example\.com \(role secrets_keeper\) holds rds\.secrets, which you do not hold yourself/,
    ],
    [['token:revoke', 'nightly'], /^Error: the token "nightly" \(role system_admin\) holds /],
    [
      ['role:revoke', 'secrets_keeper', 'operator.manage'],
      /^Error: the role secrets_keeper holds rds\.secrets, which you do not hold yourself: you may not change it/,
    ],
    [['role:grant', 'secrets_keeper', 'operator.manage'], /^Error: the role secrets_keeper holds rds\.secrets, which you do not hold yourself/],
  ])('signed in with operator.manage only, %j exits 5 with one line and writes nothing', async (args, message) => {
    const before = state()
    const result = await cli(args, {input: `${ATTACKER_PASSWORD}\n`})
    expect(result.code, result.stderr).toBe(5)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(result.stdout).toBe('')
    expect(state()).toEqual(before)
  })

  it('the same with RAIOPS_TOKEN of that role, and --json carries the refusal', async () => {
    const before = state()
    const result = await cli(['operator:password', 'ops@example.com', '--password-stdin', '--json'], {
      env: {RAIOPS_TOKEN: managerToken},
      input: `${ATTACKER_PASSWORD}\n`,
    })
    expect(result.code).toBe(5)
    expect(JSON.parse(result.stdout)).toMatchObject({
      error: {
        code: 'NOT_PERMITTED',
        exitCode: 5,
        message: expect.stringMatching(/^the operator ops@example\.com \(role system_admin\) holds /),
      },
    })
    expect(state()).toEqual(before)
  })

  it('the admin keeps their password: signing in with the one the manager tried is refused', async () => {
    const home2 = createTestDir('raiops-principals-other-')
    try {
      // Another machine's RAIOPS_HOME over the same control database, so the manager's session here stays.
      const elsewhere = {RAIOPS_HOME: home2.path, RAIOPS_DATABASE_URL: `sqlite://${join(env.RAIOPS_HOME, 'raiops.sqlite')}`}
      const taken = await cli(['auth:login', '--email', 'ops@example.com', '--password-stdin'], {
        env: elsewhere,
        input: `${ATTACKER_PASSWORD}\n`,
      })
      expect(taken.code).toBe(5)
      const own = await cli(['auth:login', '--email', 'ops@example.com', '--password-stdin'], {
        env: elsewhere,
        input: `${ADMIN_PASSWORD}\n`,
      })
      expect(own.code, own.stderr).toBe(0)
    } finally {
      home2.drop()
    }
  })

  it('within what it holds it may act: a peer holding only operator.manage gets a new password, is disabled, and its sessions end', async () => {
    const peerHome = createTestDir('raiops-principals-peer-')
    try {
      const asPeer = {RAIOPS_HOME: peerHome.path, RAIOPS_DATABASE_URL: `sqlite://${join(env.RAIOPS_HOME, 'raiops.sqlite')}`}
      expect((await cli(['auth:login', '--email', 'peer@example.com', '--password-stdin'], {env: asPeer, input: 'peer-password-123\n'})).code).toBe(0)
      expect((await cli(['operator:password', 'peer@example.com', '--password-stdin'], {input: 'peer-new-password-456\n'})).code).toBe(0)
      expect((await cli(['auth:whoami'], {env: asPeer})).code).toBe(5)
      expect((await cli(['operator:disable', 'peer@example.com'])).code).toBe(0)
    } finally {
      peerHome.drop()
    }
    const [peer] = queryControlDb<{is_active: number}>(env.RAIOPS_HOME, "select is_active from operators where email = 'peer@example.com'")
    expect(peer.is_active).toBe(0)
    const open = queryControlDb<{n: number}>(
      env.RAIOPS_HOME,
      "select count(*) as n from auth_sessions s join operators o on o.id = s.operator_id where o.email = 'peer@example.com' and s.revoked_at is null",
    )
    expect(open[0].n).toBe(0)
    const actions = queryControlDb<{action: string; actor: string}>(
      env.RAIOPS_HOME,
      "select action, actor from audit_logs where action in ('operator.password', 'operator.disable') order by seq",
    )
    expect(actions).toEqual([
      {action: 'operator.password', actor: 'mgr@example.com'},
      {action: 'operator.disable', actor: 'mgr@example.com'},
    ])
  })
})
