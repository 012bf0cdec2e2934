import type {Knex} from 'knex'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'
import {startTerminal} from '../support/terminal.js'

const REASON = 'left the company, ticket SUP-1234'

describe('user:suspend, user:reactivate, tenant:suspend, tenant:reactivate', () => {
  let home: TestDir
  let env: Record<string, string>
  let master: RaiFixture
  let eu: RaiFixture
  let proxy: FaultProxy
  let session: CliSession
  let ana: {id: number; email: string}
  const tokens = new Map<string, string>()

  // In-process: what is tested is the rows, the output and the exit codes, not the process around them.
  const cli = (args: string[], options: {env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)
  const as = (role: string, args: string[]) => cli(args, {env: {RAIOPS_TOKEN: tokens.get(role) as string}})
  const query = <T>(sql: string): T[] => queryControlDb<T>(env.RAIOPS_HOME, sql)
  const on = async <T>(fixture: RaiFixture, work: (db: Knex) => Promise<T>): Promise<T> => {
    const db = await fixture.knex()
    try {
      return await work(db)
    } finally {
      await db.destroy()
    }
  }

  /** Every row the commands could write, on the tenant's RDS, the master and the control database. */
  const snapshot = async () => ({
    eu: await on(eu, async (db) => [await db('tenants').select('id', 'status', 'updated_at'), await db('users').select('id', 'status', 'updated_at')]),
    master: await on(master, (db) => db('user_email_routing').select('id', 'status', 'updated_at').orderBy('id')),
    control: [
      query('select id, status, updated_at from tenant_master order by id'),
      query('select source_id, status from user_email_routing_cache order by source_id'),
      query('select count(*) as n from audit_logs'),
    ],
  })
  const euStatus = (id: number) => on(eu, async (db) => ((await db('users').where({id}).first('status')) as {status: string}).status)
  const routingStatus = (userId: number) =>
    on(master, async (db) => ((await db('user_email_routing').where({rds_instance_id: 2, user_id: userId}).first('status')) as {status: string}).status)

  beforeAll(async () => {
    home = createTestDir('raiops-suspend-')
    ;[master, eu] = await Promise.all([
      createRaiFixture({engine: 'mysql', master: true, tenants: 1, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
      createRaiFixture({engine: 'sqlite', tenants: 2, usersPerTenant: 3, ghostUsersPerTenant: 1, locationsPerTenant: 0}),
    ])
    proxy = await startFaultProxy({targetHost: master.host ?? '127.0.0.1', targetPort: master.port ?? 3306})
    // eu's users are routed by the master too, as RDS 2.
    ana = await on(eu, async (db) => {
      await db('tenants').update({status: 'active'})
      const users = (await db('users').where({tenant_id: 1}).orderBy('id')) as Array<{id: number; email: string}>
      await db('users').where({id: users[0].id}).update({status: 'active'})
      return {id: Number(users[0].id), email: users[0].email}
    })
    const users = (await on(eu, (db) => db('users').orderBy('id'))) as Array<Record<string, unknown>>
    await on(master, async (db) => {
      const next = Number(((await db('user_email_routing').max('id as m').first()) as {m: unknown}).m) + 1
      const routes = users
        .filter((u) => !u.is_ghost)
        .map((u, i) => ({id: next + i, email: u.email, tenant_id: u.tenant_id, rds_instance_id: 2, user_id: u.id, password_hash: u.password, status: u.status}))
      await db('user_email_routing').insert(routes)
    })
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'suspend-admin-password-1', env: {RAIOPS_TOKEN: ''}, runner: 'in-process'})
    env = session.env
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
    for (const role of ['support_admin', 'billing_admin', 'read_only']) {
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

  const commands = () => [
    ['user:suspend', ana.email, '--tenant', 'eu:1', '--reason', REASON, '--yes'],
    ['user:reactivate', ana.email, '--all-tenants', '--reason', REASON, '--yes'],
    ['tenant:suspend', 'eu:1', '--reason', REASON, '--yes'],
    ['tenant:reactivate', 'eu:1', '--reason', REASON, '--yes'],
  ]

  it.each(['read_only', 'billing_admin'])('as %s: each of the four exits 5 naming its permission, nothing written on any server', async (role) => {
    const before = await snapshot()
    for (const args of commands()) {
      const result = await as(role, args)
      expect(result.code, result.stderr).toBe(5)
      expect(result.stderr).toMatch(args[0].startsWith('user:') ? /user\.edit/ : /tenant\.edit/)
      expect(result.stdout).toBe('')
    }
    expect(await snapshot()).toEqual(before)
  })

  it('--dry-run prints which rows on which servers change, and changes nothing (exit 0)', async () => {
    const before = await snapshot()
    const result = await cli(['user:suspend', ana.email.toUpperCase(), '--tenant', 'eu:1', '--reason', REASON, '--dry-run'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^Dry run, nothing is changed\. Plan for user\.suspend/)
    expect(result.stdout).toContain(`  RDS eu users: id ${ana.id} status active → suspended`)
    expect(result.stdout).toMatch(/ {2}master main user_email_routing: id \d+ status active → suspended/)
    expect(result.stdout).not.toMatch(/changed \(/)
    expect(await snapshot()).toEqual(before)
  })

  it('without a terminal and without --yes: the plan, then exit 2 saying to add --yes; nothing written', async () => {
    const before = await snapshot()
    const result = await cli(['tenant:suspend', 'eu:1', '--reason', REASON])
    expect(result.code).toBe(2)
    expect(result.stdout).toMatch(/RDS eu tenants: id 1 status active → suspended/)
    expect(result.stderr.trim()).toMatch(/^Error: tenant\.suspend changes the rows above and needs confirmation — add --yes/)
    const json = await cli(['tenant:suspend', 'eu:1', '--reason', REASON, '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {code: 'BAD_INPUT', exitCode: 2}})
    expect(await snapshot()).toEqual(before)
  })

  it.each([
    ['no --reason', ['user:suspend', 'a@example.com', '--tenant', 'eu:1', '--yes'], /--reason/],
    ['both --tenant and --all-tenants', ['user:suspend', 'a@example.com', '--tenant', 'eu:1', '--all-tenants', '--reason', REASON, '--yes'], /one of the two/],
    ['neither', ['user:reactivate', 'a@example.com', '--reason', REASON, '--yes'], /one of the two/],
    [
      'an unknown email everywhere',
      ['user:suspend', 'nobody@example.com', '--all-tenants', '--reason', REASON, '--yes'],
      /no tenant has a user with the email nobody@example\.com/,
    ],
    [
      'a user not in the tenant',
      ['user:suspend', 'nobody@example.com', '--tenant', 'eu:2', '--reason', REASON, '--yes'],
      /has no user with the email nobody@example\.com/,
    ],
    ['an unknown tenant', ['tenant:suspend', 'eu:42', '--reason', REASON, '--yes'], /RDS "eu" has no tenant 42 in the registry/],
    ['a zero timeout', ['tenant:suspend', 'eu:1', '--reason', REASON, '--yes', '--timeout', '0'], /--timeout must be a number of seconds above 0/],
  ])('%s: exit 2, one line, nothing written', async (_label, args, message) => {
    const before = await snapshot()
    const result = await cli(args)
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(await snapshot()).toEqual(before)
  })

  it('the master down: the RDS changed, the routing entry not, exit 3 saying which side; again: the routing entry only; a third: nothing to do', async () => {
    await proxy.setMode('refuse')
    const first = await cli(['user:suspend', ana.email, '--tenant', 'eu:1', '--reason', REASON, '--yes', '--timeout', '3'])
    await proxy.setMode('pass')
    expect(first.code, first.stderr).toBe(3)
    expect(first.stdout).toMatch(/^RDS eu, tenant 1 .*: changed \(1 row\)$/m)
    expect(first.stdout).toMatch(/^master main, routing entries of tenant 1 .*: failed — .*refused/m)
    expect(first.stdout).toMatch(/^raiops' control database: changed \(audit entry \d+\)$/m)
    expect(first.stderr).toMatch(/run the same command again once the server is back/)
    expect(await euStatus(ana.id)).toBe('suspended')
    expect(await routingStatus(ana.id)).toBe('active')

    const audits = () => query<{action: string}>('select action from audit_logs order by id').map((r) => r.action)
    const afterFirst = audits()
    const second = await as('support_admin', ['user:suspend', ana.email, '--tenant', 'eu:1', '--reason', REASON, '--yes', '--json'])
    expect(second.code, second.stderr).toBe(0)
    const result = JSON.parse(second.stdout) as {sides: Record<string, {status: string}>; auditIds: number[]; targets: Array<{user: {email: string}}>}
    expect(Object.fromEntries(Object.entries(result.sides).map(([k, v]) => [k, v.status]))).toEqual({rds: 'unchanged', master: 'changed', control: 'changed'})
    expect(result.auditIds).toHaveLength(1)
    expect(audits()).toEqual([...afterFirst, 'user.suspend.routing'])
    // support_admin does not hold pii.view: the email is masked.
    expect(result.targets[0].user.email).toMatch(/^.\*\*\*@/)
    expect(second.stdout).not.toContain(ana.email)
    expect(await routingStatus(ana.id)).toBe('suspended')

    const before = await snapshot()
    const third = await cli(['user:suspend', ana.email, '--tenant', 'eu:1', '--reason', REASON])
    expect(third.code, third.stderr).toBe(0)
    expect(third.stdout).toMatch(/RDS eu users: already as it should be, nothing to change/)
    expect(third.stdout).toMatch(/^raiops' control database: unchanged/m)
    expect(await snapshot()).toEqual(before)
    session.expectNoSecretInTranscript('$2y$')
  })

  it('tenant:suspend then tenant:reactivate with --yes: every routing entry suspended, then back to its user (a user suspended alone stays so)', async () => {
    const suspended = await cli(['tenant:suspend', 'eu:1', '--reason', REASON, '--yes'])
    expect(suspended.code, suspended.stderr).toBe(0)
    expect(suspended.stdout).toMatch(/^RDS eu, tenant 1 .*: changed \(1 row\)$/m)
    expect(suspended.stdout).toMatch(/^master main, routing entries of tenant 1 .*: changed \(2 rows\)$/m)
    expect(suspended.stdout).toMatch(/^raiops' control database: changed \(3 cached rows updated; audit entries \d+, \d+\)$/m)
    expect(
      query<{status: string}>(
        "select t.status from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = 'eu' and t.remote_tenant_id = 1",
      ),
    ).toEqual([{status: 'suspended'}])
    const entries = await on(master, (db) => db('user_email_routing').where({rds_instance_id: 2, tenant_id: 1}))
    expect(entries.every((e: {status: string}) => e.status === 'suspended')).toBe(true)

    const back = await cli(['tenant:reactivate', 'eu:1', '--reason', REASON, '--yes', '--json'])
    expect(back.code, back.stderr).toBe(0)
    const users = (await on(eu, (db) => db('users').where({tenant_id: 1, is_ghost: 0}))) as Array<{id: number; status: string}>
    for (const user of users) expect(await routingStatus(user.id)).toBe(user.status)
    expect(await routingStatus(ana.id)).toBe('suspended')
    const cache = query<{status: string; source_id: number}>('select source_id, status from user_email_routing_cache order by source_id')
    const live = (await on(master, (db) => db('user_email_routing').select('id', 'status').orderBy('id'))) as Array<{id: number; status: string}>
    expect(cache.map((c) => [c.source_id, c.status])).toEqual(live.map((l) => [l.id, l.status]))
  })

  it('at a terminal: the plan, then a question answered no by default (nothing written, exit 2); yes writes', async () => {
    const before = await snapshot()
    const declined = startTerminal(['tenant:suspend', 'eu:2', '--reason', REASON], {env: env})
    try {
      await declined.waitFor(/Make these changes\?/, {timeoutMs: 20_000})
      expect(declined.text()).toMatch(/RDS eu tenants: id 2 status active → suspended/)
      declined.type('\r')
      expect(await declined.exited).toBe(2)
      expect(declined.text()).toMatch(/cancelled: nothing was changed/)
    } finally {
      declined.kill()
    }
    expect(await snapshot()).toEqual(before)

    const accepted = startTerminal(['tenant:suspend', 'eu:2', '--reason', REASON], {env: env})
    try {
      await accepted.waitFor(/Make these changes\?/, {timeoutMs: 20_000})
      accepted.type('y\r')
      expect(await accepted.exited).toBe(0)
      expect(accepted.text()).toMatch(/RDS eu, tenant 2 .*: changed \(1 row\)/)
    } finally {
      accepted.kill()
    }
    expect(await on(eu, async (db) => ((await db('tenants').where({id: 2}).first('status')) as {status: string}).status)).toBe('suspended')
  })

  it("a role without pii.view sees the user's email masked in errors and in the audit trail (target and command line)", async () => {
    const before = await snapshot()
    const refused = await as('support_admin', ['user:suspend', ana.email, '--tenant', 'eu:2', '--reason', REASON, '--yes'])
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toMatch(/has no user with the email .\*\*\*@/)
    expect(refused.stderr).not.toContain(ana.email)
    const refusedJson = await as('support_admin', ['user:reactivate', ana.email, '--tenant', 'eu:2', '--reason', REASON, '--yes', '--json'])
    expect(refusedJson.code).toBe(2)
    expect(refusedJson.stdout).not.toContain(ana.email)
    expect(await snapshot()).toEqual(before)

    const listed = await as('read_only', ['audit:list', '--action', 'user.*', '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    const entries = JSON.parse(listed.stdout) as Array<{targetType: string; targetId: string; source: {command: string}}>
    expect(entries.length).toBeGreaterThan(0)
    for (const entry of entries) {
      expect(entry.targetType).toBe('user')
      expect(entry.targetId).toMatch(/^.\*\*\*@/)
      expect(entry.source.command).not.toContain(ana.email)
    }
    const table = await as('read_only', ['audit:list', '--action', 'user.*'])
    expect(table.stdout).not.toContain(ana.email)
  })
})
