import {spawn} from 'node:child_process'
import {createHmac} from 'node:crypto'
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CLI_BIN, cliEnv, queryControlDb, RAW_CONTROL, type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, mysqlServer, type TestDir} from '../support/servers.js'
import {CliSession, initialisedHome, killStartedClis, startCli, waitFor} from '../support/session.js'

/** Commands run in-process unless two of them must contend (a lease, SQLite's write lock) or one is signalled: those get processes of their own. */
const SESSION = {runner: 'in-process', timeoutMs: 60_000} as const

describe('sync commands from the command line', () => {
  const ADMIN_PASSWORD = 'sync-admin-password-1'
  let home: TestDir
  let env: Record<string, string>
  let master: RaiFixture
  let eu: RaiFixture
  const proxies: FaultProxy[] = []
  let session: CliSession
  /** The same home, each command in a process of its own. */
  let terminals: CliSession

  const cli = (args: string[], options: {env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> => session.run(args, options)

  const query = <T>(sql: string): T[] => queryControlDb<T>(env.RAIOPS_HOME, sql)
  const count = (sql: string): number => (query<{n: number}>(sql)[0] as {n: number}).n

  async function proxy(mode: FaultProxy['mode']): Promise<FaultProxy> {
    const created = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode})
    proxies.push(created)
    return created
  }

  async function addRds(name: string, database: string, port: number, extra: string[] = []): Promise<void> {
    const result = await cli([
      'rds:add',
      '--name',
      name,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--username',
      'root',
      '--rai-database',
      database,
      '--no-test',
      '--no-input',
      ...extra,
    ])
    expect(result.code, result.stderr).toBe(0)
  }

  /** What a sync leaves in the control database, ready to compare between runs. */
  function snapshot() {
    return {
      tenants: query(
        'select rds_instance_id, remote_tenant_id, name, primary_contact_email, status, cached_user_count, cached_location_count, remote_missing_at from tenant_master order by rds_instance_id, remote_tenant_id',
      ),
      routing: query('select source_id, email, tenant_master_id, remote_user_id, status from user_email_routing_cache order by source_id'),
    }
  }

  beforeAll(async () => {
    home = createTestDir('raiops-sync-')
    ;[master, eu] = await Promise.all([
      createRaiFixture({
        engine: 'mysql',
        tenants: 40,
        usersPerTenant: 3,
        master: true,
        routingRdsInstanceId: 1,
        tenantNames: ["O'Brien \\ Sons", 'Café ☕ 🚀', 'Trailing  '],
      }),
      createRaiFixture({engine: 'mysql', tenants: 25, usersPerTenant: 2}),
    ])
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_CONNECT_TIMEOUT_MS: '1500'},
      ...SESSION,
    })
    env = session.env
    terminals = new CliSession(env, {timeoutMs: SESSION.timeoutMs})
    await addRds('main', master.database, mysqlServer.port, ['--master'])
    await addRds('eu', eu.database, mysqlServer.port)
  })

  afterAll(async () => {
    killStartedClis()
    await Promise.all(proxies.map((p) => p.close()))
    await Promise.all([master?.drop(), eu?.drop()])
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD)
    terminals?.expectNoSecretInTranscript(ADMIN_PASSWORD)
  })

  it.each([
    [['sync:tenants', '--shard', '5/4'], /invalid shard "5\/4": K must be between 1 and 4/],
    [['sync:tenants', '--max-age', '0'], /--max-age must be a duration/],
    [['sync:tenants', '--wait', '-1'], /--wait must be a number of seconds/],
    [['sync:tenants', '--concurrency', '0'], /concurrency/],
    [['sync:tenants', '--rds', 'nowhere'], /no RDS named "nowhere"/],
    [['sync:routing', '--full', '--truncate'], /--truncate|--full/],
    [['sync:all', '--format', 'xml'], /format/],
    [['routing:lookup', 'not-an-email'], /"not-an-email" is not an email address/],
  ])('%j: exit 2, one line, nothing run', async (args, message) => {
    const runs = count('select count(*) as n from sync_runs')
    const result = await cli(args)
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(count('select count(*) as n from sync_runs')).toBe(runs)
  })

  it('sync:all syncs tenants then routing; names round-trip; emails are lower-cased; a second run skips fresh RDS', async () => {
    const result = await cli(['sync:all', '--json'])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.status).toBe('ok')
    expect(report.tenants.totals.inserted).toBe(65)
    expect(report.routing.counts).toMatchObject({inserted: master.counts.routing, unlinked: 0})
    const names = query<{name: string}>('select name from tenant_master where rds_instance_id = 1 order by remote_tenant_id limit 3').map((r) => r.name)
    expect(names).toEqual(["O'Brien \\ Sons", 'Café ☕ 🚀', 'Trailing  '])
    expect(count('select count(*) as n from user_email_routing_cache where email <> lower(email)')).toBe(0)
    expect(count('select count(*) as n from user_email_routing_cache where tenant_master_id is null')).toBe(0)

    const again = await cli(['sync:tenants', '--format', 'ndjson'])
    expect(again.code).toBe(0)
    const events = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.filter((e) => e.type === 'rds').map((e) => [e.name, e.status])).toEqual([
      ['main', 'skipped'],
      ['eu', 'skipped'],
    ])
    expect(events.at(-1)).toMatchObject({type: 'summary', status: 'skipped'})
  })

  it('one RDS refused and one blackholed: the healthy one syncs, the others keep their tenants, exit 3 naming both', async () => {
    const refused = await proxy('pass')
    const silent = await proxy('pass')
    await addRds('refusing', eu.database, refused.port)
    await addRds('silent', eu.database, silent.port)
    const first = await cli(['sync:tenants', '--rds', 'refusing,silent', '--force'])
    expect(first.code, first.stderr).toBe(0)
    const before = query("select * from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name in ('refusing', 'silent') order by t.id")
    expect(before).toHaveLength(50)

    await refused.setMode('refuse')
    await silent.setMode('blackhole')
    await master.knex().then(async (db) => {
      await db('tenants').where({id: 1}).update({name: 'Renamed upstream'})
      await db.destroy()
    })
    const result = await cli(['sync:tenants', '--force', '--timeout', '4'])
    expect(result.code, result.stderr).toBe(3)
    expect(result.stdout).toMatch(/failed: refusing: connection refused/)
    expect(result.stdout).toMatch(/failed: silent: .*tim/)
    expect(
      query("select * from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name in ('refusing', 'silent') order by t.id"),
    ).toEqual(before)
    expect(query<{name: string}>('select name from tenant_master where rds_instance_id = 1 and remote_tenant_id = 1')[0].name).toBe('Renamed upstream')
    await cli(['rds:edit', 'refusing', '--no-active'])
    await cli(['rds:edit', 'silent', '--no-active'])
  })

  it('two sync:tenants at once: exactly one works, the other exits 6 naming the holder', async () => {
    const slow = await proxy({delayMs: 150})
    await addRds('slow', eu.database, slow.port)
    // Two processes: the lease names its holder host:pid, and in-process runs take turns.
    const [a, b] = await Promise.all([terminals.run(['sync:tenants', '--force']), terminals.run(['sync:tenants', '--force'])])
    const codes = [a.code, b.code].sort()
    expect(codes).toEqual([0, 6])
    const busy = a.code === 6 ? a : b
    expect(busy.stderr).toMatch(/already running on .* since/)
    expect(count('select count(*) as n from locks')).toBe(0)
    await cli(['rds:edit', 'slow', '--no-active'])
  })

  it('a run killed with SIGKILL mid-sync: the next run takes over its lease and converges to the same state', async () => {
    const slow = await proxy({delayMs: 250})
    await addRds('slow-kill', eu.database, slow.port)
    await cli(['sync:all', '--force', '--full'])
    const reference = snapshot()

    const killed = startCli(['sync:tenants', '--force'], {env})
    await waitFor(() => count("select count(*) as n from sync_runs where status = 'running'") > 0 && count('select count(*) as n from locks') > 0, {
      timeoutMs: 20_000,
      intervalMs: 25,
    })
    killed.child.kill('SIGKILL')
    await killed.exited
    expect(count('select count(*) as n from locks')).toBe(1)

    const next = await cli(['sync:all', '--force', '--full'])
    expect(next.code, next.stderr).toBe(0)
    expect(snapshot()).toEqual(reference)
    expect(count("select count(*) as n from sync_runs where status = 'running'")).toBe(0)
    expect(count("select count(*) as n from sync_runs where error like 'interrupted%'")).toBeGreaterThan(0)
    await cli(['rds:edit', 'slow-kill', '--no-active'])
  })

  it('Ctrl-C stops cleanly: exit 130, lease released, the interrupted RDS unchanged', async () => {
    const slow = await proxy({delayMs: 300})
    await addRds('slow-int', eu.database, slow.port)
    const interrupted = startCli(['sync:tenants', '--rds', 'slow-int', '--force'], {env})
    await waitFor(() => count("select count(*) as n from sync_runs where status = 'running'") > 0, {timeoutMs: 20_000, intervalMs: 25})
    interrupted.child.kill('SIGINT')
    expect(await interrupted.exited).toBe(130)
    expect(interrupted.output.stderr).toMatch(/stopping \(SIGINT\)/)
    expect(count('select count(*) as n from locks')).toBe(0)
    expect(count("select count(*) as n from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = 'slow-int'")).toBe(0)
    expect(
      query<{status: string; error: string}>(
        "select s.status, s.error from sync_runs s join rds_instances r on r.id = s.rds_instance_id where r.name = 'slow-int' order by s.id desc limit 1",
      )[0],
    ).toEqual({
      status: 'failed',
      error: 'stopped by SIGINT',
    })
    await cli(['rds:edit', 'slow-int', '--no-active'])
  })

  it('the master down during --truncate: exit 3, the previous cache intact and readable', async () => {
    const before = snapshot().routing
    const relay = await proxy('pass')
    await cli(['rds:edit', 'main', '--port', String(relay.port), '--no-test'])
    await relay.setMode('refuse')
    const result = await cli(['sync:routing', '--truncate'])
    expect(result.code).toBe(3)
    expect(result.stdout).toMatch(/failed: connection refused.*the cache keeps its last committed state/)
    expect(snapshot().routing).toEqual(before)
    const lookup = await cli(['routing:lookup', String(before[0] && (before[0] as {email: string}).email), '--json'])
    expect(JSON.parse(lookup.stdout).cache.length).toBeGreaterThan(0)
    await cli(['rds:edit', 'main', '--port', String(mysqlServer.port), '--no-test'])
  })

  it('routing:lookup finds an email whatever its case; --live shows a change not yet synced', async () => {
    const [row] = query<{email: string; source_id: number}>('select email, source_id from user_email_routing_cache order by source_id limit 1')
    const upper = row.email.toUpperCase()
    const cached = await cli(['routing:lookup', upper])
    expect(cached.code, cached.stderr).toBe(0)
    expect(cached.stdout).toContain(`${row.email}: 1 entry in the routing cache`)
    expect(cached.stdout).toMatch(/main/)

    const db = await master.knex()
    await db('user_email_routing')
      .where({id: row.source_id})
      .update({status: 'suspended', updated_at: new Date(Date.now() + 1000)})
    await db.destroy()
    const live = await cli(['routing:lookup', row.email, '--live', '--json'])
    const result = JSON.parse(live.stdout)
    expect(result.live).toHaveLength(1)
    expect(result.differences).toEqual([{sourceId: row.source_id, difference: expect.stringMatching(/status active → suspended/)}])

    const sync = await cli(['sync:routing', '--json'])
    expect(JSON.parse(sync.stdout).counts.updated).toBeGreaterThanOrEqual(1)
    const after = JSON.parse((await cli(['routing:lookup', row.email, '--live', '--json'])).stdout)
    expect(after.differences).toEqual([])

    // A support_admin (no pii.view) sees the email masked, in the table and in --json.
    const token = JSON.parse((await cli(['token:create', '--name', 'support', '--role', 'support_admin', '--expires', '1d', '--json'])).stdout).token as string
    const masked = `${row.email[0]}***@${row.email.split('@')[1]}`
    const asSupport = await cli(['routing:lookup', row.email], {env: {RAIOPS_TOKEN: token}})
    expect(asSupport.code, asSupport.stderr).toBe(0)
    expect(asSupport.stdout).toContain(`${masked}: 1 entry in the routing cache`)
    expect(asSupport.stdout).not.toContain(row.email)
    const json = await cli(['routing:lookup', row.email, '--json'], {env: {RAIOPS_TOKEN: token}})
    expect(JSON.parse(json.stdout)).toMatchObject({email: masked, cache: [{email: masked}]})
    expect(json.stdout).not.toContain(row.email)
  })

  it("routing:lookup --live shows the master's values escaped: an escape sequence or a newline cannot forge a line; --json keeps them exact", async () => {
    const [row] = query<{email: string; source_id: number; status: string}>(
      'select email, source_id, status from user_email_routing_cache order by source_id limit 1',
    )
    const status = 'x\u001b[31mRED\nrow 1: forged\u202e'
    const setStatus = async (value: string) => {
      const db = await master.knex()
      await db('user_email_routing').where({id: row.source_id}).update({status: value})
      await db.destroy()
    }
    await setStatus(status)
    try {
      const live = await cli(['routing:lookup', row.email, '--live'])
      expect(live.code, live.stderr).toBe(0)
      expect(`${live.stdout}${live.stderr}`).not.toMatch(RAW_CONTROL)
      expect(live.stdout).not.toMatch(/^row 1: forged/m)
      expect(live.stdout).toContain(`row ${row.source_id}: differs: status ${row.status} → x\\u001b[31mRED\\nrow 1: forged\\u202e\n`)
      const json = JSON.parse((await cli(['routing:lookup', row.email, '--live', '--json'])).stdout) as {
        differences: Array<{difference: string}>
      }
      expect(json.differences[0].difference).toContain(status)
    } finally {
      await setStatus(row.status)
    }
  })

  it('sync:status shows each kind and RDS with its last run and data age; status has the sync section', async () => {
    const result = await cli(['sync:status', '--json'])
    expect(result.code, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.kinds.map((k: {kind: string}) => k.kind)).toEqual(['tenants', 'routing'])
    const routing = report.kinds.find((k: {kind: string}) => k.kind === 'routing')
    expect(routing.lastRun.status).toBe('ok')
    expect(routing.staleMs).toBeGreaterThanOrEqual(0)
    const main = report.rds.find((r: {name: string}) => r.name === 'main')
    expect(main.lastRun.status).toBe('ok')
    expect(main.lastRun.stats).toMatchObject({inserted: expect.any(Number), unchanged: expect.any(Number)})

    const overview = JSON.parse((await cli(['status', '--json'])).stdout)
    const sync = overview.sections.find((s: {key: string}) => s.key === 'sync')
    expect(sync.state).not.toBe('never')
    expect(sync.summary).toMatch(/tenants synced .*routing synced/)
  })
})

describe('a long routing rebuild on a SQLite control database', () => {
  const WEBHOOK_SECRET = 'rebuild-webhook-secret-0123456789'
  let home: TestDir
  let env: Record<string, string>
  let master: RaiFixture
  let relay: FaultProxy
  let token: string
  let asToken: {env: Record<string, string>}
  let session: CliSession
  /** The same home, each command in a process of its own: the rebuild and the commands beside it contend for SQLite's write lock. */
  let terminals: CliSession

  const cli = (args: string[], options: {env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> => session.run(args, options)
  const count = (sql: string): number => (queryControlDb<{n: number}>(env.RAIOPS_HOME, sql)[0] as {n: number}).n

  /** audit:serve on a free port; resolves with its base URL once it listens. */
  async function serveWebhooks(token: string): Promise<string> {
    const server = startCli(['audit:serve', '--port', '0', '--quiet'], {
      env: {...env, RAIOPS_TOKEN: token, RAIOPS_WEBHOOK_SECRETS: WEBHOOK_SECRET},
    })
    const listening = /listening on (http:\/\/[^/\s]+)/
    await waitFor(() => listening.test(server.output.stderr), {timeoutMs: 20_000, intervalMs: 25, what: 'audit:serve to listen'})
    return (listening.exec(server.output.stderr) as RegExpExecArray)[1]
  }

  beforeAll(async () => {
    home = createTestDir('raiops-rebuild-')
    master = await createRaiFixture({
      engine: 'mysql',
      tenants: 400,
      usersPerTenant: 100,
      ghostUsersPerTenant: 0,
      locationsPerTenant: 0,
      master: true,
    })
    relay = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode: 'pass'})
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'rebuild-admin-password-1',
      env: {RAIOPS_CONNECT_TIMEOUT_MS: '10000'},
      ...SESSION,
    })
    env = session.env
    terminals = new CliSession(env, {timeoutMs: SESSION.timeoutMs})
    for (const [name, port, extra] of [
      ['main', relay.port, ['--master']],
      ['other', mysqlServer.port, []],
    ] as const) {
      const added = await cli([
        'rds:add',
        '--name',
        name,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--username',
        'root',
        '--rai-database',
        master.database,
        '--no-test',
        '--no-input',
        ...extra,
      ])
      expect(added.code, added.stderr).toBe(0)
    }
    const created = await cli(['token:create', '--name', 'cron', '--role', 'system_admin', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    token = JSON.parse(created.stdout).token as string
    asToken = {env: {RAIOPS_TOKEN: token}}
    // A first copy, so a rebuild has an old cache to keep for readers.
    const first = await cli(['sync:routing', '--json'], asToken)
    expect(first.code, first.stderr).toBe(0)
    expect(count('select count(*) as n from user_email_routing_cache')).toBe(master.counts.routing)
  })

  afterAll(async () => {
    killStartedClis()
    await relay?.close()
    await master?.drop()
    home?.drop()
  })

  it('20 commands that write, started while `sync:routing --truncate` runs for seconds, all succeed; readers see the old cache until the swap', async () => {
    const webhook = await serveWebhooks(token)

    // The master slowed down: every packet 300 ms late, some 20 pages of 2,000 rows.
    await relay.setMode({delayMs: 300})
    let rebuildDone = false
    const rebuild = terminals.run(['sync:routing', '--truncate', '--json'], {...asToken, timeoutMs: 120_000}).finally(() => void (rebuildDone = true))
    await waitFor(() => count("select count(*) as n from sync_runs where kind = 'routing' and status = 'running'") > 0, {
      timeoutMs: 30_000,
      intervalMs: 25,
    })

    type Outcome = {kind: string; ok: boolean; ms: number; detail: string}
    const post = async (i: number): Promise<Outcome> => {
      const body = JSON.stringify({
        id: `rebuild-evt-${i}`,
        occurred_at: '2026-01-02T03:04:05Z',
        actor: {type: 'user', id: i},
        action: 'user.updated',
        new_values: {n: i},
      })
      const t = Math.floor(Date.now() / 1000)
      const signature = `t=${t},v1=${createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex')}`
      const started = Date.now()
      const response = await fetch(`${webhook}/api/webhooks/rai/audit`, {
        method: 'POST',
        body,
        headers: {'content-type': 'application/json', 'x-raiops-signature': signature},
      })
      return {kind: 'webhook', ok: response.status === 200, ms: Date.now() - started, detail: `${response.status} ${await response.text()}`}
    }
    const command = async (kind: string, args: string[]): Promise<Outcome> => {
      const result = await terminals.run(args, asToken)
      return {
        kind,
        ok: result.code === 0,
        ms: result.ms,
        detail: `exit ${result.code}: ${result.stderr.trim()} ${result.code === 0 ? '' : result.stdout.trim()}`,
      }
    }
    const kinds = [
      () => command('status', ['status', '--json']),
      (i: number) => command('rds:edit', ['rds:edit', 'other', '--app-url', `https://rai-${i}.example.com`]),
      () => command('rds:health', ['rds:health', '--rds', 'other', '--json']),
      (i: number) => post(i),
    ]
    const outcomes: Array<Promise<Outcome>> = []
    let startedWhileRunning = 0
    for (let i = 0; i < 20; i++) {
      if (!rebuildDone) startedWhileRunning++
      outcomes.push(kinds[i % kinds.length](i))
      await new Promise((resolve) => setTimeout(resolve, 300))
    }
    // Readers still see the old cache (the rebuild has not been swapped in yet).
    const duringRebuild = count('select count(*) as n from user_email_routing_cache')
    const stillRunning = !rebuildDone
    const results = await Promise.all(outcomes)
    const report = await rebuild
    await relay.setMode('pass')

    const succeeded = results.filter((r) => r.ok).length
    const slowest = Math.max(...results.map((r) => r.ms))
    const summary = JSON.parse(report.stdout) as {status: string; durationMs: number; counts: {inserted: number}}
    console.log(
      `SQLite control database, sync:routing --truncate ran ${summary.durationMs} ms: ${succeeded} of ${results.length} commands started during it succeeded, the slowest in ${slowest} ms`,
    )
    expect(report.code, report.stderr).toBe(0)
    expect(summary).toMatchObject({status: 'ok', counts: {inserted: master.counts.routing}})
    expect(startedWhileRunning).toBe(20)
    expect(stillRunning).toBe(true)
    expect(duringRebuild).toBe(master.counts.routing)
    expect(results.filter((r) => !r.ok)).toEqual([])
    expect(count('select count(*) as n from user_email_routing_cache')).toBe(master.counts.routing)
    expect(count("select count(*) as n from sqlite_master where type = 'table' and name like 'user_email_routing_cache_%'")).toBe(0)
    expect(count("select count(*) as n from api_tokens where name = 'cron' and last_used_at is not null")).toBe(1)
    const verify = await cli(['audit:verify'], asToken)
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })

  it('a rebuild killed with SIGKILL leaves the cache as it was; the next one takes over its lease and replaces its staging table', async () => {
    const cache = () =>
      queryControlDb(env.RAIOPS_HOME, 'select source_id, email, tenant_master_id, remote_user_id, status from user_email_routing_cache order by source_id')
    const before = cache()
    expect(before).toHaveLength(master.counts.routing)
    await relay.setMode({delayMs: 150})
    const killed = startCli(['sync:routing', '--truncate'], {env: {...env, RAIOPS_TOKEN: token}})
    const staged = "select count(*) as n from sqlite_master where type = 'table' and name = 'user_email_routing_cache_next'"
    await waitFor(() => count(staged) === 1 && count('select count(*) as n from user_email_routing_cache_next') > 0, {
      timeoutMs: 30_000,
      intervalMs: 25,
    })
    killed.child.kill('SIGKILL')
    await killed.exited
    await relay.setMode('pass')
    expect(cache()).toEqual(before)
    expect(count(staged)).toBe(1)

    const next = await cli(['sync:routing', '--truncate', '--json'], asToken)
    expect(next.code, next.stderr).toBe(0)
    expect(JSON.parse(next.stdout)).toMatchObject({status: 'ok', counts: {inserted: master.counts.routing, missing: 0}})
    expect(cache()).toEqual(before)
    expect(count(staged)).toBe(0)
  })

  it('a rebuild running in another pid namespace with the same hostname (another container): a second one exits 6 instead of taking over its lease', async () => {
    // Its pid, as its namespace numbers it, names no process here: seen from here it looks gone.
    let pid = 20_000 + Math.floor(Math.random() * 5000)
    while (existsSync(`/proc/${pid}`)) pid--
    await relay.setMode({delayMs: 150})
    const inner = spawn(
      'unshare',
      [
        '--kill-child',
        '--pid',
        '--fork',
        '--mount-proc',
        'sh',
        '-c',
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid && "$@"; exit $?`,
        'sh',
        process.execPath,
        CLI_BIN,
        'sync:routing',
        '--truncate',
        '--json',
      ],
      {
        env: cliEnv({...env, RAIOPS_TOKEN: token}),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let innerOut = ''
    inner.stdout.on('data', (d) => (innerOut += d))
    inner.stderr.on('data', (d) => (innerOut += d))
    const innerExit = new Promise<number | null>((resolve) => inner.on('close', resolve))
    try {
      await waitFor(() => count("select count(*) as n from locks where name = 'sync:routing'") === 1, {timeoutMs: 30_000, intervalMs: 25})
      const [lock] = queryControlDb<{holder: string}>(env.RAIOPS_HOME, "select holder from locks where name = 'sync:routing'")
      expect(lock.holder.startsWith(`${hostname()}:${pid}:`)).toBe(true)

      const second = await terminals.run(['sync:routing', '--truncate', '--json'], asToken)
      console.log(`sync:routing --truncate beside a rebuild in another pid namespace (same hostname, pid ${pid}): exit ${second.code} in ${second.ms} ms`)
      expect(second.code, second.stdout).toBe(6)
      expect(JSON.parse(second.stdout).error.message).toContain(`sync:routing is already running on ${hostname()} (pid ${pid})`)
      expect(await innerExit, innerOut).toBe(0)
    } finally {
      inner.kill('SIGKILL')
      await innerExit
      await relay.setMode('pass')
    }
    expect(JSON.parse(innerOut)).toMatchObject({status: 'ok', counts: {inserted: master.counts.routing}})
  })

  it("a token's last use that cannot be recorded (the write lock held past the busy timeout) does not fail a command that only reads", async () => {
    const created = await cli(['token:create', '--name', 'reader', '--role', 'read_only', '--expires', '1d', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const token = JSON.parse(created.stdout).token as string
    // Another process holds SQLite's write lock (a migration, say) until it is killed.
    const holder = spawn(
      process.execPath,
      ['-e', "const db = new (require(process.env.DRIVER))(process.env.FILE); db.exec('BEGIN IMMEDIATE'); console.log('locked'); setInterval(() => {}, 1000)"],
      {
        env: {
          ...process.env,
          DRIVER: createRequire(import.meta.url).resolve('better-sqlite3'),
          FILE: join(env.RAIOPS_HOME, 'raiops.sqlite'),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    try {
      await new Promise<void>((resolve) => holder.stdout.on('data', () => resolve()))
      const listed = await cli(['rds:list', '--json'], {env: {RAIOPS_TOKEN: token}})
      expect(listed.code, listed.stdout + listed.stderr).toBe(0)
      expect(JSON.parse(listed.stdout)).toEqual(expect.any(Array))
    } finally {
      holder.kill('SIGKILL')
      await new Promise((resolve) => holder.on('close', resolve))
    }
    expect(count("select count(*) as n from api_tokens where name = 'reader' and last_used_at is not null")).toBe(0)
  })
})

describe('fleet rows that break the contract, from the command line', () => {
  let home: TestDir
  let master: RaiFixture
  let session: CliSession
  const cli = (args: string[]): Promise<CliResult> => session.run(args)

  beforeAll(async () => {
    home = createTestDir('raiops-invalid-')
    master = await createRaiFixture({engine: 'mysql', tenants: 3, usersPerTenant: 2, master: true})
    const db = await master.knex()
    try {
      await db.schema.alterTable('tenants', (table) => void table.string('name', 255).nullable().alter())
      await db('tenants').where({id: 2}).update({name: null})
      await db('user_email_routing').whereIn('id', [2, 4]).update({updated_at: null})
    } finally {
      await db.destroy()
    }
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'invalid-admin-password-1', ...SESSION})
    const added = await cli([
      'rds:add',
      '--name',
      'main',
      '--host',
      '127.0.0.1',
      '--port',
      String(mysqlServer.port),
      '--username',
      'root',
      '--rai-database',
      master.database,
      '--no-test',
      '--no-input',
      '--master',
    ])
    expect(added.code, added.stderr).toBe(0)
  })

  afterAll(async () => {
    await master?.drop()
    home?.drop()
  })

  it('the summary names each reason with its count and ids; --json and sync:status carry them', async () => {
    const all = await cli(['sync:all'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toMatch(/tenants: ok · .* 3 new, 0 updated, 0 unchanged, 0 missing, 1 invalid ·/)
    expect(all.stdout).toContain('main: 1 invalid: name is NULL: stored with an empty name (1 row: id 2)')
    expect(all.stdout).toContain('2 source row(s) break the contract:')
    expect(all.stdout).toContain('updated_at is NULL: incremental runs never read it (--full and --truncate copy it) (2 rows: ids 2, 4)')

    const full = await cli(['sync:routing', '--full', '--json'])
    expect(full.code, full.stderr).toBe(0)
    expect(JSON.parse(full.stdout)).toMatchObject({
      status: 'ok',
      counts: {inserted: 2, invalid: 2},
      invalidRows: [
        {
          reason: 'updated_at is NULL: copied without a source time; incremental runs never see its changes (--full does)',
          kept: true,
          rows: 2,
          ids: [2, 4],
        },
      ],
    })
    const status = await cli(['sync:status', '--json'])
    const routing = JSON.parse(status.stdout).kinds.find((k: {kind: string}) => k.kind === 'routing')
    expect(routing.lastRun.stats).toMatchObject({invalid: 2, invalidRows: [{rows: 2, ids: [2, 4]}]})
    const text = await cli(['sync:status'])
    expect(text.stdout).toMatch(/2 inserted, .*2 invalid/)
  })
})

describe('driver errors in sync summaries', () => {
  let home: TestDir
  let session: CliSession
  const cli = (args: string[]): Promise<CliResult> => session.run(args)

  beforeAll(async () => {
    home = createTestDir('raiops-sync-escape-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'escape-admin-password-1', ...SESSION})
    // A file that is not there: the driver's error names its path, escape sequence and all.
    const file = join(home.path, 'no\u001b[31mRED\u202e', 'rai.sqlite')
    const added = await cli(['rds:add', '--name', 'broken', '--engine', 'sqlite', '--file', file, '--master', '--no-test'])
    expect(added.code, added.stderr).toBe(0)
  })

  afterAll(() => home?.drop())

  it("sync:all and sync:tenants show a failed RDS's error escaped in the table, the lines and the summaries; --json keeps it exact", async () => {
    for (const args of [['sync:all'], ['sync:tenants', '--force']]) {
      const result = await cli(args)
      expect(result.code, result.stderr).toBe(3)
      expect(`${result.stdout}${result.stderr}`, args[0]).not.toMatch(RAW_CONTROL)
      expect(result.stdout, args[0]).toMatch(/^ {2}failed: broken: cannot open the SQLite file: no such file: .*no\\u001b\[31mRED\\u202e/m)
    }
    const all = await cli(['sync:all'])
    expect(all.stdout).toMatch(
      /^ {2}failed: cannot open the SQLite file: no such file: .*no\\u001b\[31mRED\\u202e.* — the cache keeps its last committed state$/m,
    )
    const json = JSON.parse((await cli(['sync:tenants', '--force', '--json'])).stdout) as {rds: Array<{error: string}>}
    expect(json.rds[0].error).toContain('no\u001b[31mRED\u202e')
  })
})

describe('Ctrl-C during a routing sync with SQLite on both sides (every query synchronous)', () => {
  let home: TestDir
  let master: RaiFixture

  afterAll(async () => {
    killStartedClis()
    await master?.drop()
    home?.drop()
  })

  it('stops within the page it is on: exit 130, part of the rows copied, the lease released, the run recorded as stopped', async () => {
    home = createTestDir('raiops-sqlite-int-')
    master = await createRaiFixture({
      engine: 'sqlite',
      tenants: 2000,
      usersPerTenant: 60,
      ghostUsersPerTenant: 0,
      locationsPerTenant: 0,
      master: true,
    })
    const session = await initialisedHome({home: join(home.path, 'raiops'), password: 'sqlite-int-admin-pass', ...SESSION})
    const env = session.env
    const count = (sql: string): number => (queryControlDb<{n: number}>(env.RAIOPS_HOME, sql)[0] as {n: number}).n
    const added = await session.run(['rds:add', '--name', 'main', '--engine', 'sqlite', '--rai-database', master.database, '--master', '--no-input'])
    expect(added.code, added.stderr).toBe(0)

    const interrupted = startCli(['sync:routing'], {env})
    await waitFor(() => count('select count(*) as n from user_email_routing_cache') > 0, {timeoutMs: 30_000, intervalMs: 25})
    interrupted.child.kill('SIGINT')
    expect(await interrupted.exited).toBe(130)
    expect(interrupted.output.stderr).toMatch(/stopping \(SIGINT\)/)
    // Stopped where it was, not after copying everything.
    expect(count('select count(*) as n from user_email_routing_cache')).toBeLessThan(master.counts.routing)
    expect(count('select count(*) as n from locks')).toBe(0)
    expect(
      queryControlDb<{status: string; error: string}>(
        env.RAIOPS_HOME,
        "select status, error from sync_runs where kind = 'routing' order by id desc limit 1",
      )[0],
    ).toEqual({status: 'failed', error: 'stopped by SIGINT'})
  })
})
