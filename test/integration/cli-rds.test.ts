import Database from 'better-sqlite3'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {mysqlRdsAddArgs, type CliResult} from '../support/cli.js'
import {startFaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createMysqlUser, createTestDir, mysqlServer, type TestDir, type TestMysqlUser} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

type Proxy = Awaited<ReturnType<typeof startFaultProxy>>

const ADMIN_PASSWORD = 'admin-pass-Q81zx!'
/** RAIOPS_CONNECT_TIMEOUT_MS for every run; rds:add's connection test may take it + 2 s. */
const CONNECT_TIMEOUT_MS = 1500
/** Hang checks on a whole CLI run: its deadline plus a generous margin for starting and stopping node on a loaded machine. */
const CLI_MARGIN_MS = 8500

describe('rds commands against real servers', () => {
  let home: TestDir
  let env: Record<string, string>
  let fleet: RaiFixture
  let dbUser: TestMysqlUser
  const proxies: Proxy[] = []
  /** Every output of every command run here is kept, to check no secret ever leaks. */
  let session: CliSession
  const cli = (args: string[], options: {input?: string; env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)

  function controlDb(): Database.Database {
    return new Database(join(env.RAIOPS_HOME, 'raiops.sqlite'), {readonly: true})
  }

  function count(table: string): number {
    const db = controlDb()
    try {
      return (db.prepare(`select count(*) as n from ${table}`).get() as {n: number}).n
    } finally {
      db.close()
    }
  }

  const addArgs = (name: string, port: number, extra: string[] = []) => mysqlRdsAddArgs({name, port, user: dbUser.user, database: fleet.database, extra})

  beforeAll(async () => {
    home = createTestDir('raiops-home-')
    fleet = await createRaiFixture({engine: 'mysql', tenants: 3, usersPerTenant: 2, locationsPerTenant: 1, master: true})
    dbUser = await createMysqlUser(fleet.database)
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS)},
    })
    env = session.env
  })

  afterAll(async () => {
    // No secret in any output, nor anywhere in the control database but its encrypted form.
    const db = controlDb()
    const tables = (db.prepare(`select name from sqlite_master where type = 'table'`).all() as Array<{name: string}>).map((t) => t.name)
    const stored = tables.map((t) => JSON.stringify(db.prepare(`select * from "${t}"`).all())).join('\n')
    const audit = JSON.stringify(db.prepare('select * from audit_logs').all())
    const hashes = (db.prepare('select password_hash from operators').all() as Array<{password_hash: string}>).map((r) => r.password_hash)
    db.close()
    expect(stored).not.toContain(ADMIN_PASSWORD)
    if (dbUser) expect(stored).not.toContain(dbUser.password)
    for (const hash of hashes) expect(audit).not.toContain(hash)
    expect(audit).toContain('rds.add')
    await Promise.all(proxies.map((p) => p.close()))
    await dbUser?.drop()
    await fleet?.drop()
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD, dbUser?.password, ...hashes)
  })

  it('adds an RDS after testing the connection, and shows it without its password', async () => {
    const add = await cli([...addArgs('main', mysqlServer.port, ['--master', '--app-url', 'https://app.example.com']), '--json'], {
      input: `${dbUser.password}\n`,
    })
    expect(add.code, add.stderr).toBe(0)
    const json = JSON.parse(add.stdout)
    expect(json.rds).toMatchObject({id: 1, name: 'main', isMaster: true, passwordSet: true, state: 'online'})
    expect(json.test.serverVersion).toMatch(/MariaDB/)

    const show = await cli(['rds:show', 'main'])
    expect(show.code).toBe(0)
    expect(show.stdout).toContain('(set, encrypted)')
    const byId = await cli(['rds:show', '1', '--json'])
    expect(JSON.parse(byId.stdout)).toMatchObject({name: 'main', passwordSet: true})
    expect(byId.stdout).not.toMatch(/password_enc|v1\./)
  })

  it('rejects bad input with exit 2, one line, nothing written', async () => {
    const rdsBefore = count('rds_instances')
    const auditBefore = count('audit_logs')
    const cases: Array<[string[], RegExp]> = [
      [addArgs('p1', 70000), /--port must be from 1 to 65535|less than or equal to 65535/],
      [['rds:add', '--name', 'h1', '--host', '', '--username', 'x', '--rai-database', 'rai', '--no-test'], /--host must not be empty/],
      [['rds:add', '--name', 'e1', '--engine', 'oracle', '--host', 'h', '--username', 'x', '--rai-database', 'rai'], /oracle|engine/],
      [addArgs('main', mysqlServer.port, ['--no-test']), /an RDS named "main" already exists/],
      [addArgs('m2', mysqlServer.port, ['--master', '--no-test']), /"main" \(id 1\) is already the master RDS/],
      [['rds:add', '--name', 'x1', '--host', '127.0.0.1'], /--username is required/],
    ]
    for (const [args, message] of cases) {
      const result = await cli(args, {input: `${dbUser.password}\n`})
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), `${args.join(' ')}: ${result.stderr}`).toHaveLength(1)
      expect(result.stderr, args.join(' ')).toMatch(message)
    }
    expect(count('rds_instances')).toBe(rdsBefore)
    expect(count('audit_logs')).toBe(auditBefore)
  })

  it('saves nothing when the server refuses, blackholes or rejects the password', async () => {
    const refused = await startFaultProxy({targetHost: '127.0.0.1', targetPort: mysqlServer.port, mode: 'refuse'})
    const blackholed = await startFaultProxy({targetHost: '127.0.0.1', targetPort: mysqlServer.port, mode: 'blackhole'})
    proxies.push(refused, blackholed)
    const before = count('rds_instances')

    const r1 = await cli(addArgs('refused', refused.port), {input: dbUser.password})
    expect(r1.code).toBe(1)
    expect(r1.stderr).toMatch(/cannot connect to refused: connection refused/)

    const r2 = await cli(addArgs('silent', blackholed.port), {input: dbUser.password})
    expect(r2.code).toBe(1)
    expect(r2.stderr).toMatch(/cannot connect to silent: .*(timed out|no answer)/i)
    // a hang check: the connection test's deadline (connect timeout + 2 s) plus the margin
    expect(r2.ms).toBeLessThan(CONNECT_TIMEOUT_MS + 2000 + CLI_MARGIN_MS)

    const r3 = await cli(addArgs('wrongpw', mysqlServer.port), {input: 'not-the-password-9'})
    expect(r3.code).toBe(1)
    expect(r3.stderr).toMatch(/access denied/i)
    expect(r3.stderr).not.toContain('not-the-password-9')
    for (const r of [r1, r2, r3]) expect(r.stderr.trim().split('\n')).toHaveLength(1)
    const verbose = await cli([...addArgs('wrongpw', mysqlServer.port), '--verbose', '--json'], {input: 'not-the-password-9'})
    expect(verbose.code).toBe(1)
    expect(JSON.parse(verbose.stdout).error).toMatchObject({
      code: 'CONNECTION',
      exitCode: 1,
      message: expect.stringMatching(/access denied/i),
    })
    expect(verbose.stderr).toContain('    at ')
    expect(verbose.stdout + verbose.stderr).not.toContain('not-the-password-9')
    expect(count('rds_instances')).toBe(before)

    const saved = await cli(addArgs('refused', refused.port, ['--no-test']), {input: dbUser.password})
    expect(saved.code, saved.stderr).toBe(0)
    expect(count('rds_instances')).toBe(before + 1)
  })

  it('tests one or all instances, exit 3 when any fails, within the deadline', async () => {
    const one = await cli(['rds:test', 'main', '--json'])
    expect(one.code, one.stderr).toBe(0)
    expect(JSON.parse(one.stdout)).toEqual([expect.objectContaining({name: 'main', ok: true, serverVersion: expect.stringMatching(/MariaDB/)})])

    const all = await cli(['rds:test', '--all', '--json', '--timeout', '3'])
    expect(all.code).toBe(3)
    const results = JSON.parse(all.stdout) as Array<{name: string; ok: boolean; error: string | null}>
    expect(results.find((r) => r.name === 'main')?.ok).toBe(true)
    expect(results.find((r) => r.name === 'refused')).toMatchObject({ok: false, error: expect.stringMatching(/refused/)})

    const table = await cli(['rds:test', '--all'])
    expect(table.stdout).toMatch(/main\s.*ok/)
    expect(table.stdout).toMatch(/refused\s.*failed/)
  })

  it('lists in every format', async () => {
    const table = await cli(['rds:list'])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/main \(master\)/)
    const csv = await cli(['rds:list', '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toBe('id,name,engine,endpoint,database,master,active,state,health,checked')
    expect(csv.stdout).toContain(`1,main,mysql,127.0.0.1:${mysqlServer.port},${fleet.database},true,true,online,unknown,`)
    const ndjson = await cli(['rds:list', '--format', 'ndjson'])
    const lines = ndjson.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.map((l) => l.name)).toEqual(['main', 'refused'])
    const out = join(home.path, 'rds.json')
    const file = await cli(['rds:list', '--format', 'json', '--output', out])
    expect(file.stdout).toBe('')
    expect(file.stderr).toContain(`wrote 2 row(s) to ${out}`)
    const bad = await cli(['rds:list', '--format', 'xml'])
    expect(bad.code).toBe(2)
  })

  it('edits, changes state and removes by name or id', async () => {
    const edit = await cli(['rds:edit', 'refused', '--port', String(mysqlServer.port), '--json'], {input: dbUser.password})
    expect(edit.code, edit.stderr).toBe(0)
    expect(JSON.parse(edit.stdout)).toMatchObject({changed: ['port'], test: {ok: true}})

    const drain = await cli(['rds:drain', '2'])
    expect(drain.stdout).toContain('online → draining')
    const lock = await cli(['rds:lock', 'refused', '--json'])
    expect(JSON.parse(lock.stdout)).toMatchObject({previous: 'draining', changed: true, rds: {state: 'locked'}})
    const online = await cli(['rds:online', 'refused'])
    expect(online.stdout).toContain('locked → online')

    const missing = await cli(['rds:show', 'nope'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no RDS named "nope"')

    const unconfirmed = await cli(['rds:remove', 'refused'])
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.stderr).toContain('pass --yes')
    const removed = await cli(['rds:remove', 'refused', '--yes'])
    expect(removed.code, removed.stderr).toBe(0)
    expect(count('rds_instances')).toBe(1)
  })

  it('rotates keys from the CLI, and a wrong key is named and changes nothing', async () => {
    const keyFile = join(env.RAIOPS_HOME, 'master.key')
    const {readFileSync} = await import('node:fs')
    const current = readFileSync(keyFile, 'utf8').trim()
    const currentKid = current.split(':')[0]
    const auditBefore = count('audit_logs')

    const wrong = await cli(['rds:test', 'main'], {env: {RAIOPS_MASTER_KEY: `${currentKid}:${Buffer.alloc(32, 9).toString('base64')}`}})
    expect([1, 2]).toContain(wrong.code)
    expect(wrong.stderr).toContain(`wrong master key: key "${currentKid}"`)
    const wrongEdit = await cli(['rds:edit', 'main', '--password-stdin', '--no-test'], {
      input: 'x-new-pass-1',
      env: {RAIOPS_MASTER_KEY: Buffer.alloc(32, 8).toString('base64')},
    })
    expect(wrongEdit.code).toBe(2)
    expect(wrongEdit.stderr).toContain('wrong master key')
    expect(count('audit_logs')).toBe(auditBefore)

    const rotate = await cli(['keys:rotate', '--json'])
    expect(rotate.code, rotate.stderr).toBe(0)
    const {activeKid} = JSON.parse(rotate.stdout) as {activeKid: string}
    expect(JSON.parse(rotate.stdout)).toMatchObject({reencrypted: 1, kids: [activeKid, currentKid]})
    expect(readFileSync(keyFile, 'utf8').trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${activeKid}:`)), current])
    const test = await cli(['rds:test', 'main'])
    expect(test.code, test.stderr).toBe(0)
  })
})
