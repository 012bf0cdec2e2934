import bcrypt from 'bcryptjs'
import type {Knex} from 'knex'
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CLI_BIN, cliEnv, queryControlDb, type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, LARAVEL_TEST_PASSWORD, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'
import {startTerminal} from '../support/terminal.js'

const REASON = 'locked out of two tenants, ticket SUP-1234'
const EMAIL = 'pat.person@example.com'
const HASH_SHAPE = /\$2[abxy]?\$\d\d\$/
const PHP = spawnSync('php', ['--version'], {encoding: 'utf8'}).status === 0

describe('password:sync', () => {
  let home: TestDir
  let master: RaiFixture
  let eu: RaiFixture
  let proxy: FaultProxy
  let session: CliSession
  const tokens = new Map<string, string>()
  const passwords: string[] = []

  // In-process: what is tested is the rows, the output and the exit codes, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const as = (role: string, args: string[], input?: string) => cli(args, {env: {RAIOPS_TOKEN: tokens.get(role) as string}, input})
  const query = <T>(sql: string): T[] => queryControlDb<T>(session.env.RAIOPS_HOME, sql)
  const on = async <T>(fixture: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> => {
    const db = await fixture.knex()
    try {
      return await work(db)
    } finally {
      await db.destroy()
    }
  }
  /** The person's hashes: their users on eu (two tenants) and on main, and their routing entries. */
  const personHashes = async (): Promise<string[]> => [
    ...((await on(eu, (db) => db('users').where({email: EMAIL}).orderBy('id').pluck('password'))) as string[]),
    ...((await on(master, (db) => db('users').where({email: EMAIL}).orderBy('id').pluck('password'))) as string[]),
    ...((await on(master, (db) => db('user_email_routing').where({email: EMAIL}).orderBy('id').pluck('password_hash'))) as string[]),
  ]
  const snapshot = async () => ({
    eu: await on(eu, (db) => db('users').select('id', 'password', 'updated_at').orderBy('id')),
    master: await on(master, async (db) => [
      await db('users').select('id', 'password', 'updated_at').orderBy('id'),
      await db('user_email_routing').select('id', 'password_hash', 'updated_at').orderBy('id'),
    ]),
    audit: query('select count(*) as n from audit_logs'),
  })
  const reset = (password: string, extra: string[] = []) => {
    passwords.push(password)
    return cli(['password:sync', EMAIL, '--reset', '--password-stdin', '--reason', REASON, '--yes', ...extra], {input: `${password}\n`})
  }

  beforeAll(async () => {
    home = createTestDir('raiops-password-sync-')
    ;[master, eu] = await Promise.all([
      createRaiFixture({engine: 'mysql', master: true, tenants: 1, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
      createRaiFixture({engine: 'sqlite', tenants: 3, usersPerTenant: 2, ghostUsersPerTenant: 1, locationsPerTenant: 0}),
    ])
    proxy = await startFaultProxy({targetHost: master.host ?? '127.0.0.1', targetPort: master.port ?? 3306})
    const person = (id: number, tenant: number) => ({
      id,
      tenant_id: tenant,
      name: 'Pat Person',
      email: EMAIL,
      password: bcrypt.hashSync(LARAVEL_TEST_PASSWORD, 4).replace(/^\$2b\$/, '$2y$'),
      status: 'active',
      is_ghost: false,
    })
    await on(eu, (db) => db('users').insert([person(1001, 1), person(1002, 2)]))
    await on(master, (db) => db('users').insert([person(1001, 1)]))
    const users = (await on(eu, (db) => db('users').orderBy('id'))) as Array<Record<string, unknown>>
    await on(master, async (db) => {
      const own = (await db('users').where({email: EMAIL})) as Array<Record<string, unknown>>
      await db('user_email_routing').insert({
        email: EMAIL,
        tenant_id: 1,
        rds_instance_id: 1,
        user_id: own[0].id,
        password_hash: own[0].password,
        status: 'active',
      })
      const next = Number(((await db('user_email_routing').max('id as m').first()) as {m: unknown}).m) + 1
      const routes = users
        .filter((u) => !u.is_ghost)
        .map((u, i) => ({id: next + i, email: u.email, tenant_id: u.tenant_id, rds_instance_id: 2, user_id: u.id, password_hash: u.password, status: 'active'}))
      await db('user_email_routing').insert(routes)
    })
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'password-sync-admin-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    const steps = [
      [
        'rds:add',
        '--name',
        'main',
        '--host',
        '127.0.0.1',
        '--port',
        String(proxy.port),
        '--username',
        master.user ?? 'root',
        '--rai-database',
        master.database,
        '--master',
        '--no-test',
        '--no-input',
      ],
      ['rds:add', '--name', 'eu', '--engine', 'sqlite', '--file', eu.database, '--no-test'],
      ['sync:tenants'],
      ['sync:routing', '--full'],
    ]
    for (const args of steps) {
      const result = await cli(args)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
    }
    // support_admin's permissions but user.password-reset (the built-in role's are fixed).
    const lite = ['tenant.view', 'tenant.edit', 'tenant.impersonate', 'user.view', 'user.edit', 'audit.view', 'rds.view'].flatMap((p) => ['--permission', p])
    expect((await cli(['role:create', 'support_lite', ...lite])).code).toBe(0)
    for (const role of ['support_admin', 'read_only', 'support_lite']) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
  })

  afterAll(async () => {
    await proxy?.close()
    await Promise.all([master?.drop(), eu?.drop()])
    home?.drop()
  })

  it('read_only, and a support role without user.password-reset: exit 5 naming it for every mode, nothing written anywhere', async () => {
    const before = await snapshot()
    for (const role of ['read_only', 'support_lite'])
      for (const mode of [
        ['--reset', '--password-stdin'],
        ['--from-tenant', 'eu:1'],
        ['--current-stdin', '--password-stdin'],
      ]) {
        const result = await as(role, ['password:sync', EMAIL, ...mode, '--reason', REASON, '--yes'], `${LARAVEL_TEST_PASSWORD}\nnew-password-x1\n`)
        expect(result.code, result.stderr).toBe(5)
        expect(result.stderr).toMatch(/user\.password-reset/)
        expect(result.stdout).toBe('')
      }
    expect(await snapshot()).toEqual(before)
  })

  it('--dry-run prints the rows on each server whose hash differs, never a hash, and writes nothing', async () => {
    const before = await snapshot()
    const result = await cli(['password:sync', EMAIL, '--reset', '--password-stdin', '--reason', REASON, '--dry-run'], {input: 'dry-run-password-1\n'})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(
      /^Dry run, nothing is changed\. Plan for user\.password-sync of pat\.person@example\.com: a new password set by an operator, bcrypt cost 4/,
    )
    expect(result.stdout).toMatch(/^ {2}RDS eu users id 1001 \(tenant 1 ".*" on eu\): hash differs, written$/m)
    expect(result.stdout).toMatch(/^ {2}master main user_email_routing id \d+ \(tenant 2 ".*" on eu\): hash differs, written$/m)
    expect(result.stdout).not.toMatch(HASH_SHAPE)
    expect(await snapshot()).toEqual(before)
  })

  it.each([
    ['no way to choose the password', ['--reason', REASON, '--yes'], '', /exactly one of --current-stdin, --reset and --from-tenant/],
    ['two ways', ['--reset', '--from-tenant', 'eu:1', '--reason', REASON, '--yes'], '', /exactly one of/],
    ['73 bytes', ['--reset', '--password-stdin', '--reason', REASON, '--yes'], `${'é'.repeat(36)}x\n`, /73 bytes long; bcrypt reads only the first 72/],
    ['a blank password', ['--reset', '--password-stdin', '--reason', REASON, '--yes'], '   \n', /the new password is empty/],
    ['no terminal, no --password-stdin', ['--reset', '--reason', REASON, '--yes'], '', /the new password is needed/],
    ['a tenant not the person’s', ['--from-tenant', 'eu:3', '--reason', REASON, '--yes'], '', /is not one of the tenants/],
    ['no --yes without a terminal', ['--reset', '--password-stdin', '--reason', REASON], 'a-new-password-2\n', /needs confirmation — add --yes/],
  ])('%s: exit 2, one line, nothing written', async (_label, args, input, message) => {
    const before = await snapshot()
    const result = await cli(['password:sync', EMAIL, ...args], {input})
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(await snapshot()).toEqual(before)
  })

  it('an unknown email: exit 2', async () => {
    const result = await cli(['password:sync', 'nobody@example.com', '--from-tenant', 'eu:1', '--reason', REASON, '--yes'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/no tenant has a user with the email nobody@example\.com/)
  })

  it('--current-stdin: a wrong current password exits 5 and is audited without it; the right one writes every row (--json: no hash)', async () => {
    const before = await snapshot()
    passwords.push('wrong-current-pw', 'next-password-3')
    const wrong = await cli(['password:sync', EMAIL, '--current-stdin', '--password-stdin', '--reason', REASON, '--yes'], {
      input: 'wrong-current-pw\nnext-password-3\n',
    })
    expect(wrong.code, wrong.stderr).toBe(5)
    expect(wrong.stderr).toMatch(/the current password matches none of pat\.person@example\.com's \d+ password hash/)
    const refused = query<{action: string; new_values: string}>("select action, new_values from audit_logs where action = 'user.password-sync.refused'")
    expect(refused).toHaveLength(1)
    expect(refused[0].new_values).not.toMatch(HASH_SHAPE)
    expect({...(await snapshot()), audit: null}).toEqual({...before, audit: null})

    const right = await cli(['password:sync', EMAIL, '--current-stdin', '--password-stdin', '--reason', REASON, '--yes', '--json'], {
      input: `${LARAVEL_TEST_PASSWORD}\nnext-password-3\n`,
    })
    expect(right.code, right.stderr).toBe(0)
    expect(right.stdout).not.toMatch(HASH_SHAPE)
    const result = JSON.parse(right.stdout) as {complete: boolean; rows: unknown[]; auditIds: number[]}
    expect(result.complete).toBe(true)
    expect(result.rows).toHaveLength(6)
    const written = new Set(await personHashes())
    expect(written.size).toBe(1)
    expect(bcrypt.compareSync('next-password-3', [...written][0])).toBe(true)
  })

  it.skipIf(!PHP)("PHP's password_verify accepts the written hash (RAI is a Laravel application)", async () => {
    const result = await reset('php-peer-Pässwort-4')
    expect(result.code, result.stderr).toBe(0)
    const [hash] = new Set(await personHashes())
    expect(hash).toMatch(/^\$2y\$04\$/)
    const verify = (password: string) =>
      spawnSync('php', ['-r', 'exit(password_verify($argv[1], $argv[2]) ? 0 : 1);', '--', password, hash], {encoding: 'utf8'}).status
    expect(verify('php-peer-Pässwort-4')).toBe(0)
    expect(verify('php-peer-Pässwort-5')).toBe(1)
  })
  it.skipIf(PHP)('PHP peer check skipped: `php` is not on PATH (.ci/run installs php-cli when apt can reach Debian)', () => {})

  it('the master refused: the user rows written, exit 3 naming what is left; again: the routing entries only', async () => {
    await proxy.setMode('refuse')
    const first = await reset('master-down-password-5', ['--timeout', '3'])
    await proxy.setMode('pass')
    expect(first.code, first.stderr).toBe(3)
    expect(first.stdout).toMatch(/^RDS eu users: changed \(2 rows\)$/m)
    expect(first.stdout).toMatch(/^master main user_email_routing: failed — /m)
    expect(first.stdout).toMatch(/^still another hash: tenant 1 ".*" on main \(users, user_email_routing\)$/m)
    expect(first.stderr).toMatch(/run the same command again once the server is back/)
    const audits = query<{n: number}>('select count(*) as n from audit_logs')[0].n
    const second = await reset('master-down-password-5')
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toMatch(/^master main user_email_routing: changed \(3 rows\)$/m)
    expect(second.stdout).not.toMatch(/^RDS eu users/m)
    expect(query<{n: number}>('select count(*) as n from audit_logs')[0].n).toBe(audits + 2)
    expect(new Set(await personHashes()).size).toBe(1)
  })

  it('at a terminal: the current password asked hidden, the new one twice, the plan confirmed; nothing echoed', async () => {
    passwords.push('terminal-password-7')
    const term = startTerminal(['password:sync', EMAIL, '--current-stdin', '--reason', REASON], {env: session.env})
    try {
      await term.waitFor(/The person's current password/, {timeoutMs: 20_000})
      term.type('master-down-password-5\r')
      await term.waitFor(/New password for the person/)
      term.type('terminal-password-7\r')
      await term.waitFor(/Repeat it/)
      term.type('terminal-password-7\r')
      await term.waitFor(/Write the hash to these rows\?/, {timeoutMs: 20_000})
      expect(term.text()).toMatch(/RDS eu users id 1001 .*: hash differs, written/)
      term.type('y\r')
      expect(await term.exited).toBe(0)
      expect(term.text()).toMatch(/^master main user_email_routing: changed \(3 rows\)$/m)
      expect(term.text()).not.toMatch(/master-down-password-5|terminal-password-7/)
      expect(term.text()).not.toMatch(HASH_SHAPE)
    } finally {
      term.kill()
    }
    const written = [...new Set(await personHashes())]
    expect(written).toHaveLength(1)
    expect(bcrypt.compareSync('terminal-password-7', written[0])).toBe(true)
  })

  it('kill -9 while the master write waits: every row holds the old hash or the new one; a re-run converges', async () => {
    const oldHash = [...new Set(await personHashes())]
    expect(oldHash).toHaveLength(1)
    const password = 'killed-midway-password-6'
    passwords.push(password)
    // The routing entries locked by another session: the run's UPDATE on the master waits, as on a silent server.
    const lock = await master.knex()
    const probe = await master.knex()
    const trx = await lock.transaction()
    try {
      await trx('user_email_routing').where({email: EMAIL}).forUpdate().select('id')
      const child = spawn(process.execPath, [CLI_BIN, 'password:sync', EMAIL, '--reset', '--password-stdin', '--reason', REASON, '--yes', '--timeout', '60'], {
        env: cliEnv(session.env),
        stdio: ['pipe', 'ignore', 'ignore'],
      })
      const exited = new Promise((resolve) => child.on('close', resolve))
      child.stdin.end(`${password}\n`)
      let waiting: number | null = null
      const waitingUpdate = async () => {
        const rows = (await probe('information_schema.processlist')
          .select('id')
          .where({db: master.database})
          .andWhere('info', 'like', 'update `user_email_routing`%')) as Array<{id: unknown}>
        waiting = rows.length > 0 ? Number(rows[0].id) : null
      }
      const deadline = Date.now() + 30_000
      while (waiting === null && Date.now() < deadline) {
        await waitingUpdate()
        if (waiting === null) await new Promise((r) => setTimeout(r, 50))
      }
      expect(waiting, 'the run reached the master write').not.toBeNull()
      child.kill('SIGKILL')
      await exited
      // The dead client's statement is ended on the server too, as a server does when it notices the client gone.
      await probe.raw(`KILL QUERY ${Number(waiting)}`)
    } finally {
      await trx.rollback()
      await lock.destroy()
      await probe.destroy()
    }
    const middle = await personHashes()
    const fresh = middle.filter((h) => h !== oldHash[0])
    expect(new Set(fresh).size).toBe(1)
    expect(bcrypt.compareSync(password, fresh[0])).toBe(true)
    expect(middle.filter((h) => h === oldHash[0]).length).toBeGreaterThan(0)

    const again = await reset(password)
    expect(again.code, again.stderr).toBe(0)
    const after = new Set(await personHashes())
    expect([...after]).toEqual([fresh[0]])
  })

  it('no password and no hash reached any output', async () => {
    expect(session.transcript.join('\n')).not.toMatch(HASH_SHAPE)
    session.expectNoSecretInTranscript(...passwords, LARAVEL_TEST_PASSWORD)
  })
})
