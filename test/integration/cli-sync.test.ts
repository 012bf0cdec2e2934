import {spawn} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, runCli, type CliResult} from '../support/cli.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, mysqlServer, type TestDir} from '../support/servers.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'run.js')

describe('sync commands from the command line', () => {
  let home: TestDir
  let env: Record<string, string>
  let master: RaiFixture
  let eu: RaiFixture
  const proxies: FaultProxy[] = []

  const cli = (args: string[], options: {env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> =>
    runCli(args, {env: {...env, ...options.env}, timeoutMs: options.timeoutMs ?? 60_000})

  const query = <T>(sql: string): T[] => queryControlDb<T>(env.RAIOPS_HOME, sql)
  const count = (sql: string): number => (query<{n: number}>(sql)[0] as {n: number}).n

  async function proxy(mode: FaultProxy['mode']): Promise<FaultProxy> {
    const created = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode})
    proxies.push(created)
    return created
  }

  async function addRds(name: string, database: string, port: number, extra: string[] = []): Promise<void> {
    const result = await cli(['rds:add', '--name', name, '--host', '127.0.0.1', '--port', String(port), '--username', 'root', '--rai-database', database, '--no-test', '--no-input', ...extra])
    expect(result.code, result.stderr).toBe(0)
  }

  /** What a sync leaves in the control database, ready to compare between runs. */
  function snapshot() {
    return {
      tenants: query('select rds_instance_id, remote_tenant_id, name, primary_contact_email, status, cached_user_count, cached_location_count, remote_missing_at from tenant_master order by rds_instance_id, remote_tenant_id'),
      routing: query('select source_id, email, tenant_master_id, remote_user_id, status from user_email_routing_cache order by source_id'),
    }
  }

  beforeAll(async () => {
    home = createTestDir('raiops-sync-')
    env = {RAIOPS_HOME: join(home.path, 'raiops'), RAIOPS_MASTER_KEY: '', RAIOPS_DATABASE_URL: '', RAIOPS_CONNECT_TIMEOUT_MS: '1500'}
    ;[master, eu] = await Promise.all([
      createRaiFixture({engine: 'mysql', tenants: 40, usersPerTenant: 3, master: true, routingRdsInstanceId: 1, tenantNames: ["O'Brien \\ Sons", 'Café ☕ 🚀', 'Trailing  ']}),
      createRaiFixture({engine: 'mysql', tenants: 25, usersPerTenant: 2}),
    ])
    const initialised = await runCli(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], {env, input: 'sync-admin-password-1\n'})
    expect(initialised.code, initialised.stderr).toBe(0)
    await addRds('main', master.database, mysqlServer.port, ['--master'])
    await addRds('eu', eu.database, mysqlServer.port)
  })

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()))
    await Promise.all([master?.drop(), eu?.drop()])
    home?.drop()
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
    expect(count("select count(*) as n from user_email_routing_cache where email <> lower(email)")).toBe(0)
    expect(count('select count(*) as n from user_email_routing_cache where tenant_master_id is null')).toBe(0)

    const again = await cli(['sync:tenants', '--format', 'ndjson'])
    expect(again.code).toBe(0)
    const events = again.stdout.trim().split('\n').map((l) => JSON.parse(l))
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
    expect(query("select * from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name in ('refusing', 'silent') order by t.id")).toEqual(before)
    expect(query<{name: string}>('select name from tenant_master where rds_instance_id = 1 and remote_tenant_id = 1')[0].name).toBe('Renamed upstream')
    await cli(['rds:edit', 'refusing', '--no-active'])
    await cli(['rds:edit', 'silent', '--no-active'])
  })

  it('two sync:tenants at once: exactly one works, the other exits 6 naming the holder', async () => {
    const slow = await proxy({delayMs: 150})
    await addRds('slow', eu.database, slow.port)
    const [a, b] = await Promise.all([cli(['sync:tenants', '--force']), cli(['sync:tenants', '--force'])])
    const codes = [a.code, b.code].sort()
    expect(codes).toEqual([0, 6])
    const busy = a.code === 6 ? a : b
    expect(busy.stderr).toMatch(/already running on .* since/)
    expect(count("select count(*) as n from locks")).toBe(0)
    await cli(['rds:edit', 'slow', '--no-active'])
  })

  it('a run killed with SIGKILL mid-sync: the next run takes over its lease and converges to the same state', async () => {
    const slow = await proxy({delayMs: 250})
    await addRds('slow-kill', eu.database, slow.port)
    await cli(['sync:all', '--force', '--full'])
    const reference = snapshot()

    const child = spawn(process.execPath, [bin, 'sync:tenants', '--force'], {env: {...process.env, ...env, NO_COLOR: '1', CI: '1'}, stdio: 'ignore'})
    await waitFor(() => count("select count(*) as n from sync_runs where status = 'running'") > 0 && count('select count(*) as n from locks') > 0, 20_000)
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('close', resolve))
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
    const child = spawn(process.execPath, [bin, 'sync:tenants', '--rds', 'slow-int', '--force'], {env: {...process.env, ...env, NO_COLOR: '1', CI: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await waitFor(() => count("select count(*) as n from sync_runs where status = 'running'") > 0, 20_000)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(stderr).toMatch(/stopping \(SIGINT\)/)
    expect(count('select count(*) as n from locks')).toBe(0)
    expect(count("select count(*) as n from tenant_master t join rds_instances r on r.id = t.rds_instance_id where r.name = 'slow-int'")).toBe(0)
    expect(query<{status: string; error: string}>("select s.status, s.error from sync_runs s join rds_instances r on r.id = s.rds_instance_id where r.name = 'slow-int' order by s.id desc limit 1")[0]).toEqual({
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
    await db('user_email_routing').where({id: row.source_id}).update({status: 'suspended', updated_at: new Date(Date.now() + 1000)})
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

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
