import {spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseKeyring} from '../../src/lib/crypto/keyring.js'
import {openControlDb, parseDatabaseUrl} from '../../src/lib/db/control-db.js'
import {addRds, editRds} from '../../src/lib/rds/service.js'
import {mysqlRdsAddArgs, queryControlDb, type CliResult} from '../support/cli.js'
import {makeContext} from '../support/context.js'
import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createMysqlUser, createTestDir, mysqlServer, type TestDir, type TestMysqlUser} from '../support/servers.js'
import {initialisedHome, waitFor, type CliSession} from '../support/session.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(root, 'bin', 'run.js')
const ADMIN_PASSWORD = 'admin-pass-H3alth!'
const WRONG_PASSWORD = 'not-the-Password-77'
/** Hang checks on a whole CLI run: its deadline plus a generous margin for starting and stopping node on a loaded machine. */
const CLI_MARGIN_MS = 6000

describe('rds:health and status from the command line', () => {
  let home: TestDir
  let env: Record<string, string>
  let fleet: RaiFixture
  let dbUser: TestMysqlUser
  const proxies: FaultProxy[] = []
  let session: CliSession
  const cli = (args: string[], options: {input?: string; env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> =>
    session.run(args, options)

  const query = <T>(sql: string): T[] => queryControlDb<T>(env.RAIOPS_HOME, sql)

  async function proxy(mode: FaultProxy['mode']): Promise<FaultProxy> {
    const created = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode})
    proxies.push(created)
    return created
  }

  async function add(name: string, port: number, options: {password?: string; extra?: string[]} = {}): Promise<void> {
    const result = await cli(mysqlRdsAddArgs({name, port, user: dbUser.user, database: fleet.database, extra: ['--no-test', ...(options.extra ?? [])]}), {
      input: `${options.password ?? dbUser.password}\n`,
    })
    expect(result.code, result.stderr).toBe(0)
  }

  beforeAll(async () => {
    home = createTestDir('raiops-health-')
    fleet = await createRaiFixture({engine: 'mysql', tenants: 2, usersPerTenant: 1, locationsPerTenant: 1, master: true})
    dbUser = await createMysqlUser(fleet.database)
    session = await initialisedHome({home: join(home.path, 'raiops'), password: ADMIN_PASSWORD, env: {RAIOPS_CONNECT_TIMEOUT_MS: '3000'}})
    env = session.env
    await add('main', mysqlServer.port, {extra: ['--master']})
    await add('refused', (await proxy('refuse')).port)
    await add('wrong-pw', mysqlServer.port, {password: WRONG_PASSWORD})
  })

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()))
    await dbUser?.drop()
    await fleet?.drop()
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD, WRONG_PASSWORD, dbUser?.password)
  })

  it.each([
    [['--fail-on', 'sometimes'], /fail-on/],
    [['--timeout', '0'], /--timeout must be a number of seconds above 0/],
    [['--timeout', 'soon'], /--timeout/],
    [['--format', 'xml'], /format/],
    [['--slow-ms', '0'], /slow-ms/],
    [['--history', '--format', 'junit'], /--format junit is for a probe/],
    [['--history', '--window', '3 fortnights'], /--window must be a duration/],
    [['--watch', '2', '--output', 'x.txt'], /--watch redraws the terminal/],
    [['--watch', '0'], /--watch must be a number of seconds/],
    [['--rds', 'no-such-rds'], /no RDS named "no-such-rds"/],
  ])('rds:health %j is refused in one line with exit 2 and stores nothing', async (args, message) => {
    const before = query<{n: number}>('select count(*) as n from health_checks')[0].n
    const result = await cli(['rds:health', ...args])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(result.stdout).toBe('')
    expect(query<{n: number}>('select count(*) as n from health_checks')[0].n).toBe(before)
  })

  it('reports a healthy, a refused and a wrong-password RDS, stores them, and exits 4 (never 0 with --fail-on never)', async () => {
    const result = await cli(['rds:health'])
    expect(result.code, result.stderr).toBe(4)
    const lines = result.stdout.split('\n')
    expect(lines.find((l) => l.includes(' main '))).toMatch(/healthy/)
    expect(lines.find((l) => l.includes(' refused '))).toMatch(/down .*connection refused/)
    expect(lines.find((l) => l.includes(' wrong-pw '))).toMatch(/down .*access denied/i)
    expect(result.stdout).toMatch(/1 healthy, 0 degraded, 2 down/)

    const stored = query<{name: string; health_status: string; health_error: string | null; health_checked_at: number | null}>(
      'select name, health_status, health_error, health_checked_at from rds_instances order by id',
    )
    expect(stored.map((r) => [r.name, r.health_status])).toEqual([
      ['main', 'healthy'],
      ['refused', 'down'],
      ['wrong-pw', 'down'],
    ])
    expect(stored[1].health_error).toMatch(/refused/)
    expect(stored.every((r) => r.health_checked_at !== null)).toBe(true)

    const never = await cli(['rds:health', '--fail-on', 'never', '--json'])
    expect(never.code).toBe(0)
    const report = JSON.parse(never.stdout)
    expect(report.counts).toEqual({healthy: 1, degraded: 0, down: 2})
    expect(report.results.map((r: {name: string}) => r.name)).toEqual(['main', 'refused', 'wrong-pw'])
  })

  it('--fail-on degraded fails on a slow RDS that --fail-on down lets pass', async () => {
    const slow = await proxy({delayMs: 120})
    await add('slow', slow.port)
    const down = await cli(['rds:health', '--rds', 'slow,main', '--slow-ms', '50', '--json'])
    expect(down.code, down.stderr).toBe(0)
    const report = JSON.parse(down.stdout)
    const result = report.results.find((r: {name: string}) => r.name === 'slow')
    expect(result.status).toBe('degraded')
    expect(result.reasons.join(' ')).toMatch(/slow: SELECT 1 took \d+ ms \(over 50 ms\)/)
    const degraded = await cli(['rds:health', '--rds', 'slow', '--rds', 'main', '--slow-ms', '50', '--fail-on', 'degraded'])
    expect(degraded.code).toBe(4)
    await cli(['rds:edit', 'slow', '--no-active'])
  })

  it('writes Prometheus text, JUnit XML, NDJSON and CSV, to stdout or atomically to --output', async () => {
    const prom = await cli(['rds:health', '--format', 'prometheus'])
    expect(prom.code).toBe(4)
    expect(prom.stdout).toContain('# TYPE raiops_rds_up gauge')
    expect(prom.stdout).toMatch(/^raiops_rds_up\{rds="main"\} 1$/m)
    expect(prom.stdout).toMatch(/^raiops_rds_up\{rds="refused"\} 0$/m)
    expect(prom.stdout).toMatch(/^raiops_rds_latency_seconds\{rds="main"\} 0\.\d+$/m)
    expect(prom.stdout).not.toMatch(/^raiops_rds_latency_seconds\{rds="refused"\}/m)
    expect(prom.stdout).toMatch(/^raiops_rds_connections_used_ratio\{rds="main"\} (0\.\d+|1)$/m)
    // Every non-comment line is `name{labels} value`.
    for (const line of prom.stdout
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('#')))
      expect(line).toMatch(/^[a-z_]+\{[^}]*\} -?[\d.e+-]+$/)

    const file = join(home.path, 'health.xml')
    const junit = await cli(['rds:health', '--fail-on', 'degraded', '--format', 'junit', '--output', file])
    expect(junit.code).toBe(4)
    expect(junit.stdout).toBe('')
    const xml = readFileSync(file, 'utf8')
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /)
    expect(xml).toMatch(/<testsuite name="raiops rds:health" tests="3" failures="2"/)
    expect(xml).toMatch(/<testcase classname="raiops.rds.mysql" name="main" time="[\d.]+">/)
    expect(xml.match(/<failure /g)).toHaveLength(2)
    expect(xml).toMatch(/<failure type="down" message="refused is down: connection refused/)
    expect(xml.match(/<testcase /g)?.length).toBe(xml.match(/<\/testcase>|<testcase [^>]*\/>/g)?.length)

    const ndjson = await cli(['rds:health', '--format', 'ndjson'])
    const events = ndjson.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.map((e) => [e.name, e.status])).toEqual([
      ['main', 'healthy'],
      ['refused', 'down'],
      ['wrong-pw', 'down'],
    ])

    const csv = await cli(['rds:health', '--format', 'csv', '--fail-on', 'never'])
    expect(csv.code).toBe(0)
    expect(csv.stdout.split('\n')[0]).toBe('id,name,engine,status,latency ms,connections,server,reasons')
  })

  it('20 RDS of which 5 are blackholed: --timeout 2 returns in about 2 s, each blackholed one down', async () => {
    const blackholes = await Promise.all(Array.from({length: 5}, () => proxy('blackhole')))
    const servers = [
      ...Array.from({length: 15}, (_, i) => ({name: `ok-${i}`, port: mysqlServer.port})),
      ...blackholes.map((hole, i) => ({name: `hole-${i}`, port: hole.port})),
    ]
    const names = servers.map((s) => s.name)
    // Registered (and left out afterwards) through the services rds:add and rds:edit call: this test is about rds:health, not forty spawned commands.
    const db = await openControlDb(parseDatabaseUrl(`sqlite://${join(env.RAIOPS_HOME, 'raiops.sqlite')}`, env.RAIOPS_HOME))
    const ctx = makeContext(db, {keyring: parseKeyring(readFileSync(join(env.RAIOPS_HOME, 'master.key'), 'utf8'), 'the test home key')})
    try {
      for (const server of servers) {
        await addRds(ctx, {
          name: server.name,
          engine: 'mysql',
          host: '127.0.0.1',
          port: server.port,
          username: dbUser.user,
          password: dbUser.password,
          raiDatabase: fleet.database,
          master: false,
          test: false,
        })
      }
      await healthOfTwenty(names)
    } finally {
      for (const name of names) await editRds(ctx, {ref: name, changes: {active: false}, test: false}).catch(() => {})
      await ctx.close()
      await db.destroy()
    }
  })

  async function healthOfTwenty(names: string[]): Promise<void> {
    const result = await cli(['rds:health', '--rds', names.join(','), '--timeout', '2', '--json'])
    expect(result.code, result.stderr).toBe(4)
    expect(result.ms).toBeLessThan(2000 + CLI_MARGIN_MS)
    const report = JSON.parse(result.stdout)
    expect(report.counts).toEqual({healthy: 15, degraded: 0, down: 5})
    for (const r of report.results.filter((x: {name: string}) => x.name.startsWith('hole-'))) {
      expect(r.reasons[0]).toMatch(/timed out after 2000 ms connecting/)
    }
    // The probes ran side by side: the run took far less than five deadlines one after another.
    expect(report.durationMs).toBeLessThan(2 * 2000)
  }

  it('--history lists the stored checks with uptime and a sparkline', async () => {
    const result = await cli(['rds:health', '--history', '--rds', 'main,refused'])
    expect(result.code, result.stderr).toBe(0)
    const main = result.stdout.split('\n').find((l) => l.includes(' main '))
    expect(main).toMatch(/100 %/)
    expect(main).toMatch(/[▁▂▃▄▅▆▇█]{2,}/)
    const refused = result.stdout.split('\n').find((l) => l.includes(' refused '))
    expect(refused).toMatch(/ 0 % /)
    expect(refused).toMatch(/×{2,}/)

    const json = JSON.parse((await cli(['rds:health', '--history', '--json', '--window', '1h'])).stdout)
    const mainHistory = json.rds.find((r: {name: string}) => r.name === 'main')
    const stored = query<{n: number}>("select count(*) as n from health_checks h join rds_instances r on r.id = h.rds_instance_id where r.name = 'main'")[0].n
    expect(mainHistory.total).toBe(stored)
    expect(mainHistory.uptime).toBe(1)
    expect(mainHistory.checks.every((c: {status: string}) => c.status === 'healthy')).toBe(true)
  })

  it('status shows the RDS counts by health and state, and "never run" for the rest; --json has the same data; FAIL exits 4', async () => {
    await cli(['rds:drain', 'wrong-pw'])
    const json = await cli(['status', '--json'])
    // Two RDS down: the overview is FAIL, and so is the exit code (--fail-on fail by default).
    expect(json.code, json.stderr).toBe(4)
    const overview = JSON.parse(json.stdout)
    expect(overview.sections.map((s: {key: string}) => s.key)).toEqual(['rds', 'sync', 'tenants', 'routing', 'billing', 'jobs', 'alerts', 'audit'])
    const rds = overview.sections[0]
    expect(rds.state).toBe('fail')
    expect(rds.data.byHealth).toMatchObject({healthy: 1, down: 2})
    expect(rds.data.byState).toEqual({online: 2, draining: 1, locked: 0})
    expect(rds.data.problems.map((p: {name: string}) => p.name).sort()).toEqual(['refused', 'wrong-pw'])
    for (const section of overview.sections.slice(1, -1)) expect(section.state).toBe('never')
    // init and rds:add were audited: the chain has entries and is intact.
    const audit = overview.sections.at(-1)
    expect(audit.state).toBe('ok')
    expect(audit.data).toMatchObject({intact: true})
    expect(audit.data.entries).toBeGreaterThan(0)

    const text = await cli(['status'])
    expect(text.code).toBe(4)
    expect(text.stdout).toMatch(/RDS instances\s+\[FAIL\] 3 active: 1 healthy, 2 down/)
    expect(text.stdout).toMatch(/2 online, 1 draining, 0 locked/)
    expect(text.stdout).toMatch(/Sync freshness\s+\[never run\]/)
    expect(text.stdout).toMatch(/Audit chain\s+\[ok\] \d+ entries, chain intact/)
    await cli(['rds:online', 'wrong-pw'])
  })

  it('--watch redraws until Ctrl-C, then exits 130 (piped: frames appended)', async () => {
    const child = spawn(process.execPath, [bin, 'rds:health', '--rds', 'main', '--watch', '0.3'], {
      env: {...process.env, ...env, NO_COLOR: '1', NODE_ENV: ''},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await waitFor(() => (stdout.match(/Ctrl-C to stop/g) ?? []).length >= 3, {timeoutMs: 15_000})
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(stdout.match(/1 healthy, 0 degraded, 0 down/g)?.length).toBeGreaterThanOrEqual(3)
  })

  it.skipIf(!hasScript())('--watch on a terminal uses the alternate screen and restores it on Ctrl-C', async () => {
    // `exec`: the shell script(1) starts (dash when $SHELL is unset) is replaced by
    // raiops, so Ctrl-C reaches raiops alone and not a shell waiting on it.
    const command = `exec ${process.execPath} ${bin} status --watch 0.3`
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      env: {...process.env, ...env, NO_COLOR: '1', TERM: 'xterm', NODE_ENV: ''},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    await waitFor(() => (stdout.match(/Ctrl-C to stop/g) ?? []).length >= 2, {timeoutMs: 15_000})
    // Ctrl-C typed at the terminal: the line discipline turns it into SIGINT.
    child.stdin.write('\u0003')
    expect(await exited).toBe(130)
    expect(stdout).toContain('\u001B[?1049h')
    const restored = stdout.lastIndexOf('\u001B[?25h\u001B[?1049l')
    expect(restored).toBeGreaterThan(stdout.lastIndexOf('Ctrl-C to stop'))
    // The last frame is left on the normal screen.
    expect(stdout.slice(restored)).toMatch(/RDS instances/)
  })
})

function hasScript(): boolean {
  return existsSync('/usr/bin/script') && spawnSync('script', ['--version']).status === 0
}
