import Database from 'better-sqlite3'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {CliSession, initialisedHome} from '../support/session.js'

const ADMIN_PASSWORD = 'auth-admin-password-1'

describe('sign-in, sessions, service tokens and permissions', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  // In-process: what is tested is sign-in, sessions and tokens, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const write = (sql: string, ...params: unknown[]) => {
    const db = new Database(join(env.RAIOPS_HOME, 'raiops.sqlite'))
    try {
      db.prepare(sql).run(...params)
    } finally {
      db.close()
    }
  }
  const login = (password = ADMIN_PASSWORD, extra: string[] = [], via = session) =>
    via.run(['auth:login', '--email', 'ops@example.com', '--password-stdin', ...extra], {input: `${password}\n`})
  const outputs: string[] = []
  const keep = (result: CliResult) => {
    outputs.push(result.stdout, result.stderr)
    return result
  }

  beforeAll(async () => {
    home = createTestDir('raiops-auth-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    env = session.env
  })

  afterAll(() => home?.drop())

  it('init leaves the first admin signed in (session file 0600); whoami shows role, permissions and expiry', async () => {
    expect(statSync(join(env.RAIOPS_HOME, 'session.jwt')).mode & 0o777).toBe(0o600)
    const who = await cli(['auth:whoami', '--json'])
    expect(who.code, who.stderr).toBe(0)
    const identity = JSON.parse(who.stdout) as {kind: string; email: string; role: string; permissions: string[]; expiresAt: string}
    expect(identity).toMatchObject({kind: 'operator', email: 'ops@example.com', role: 'system_admin'})
    expect(identity.permissions).toContain('rds.manage')
    expect(Date.parse(identity.expiresAt) - Date.now()).toBeGreaterThan(11 * 3_600_000)
    const added = await cli([
      'rds:add',
      '--name',
      'main',
      '--host',
      '127.0.0.1',
      '--port',
      '3306',
      '--username',
      'root',
      '--rai-database',
      'rai_a',
      '--no-test',
      '--no-input',
    ])
    expect(added.code, added.stderr).toBe(0)
    const [entry] = queryControlDb<{actor_type: string; actor: string}>(env.RAIOPS_HOME, "select actor_type, actor from audit_logs where action = 'rds.add'")
    expect(entry).toEqual({actor_type: 'operator', actor: 'ops@example.com'})
  })

  it('signed out, every command but sign-in exits 5 with one line, before parsing its flags', async () => {
    expect((await cli(['auth:logout'])).stdout).toMatch(/signed out/)
    for (const args of [['rds:list'], ['auth:whoami'], ['rds:add', '--bogus-flag']]) {
      const result = await cli(args)
      expect(result.code, args.join(' ')).toBe(5)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/not signed in — run `raiops auth:login`, or set RAIOPS_TOKEN/)
    }
    expect((await cli(['auth:logout'])).stdout).toMatch(/not signed in: nothing to do/)
  })

  it('a wrong password exits 5 and is audited without the password; five in a row lock the email for 15 minutes', async () => {
    for (let i = 1; i <= 4; i++) {
      const wrong = keep(await login('not-the-password-1'))
      expect(wrong.code).toBe(5)
      expect(wrong.stderr).toMatch(/wrong email or password/)
    }
    const fifth = keep(await login('not-the-password-1'))
    expect(fifth.stderr).toMatch(/wrong email or password/)
    const locked = keep(await login())
    expect(locked.code).toBe(5)
    expect(locked.stderr).toMatch(/wrong email or password, or the email is locked after 5 failed logins/)
    const unknown = keep(await cli(['auth:login', '--email', 'nobody@example.com', '--password-stdin'], {input: 'whatever-password-1\n'}))
    expect(unknown.code).toBe(5)
    expect(unknown.stderr).toMatch(/wrong email or password/)
    const failures = queryControlDb<{actor: string; new_values: string}>(
      env.RAIOPS_HOME,
      "select actor, new_values from audit_logs where action = 'auth.login_failed' order by seq",
    )
    expect(failures).toHaveLength(7)
    expect(failures.map((f) => JSON.parse(f.new_values).reason)).toEqual([
      'wrong password',
      'wrong password',
      'wrong password',
      'wrong password',
      'wrong password',
      'locked',
      'unknown email',
    ])
    expect(JSON.stringify(failures)).not.toContain('not-the-password-1')
    // The lock runs out.
    write("update operators set locked_until = '2000-01-01 00:00:00.000' where email = 'ops@example.com'")
    const back = keep(await login())
    expect(back.code, back.stderr).toBe(0)
    expect(back.stdout).toMatch(/signed in as ops@example.com \(system_admin\) until/)
  })

  it('an expired session exits 5; a disabled operator too', async () => {
    expect((await login(ADMIN_PASSWORD, ['--ttl', '1s'])).code).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const expired = await cli(['rds:list'])
    expect(expired.code).toBe(5)
    expect(expired.stderr).toMatch(/the session has expired/)
    expect((await login()).code).toBe(0)
    write("update operators set is_active = 0 where email = 'ops@example.com'")
    const disabled = await cli(['rds:list'])
    expect(disabled.code).toBe(5)
    expect(disabled.stderr).toMatch(/ops@example.com is disabled/)
    expect((await login()).code).toBe(5)
    write("update operators set is_active = 1 where email = 'ops@example.com'")
  })

  it('service tokens: shown once, hashed at rest, limited to their role, last use kept, revoked or expired: exit 5', async () => {
    const created = keep(await cli(['token:create', '--name', 'ci-health', '--role', 'read_only', '--expires', '30d', '--json']))
    expect(created.code, created.stderr).toBe(0)
    const {token} = JSON.parse(created.stdout) as {token: string}
    expect(token).toMatch(/^raiops_[A-Za-z0-9_-]{43}$/)
    const stored = queryControlDb<{token_hash: string}>(env.RAIOPS_HOME, "select token_hash from api_tokens where name = 'ci-health'")[0]
    expect(stored.token_hash).not.toContain(token)
    expect(keep(await cli(['token:list', '--json'])).stdout).not.toContain(token)

    const asToken = {env: {RAIOPS_TOKEN: token}}
    const listed = keep(await cli(['rds:list', '--json'], asToken))
    expect(listed.code, listed.stderr).toBe(0)
    const before = queryControlDb<{n: number}>(env.RAIOPS_HOME, 'select count(*) as n from rds_instances')[0].n
    const denied = keep(
      await cli(
        ['rds:add', '--name', 'x', '--host', '127.0.0.1', '--port', '3306', '--username', 'root', '--rai-database', 'rai_x', '--no-test', '--no-input'],
        asToken,
      ),
    )
    expect(denied.code).toBe(5)
    expect(denied.stderr.trim()).toBe(
      'Error: token "ci-health" (role read_only) may not run rds:add: it needs the permission rds.manage — ask a system_admin for a role that has it',
    )
    expect(queryControlDb<{n: number}>(env.RAIOPS_HOME, 'select count(*) as n from rds_instances')[0].n).toBe(before)
    const who = JSON.parse(keep(await cli(['auth:whoami', '--json'], asToken)).stdout) as {kind: string; name: string}
    expect(who).toMatchObject({kind: 'token', name: 'ci-health'})
    expect(
      queryControlDb<{last_used_at: unknown}>(env.RAIOPS_HOME, "select last_used_at from api_tokens where name = 'ci-health'")[0].last_used_at,
    ).not.toBeNull()

    const revoked = keep(await cli(['token:revoke', 'ci-health']))
    expect(revoked.code, revoked.stderr).toBe(0)
    const afterRevoke = keep(await cli(['rds:list'], asToken))
    expect(afterRevoke.code).toBe(5)
    expect(afterRevoke.stderr).toMatch(/the token "ci-health" was revoked/)

    const short = JSON.parse((await cli(['token:create', '--name', 'short', '--role', 'system_admin', '--expires', '1d', '--json'])).stdout) as {token: string}
    write("update api_tokens set expires_at = '2000-01-01 00:00:00.000' where name = 'short'")
    const expired = keep(await cli(['rds:list'], {env: {RAIOPS_TOKEN: short.token}}))
    expect(expired.code).toBe(5)
    expect(expired.stderr).toMatch(/the token "short" expired/)
    const forged = await cli(['rds:list'], {env: {RAIOPS_TOKEN: 'raiops_not-a-token'}})
    expect(forged.code).toBe(5)
    expect(forged.stderr).toMatch(/not a valid raiops token/)

    for (const args of [
      ['token:create', '--name', 'Bad Name', '--role', 'read_only', '--expires', '1d'],
      ['token:create', '--name', 'x', '--role', 'nope', '--expires', '1d'],
      ['token:create', '--name', 'y', '--role', 'read_only', '--expires', 'soon'],
    ]) {
      const bad = await cli(args)
      expect(bad.code, args.join(' ')).toBe(2)
      expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    }
    // No token, password, hash or session secret in any output kept above or anywhere in the audit trail.
    const audit = JSON.stringify(queryControlDb(env.RAIOPS_HOME, 'select * from audit_logs'))
    const [{password_hash: hash}] = queryControlDb<{password_hash: string}>(
      env.RAIOPS_HOME,
      "select password_hash from operators where email = 'ops@example.com'",
    )
    const sessionJwt = readFileSync(join(env.RAIOPS_HOME, 'session.jwt'), 'utf8').trim()
    const sessionKey = readFileSync(join(env.RAIOPS_HOME, 'session.key'), 'utf8').trim()
    for (const text of [...outputs.filter((o) => o !== created.stdout), audit]) {
      for (const secret of [token, short.token, ADMIN_PASSWORD, hash, sessionJwt, sessionKey]) expect(text).not.toContain(secret)
    }
  })

  it('rds:show --reveal prints the stored password to a role with rds.secrets and audits it; plain reads are not audited', async () => {
    const secret = 'Reveal-Me-Pw-9'
    const added = await cli(
      [
        'rds:add',
        '--name',
        'secretive',
        '--host',
        '127.0.0.1',
        '--port',
        '3306',
        '--username',
        'root',
        '--rai-database',
        'rai_s',
        '--no-test',
        '--no-input',
        '--password-stdin',
      ],
      {input: `${secret}\n`},
    )
    expect(added.code, added.stderr).toBe(0)
    const count = () => queryControlDb<{n: number}>(env.RAIOPS_HOME, 'select count(*) as n from audit_logs')[0].n
    const before = count()
    const plain = await cli(['rds:show', 'secretive'])
    expect(plain.stdout).not.toContain(secret)
    expect(count()).toBe(before)

    const revealed = await cli(['rds:show', 'secretive', '--reveal', '--json'])
    expect(revealed.code, revealed.stderr).toBe(0)
    expect(JSON.parse(revealed.stdout)).toMatchObject({name: 'secretive', password: secret})
    const [entry] = queryControlDb<{actor: string; new_values: string}>(env.RAIOPS_HOME, "select actor, new_values from audit_logs where action = 'rds.reveal'")
    expect(entry.actor).toBe('ops@example.com')
    expect(entry.new_values).not.toContain(secret)

    const token = JSON.parse((await cli(['token:create', '--name', 'reader', '--role', 'read_only', '--expires', '1d', '--json'])).stdout).token as string
    const refused = await cli(['rds:show', 'secretive', '--reveal'], {env: {RAIOPS_TOKEN: token}})
    expect(refused.code).toBe(5)
    expect(refused.stderr).toMatch(/may not run rds:show --reveal: it needs the permission rds.secrets/)
    expect(refused.stdout).not.toContain(secret)
    expect(queryControlDb<{n: number}>(env.RAIOPS_HOME, "select count(*) as n from audit_logs where action = 'rds.reveal'")[0].n).toBe(1)
  })

  it('a session file kept after sign-out, or after a new password, is refused: the session ends on record', async () => {
    expect((await login()).code).toBe(0)
    const file = join(env.RAIOPS_HOME, 'session.jwt')
    const saved = readFileSync(file, 'utf8')
    expect((await cli(['auth:logout'])).stdout).toMatch(/signed out/)
    writeFileSync(file, saved, {mode: 0o600})
    const replayed = await cli(['rds:list'])
    expect(replayed.code).toBe(5)
    expect(replayed.stderr).toMatch(/the stored session was ended/)

    expect((await login()).code).toBe(0)
    const current = readFileSync(file, 'utf8')
    expect((await cli(['operator:password', 'ops@example.com', '--password-stdin'], {input: `${ADMIN_PASSWORD}\n`})).code).toBe(0)
    writeFileSync(file, current, {mode: 0o600})
    expect((await cli(['rds:list'])).code).toBe(5)
    expect((await login()).code).toBe(0)
  })

  it('nobody hands out more than they hold: a token manager cannot create a system_admin token or grant itself more', async () => {
    expect((await cli(['role:create', 'token_manager', '-p', 'operator.manage', '-p', 'operator.view', '-p', 'rds.view'])).code).toBe(0)
    const manager = JSON.parse((await cli(['token:create', '--name', 'manager', '--role', 'token_manager', '--expires', '1d', '--json'])).stdout)
      .token as string
    const asManager = {env: {RAIOPS_TOKEN: manager}}
    const escalate = await cli(['token:create', '--name', 'root-ish', '--role', 'system_admin', '--expires', '1d'], asManager)
    expect(escalate.code).toBe(5)
    expect(escalate.stderr).toMatch(/the role system_admin grants .*which you do not hold yourself/)
    expect((await cli(['role:grant', 'token_manager', 'rds.manage'], asManager)).code).toBe(5)
    expect((await cli(['role:create', 'wider', '-p', 'rds.secrets'], asManager)).code).toBe(5)
    expect((await cli(['operator:edit', 'ops@example.com', '--role', 'read_only'], asManager)).code).toBe(5)
    // Within its own permissions it may.
    expect((await cli(['token:create', '--name', 'viewer-2', '--role', 'token_manager', '--expires', '1d'], asManager)).code).toBe(0)
    expect(queryControlDb<{n: number}>(env.RAIOPS_HOME, "select count(*) as n from api_tokens where name = 'root-ish'")[0].n).toBe(0)
    const digits = await cli(['token:create', '--name', '12345', '--role', 'read_only', '--expires', '1d'])
    expect(digits.code).toBe(2)
  })

  it('parallel wrong passwords are all counted: six at once lock the email; a password typed as the email is not recorded', async () => {
    // Spawned: six processes at once, as six terminals would; in-process runs take turns.
    const terminals = new CliSession(env)
    const attempts = await Promise.all(Array.from({length: 6}, () => login('parallel-wrong-pw-1', [], terminals)))
    expect(attempts.every((a) => a.code === 5)).toBe(true)
    const locked = await login()
    expect(locked.code).toBe(5)
    expect(
      queryControlDb<{locked_until: string | null}>(env.RAIOPS_HOME, "select locked_until from operators where email = 'ops@example.com'")[0].locked_until,
    ).not.toBeNull()
    write("update operators set locked_until = null, failed_logins = 0 where email = 'ops@example.com'")
    const typo = await cli(['auth:login', '--email', 'my-secret-password-typed-here', '--password-stdin'], {input: 'whatever-password-1\n'})
    expect(typo.code).toBe(5)
    const audit = JSON.stringify(queryControlDb(env.RAIOPS_HOME, "select actor, new_values from audit_logs where action = 'auth.login_failed'"))
    expect(audit).not.toContain('my-secret-password-typed-here')
    expect(audit).toContain('(not an email address)')
    expect((await login()).code).toBe(0)
  })
})

describe('names and descriptions operators type, in human output', () => {
  let home: TestDir
  let session: CliSession
  const cli = (args: string[], input?: string): Promise<CliResult> => session.run(args, {input})

  beforeAll(async () => {
    home = createTestDir('raiops-auth-escape-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
  })

  afterAll(() => home?.drop())

  it("role:show escapes a role's description: an escape sequence or a newline cannot colour the terminal or forge a line; --json keeps it exact", async () => {
    const description = 'hi\u001b[31mRED\nfake line\u202e'
    const created = await cli(['role:create', 'evil', '--description', description, '-p', 'rds.view'])
    expect(created.code, created.stderr).toBe(0)
    const shown = await cli(['role:show', 'evil'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(`${shown.stdout}${shown.stderr}`).not.toMatch(RAW_CONTROL)
    expect(shown.stdout).not.toMatch(/^fake line/m)
    expect(shown.stdout).toContain('evil (custom): hi\\u001b[31mRED\\nfake line\\u202e\n')
    const json = await cli(['role:show', 'evil', '--json'])
    expect((JSON.parse(json.stdout) as {description: string}).description).toBe(description)
  })

  it("auth:whoami escapes the operator's name as stored; --json keeps it exact", async () => {
    const name = 'Eve\u001b]0;owned\u0007\nrole         system_admin'
    const added = await cli(['operator:add', '--email', 'eve@example.com', '--name', name, '--role', 'read_only', '--password-stdin'], 'eve-password-0001\n')
    expect(added.code, added.stderr).toBe(0)
    const login = await cli(['auth:login', '--email', 'eve@example.com', '--password-stdin'], 'eve-password-0001\n')
    expect(login.code, login.stderr).toBe(0)
    const who = await cli(['auth:whoami'])
    expect(who.code, who.stderr).toBe(0)
    expect(`${who.stdout}${who.stderr}`).not.toMatch(RAW_CONTROL)
    expect(who.stdout.split('\n').filter((line) => line.startsWith('role '))).toEqual(['role         read_only'])
    expect(who.stdout).toContain('operator eve@example.com (Eve\\u001b]0;owned\\u0007\\nrole         system_admin)\n')
    expect((JSON.parse((await cli(['auth:whoami', '--json'])).stdout) as {name: string}).name).toBe(name)
  })
})
