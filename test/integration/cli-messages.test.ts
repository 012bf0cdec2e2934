import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CLI_BIN, cliEnv, type CliResult} from '../support/cli.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, mysqlServer, type TestDir} from '../support/servers.js'
import {initialisedHome, killStartedClis, startCli, waitFor, type CliSession} from '../support/session.js'

/** What the user reads: every message here is said once, in words, with an exit code that matches it. */
describe('messages a person at a terminal reads', () => {
  let home: TestDir
  let session: CliSession
  let main: RaiFixture
  let noColumn: RaiFixture
  let noTable: RaiFixture
  const cli = (args: string[], options: {input?: string; env?: Record<string, string>} = {}): Promise<CliResult> => session.run(args, options)

  const register = async (name: string, database: string, extra: string[] = []): Promise<void> => {
    const args = ['rds:add', '--name', name, '--host', '127.0.0.1', '--port', String(mysqlServer.port), '--username', 'root', '--rai-database', database]
    const added = await cli([...args, '--no-test', '--no-input', ...extra])
    expect(added.code, added.stderr).toBe(0)
  }

  /**
   * A command at a terminal `columns` wide (script(1)'s pseudo-terminal, which
   * says 0 unless told): what it showed, stdout and stderr together, and its exit code.
   */
  const atTerminal = (args: string[], columns: number): Promise<{code: number | null; output: string}> =>
    new Promise((resolve, reject) => {
      const command = `stty cols ${columns} rows 40; exec ${process.execPath} ${CLI_BIN} ${args.join(' ')}`
      const child = spawn('script', ['-qefc', command, '/dev/null'], {
        env: cliEnv({...session.env, CI: undefined, TERM: 'xterm'}),
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (d) => (output += d))
      const timer = setTimeout(() => child.kill('SIGKILL'), 45_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({code, output})
      })
    })

  beforeAll(async () => {
    home = createTestDir('raiops-messages-')
    ;[main, noColumn, noTable] = await Promise.all([
      createRaiFixture({engine: 'mysql', tenants: 3, usersPerTenant: 2, master: true}),
      createRaiFixture({engine: 'mysql', tenants: 2, usersPerTenant: 1}),
      createRaiFixture({engine: 'mysql', tenants: 2, usersPerTenant: 1, omitTables: ['locations']}),
    ])
    // A server whose tenants table is not the one the fleet contract describes.
    const db = await noColumn.knex()
    try {
      await db.schema.alterTable('tenants', (table) => void table.dropColumn('primary_contact_name'))
    } finally {
      await db.destroy()
    }
    session = await initialisedHome({home: join(home.path, 'raiops'), password: 'messages-admin-password-1', runner: 'in-process', timeoutMs: 60_000})
  })

  afterAll(async () => {
    killStartedClis()
    await Promise.all([main?.drop(), noColumn?.drop(), noTable?.drop()])
    home?.drop()
  })

  it("oclif's parse errors as one plain line: a missing flag with what it is for, flags that exclude each other said once", async () => {
    const reason = await cli(['tenant:impersonate', '1'])
    expect(reason.code).toBe(2)
    expect(reason.stderr.trim()).toBe(
      'Error: --reason is required: why you open the tenant: one line, 10 to 500 characters (in the link and the audit trail) — see --help',
    )

    const both = await cli(['sync:routing', '--full', '--truncate'])
    expect(both.code).toBe(2)
    expect(both.stderr.trim()).toBe('Error: --full and --truncate cannot be used together: give one of them — see --help')

    const several = await cli(['token:create'])
    expect(several.code).toBe(2)
    expect(several.stderr.trim()).toMatch(/^Error: (--[a-z-]+, )+--[a-z-]+ and --[a-z-]+ are required — see --help$/)
    for (const flag of ['--name', '--role', '--expires']) expect(several.stderr).toContain(flag)

    const argument = await cli(['routing:lookup'])
    expect(argument.code).toBe(2)
    expect(argument.stderr.trim()).toBe('Error: EMAIL is required: the email address — see --help')

    // --json: the same words in the error object.
    const json = JSON.parse((await cli(['sync:routing', '--full', '--truncate', '--json'])).stdout) as {error: {message: string; exitCode: number}}
    expect(json.error).toMatchObject({message: '--full and --truncate cannot be used together: give one of them', exitCode: 2})
    for (const result of [reason, both, several, argument])
      expect(result.stderr).not.toMatch(/following errors? occurred|Missing required|cannot also be provided/)
  })

  it('routing:lookup of an email no tenant has: exit 0, said on stderr, nothing on stdout; --json has the same fields and an empty list', async () => {
    const text = await cli(['routing:lookup', 'nobody@example.com'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toBe('')
    expect(text.stderr.trim()).toBe('no tenant has this email: nobody@example.com is not in the routing cache')

    const json = await cli(['routing:lookup', 'nobody@example.com', '--json'])
    expect(json.code).toBe(0)
    expect(json.stderr).toBe('')
    expect(JSON.parse(json.stdout)).toEqual({email: 'nobody@example.com', cache: [], cacheAgeMs: null, live: null, differences: null})
  })

  it('status says how to fill a section never run (billing: before any subscription)', async () => {
    const json = JSON.parse((await cli(['status', '--json'])).stdout) as {sections: Array<{key: string; state: string; summary: string}>}
    expect(json.sections.map((s) => s.key)).toEqual(['rds', 'sync', 'tenants', 'routing', 'billing', 'jobs', 'alerts', 'audit'])
    expect(json.sections.find((s) => s.key === 'sync')).toMatchObject({state: 'never', summary: expect.stringContaining('raiops sync:all')})

    const text = await cli(['status'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^Billing\s+\[never run\] no subscription yet \(raiops billing:set TENANT --plan CODE\)$/m)
    expect(text.stdout).toMatch(/^Sync freshness\s+\[never run\] run `raiops sync:all`/m)
    expect(text.stdout).toMatch(/^Tenants\s+\[never run\] run `raiops sync:tenants`$/m)
    expect(text.stdout).toMatch(/^Routing cache\s+\[never run\] run `raiops sync:routing`$/m)
    expect(text.stdout).not.toMatch(/never run\] never run/)
  })

  it('audit:tail --follow shows an entry that lands seconds after it started as "just now", never "in the future"', async () => {
    const tail = startCli(['audit:tail', '--follow', '-n', '1', '--interval', '0.2'], {env: session.env})
    await waitFor(() => tail.output.stdout.split('\n').filter((l) => l.trim() !== '').length >= 2, {what: 'the first entry', timeoutMs: 20_000})
    // Later than the start by more than the 5 s that "just now" spans, so an age read against the start would be negative.
    await new Promise((resolve) => setTimeout(resolve, 6000))
    await register('tail-rds', main.database)
    await waitFor(() => tail.output.stdout.includes('rds.add'), {what: 'the rds.add entry', timeoutMs: 20_000})
    tail.child.kill('SIGINT')
    expect(await tail.exited).toBe(130) // Ctrl-C ends a follow: 130, as every command stopped by it
    const line = tail.output.stdout.split('\n').find((l) => l.includes('rds.add'))
    expect(line).toMatch(/\(just now\)/)
    expect(tail.output.stdout).not.toContain('in the future')
    await cli(['rds:edit', 'tail-rds', '--no-active'])
  })

  it('a tenant sync where one RDS is skipped as fresh and others fail: partial, exit 3, each failure said once, in words of the fleet contract', async () => {
    await register('main', main.database, ['--master'])
    await register('eu-2', noColumn.database)
    await register('no-loc', noTable.database)
    const first = await cli(['sync:tenants', '--rds', 'main'])
    expect(first.code, first.stderr).toBe(0)

    const json = await cli(['sync:tenants', '--json'])
    expect(json.code).toBe(3)
    const report = JSON.parse(json.stdout) as {status: string; rds: Array<{name: string; status: string; error: string | null}>}
    expect(report.status).toBe('partial')
    expect(report.rds.map((r) => [r.name, r.status])).toEqual([
      ['main', 'skipped'],
      ['eu-2', 'failed'],
      ['no-loc', 'failed'],
    ])
    const columnError =
      'the tenants table on eu-2 has no column primary_contact_name: it does not follow the RAI schema raiops reads (see README, fleet contract)'
    const tableError = 'the RAI database on no-loc has no table locations: it does not follow the RAI schema raiops reads (see README, fleet contract)'
    expect(report.rds.map((r) => r.error)).toEqual([null, columnError, tableError])

    // Piped: the table and the summary; the cause in the summary only.
    const piped = await cli(['sync:tenants'])
    expect(piped.code).toBe(3)
    const pipedAll = `${piped.stdout}${piped.stderr}`
    expect(pipedAll.split(columnError)).toHaveLength(2)
    expect(pipedAll.split(tableError)).toHaveLength(2)
    expect(piped.stdout).toMatch(/^tenants: partial · 0 RDS synced, 2 failed, 1 skipped/m)
    expect(piped.stdout).toContain(`  failed: eu-2: ${columnError}`)
    expect(pipedAll).not.toMatch(/ER_BAD_FIELD_ERROR|ER_NO_SUCH_TABLE|Unknown column/)

    // At a terminal: a progress line per RDS as it finishes, the table, the summary; the cause still once.
    const terminal = await atTerminal(['sync:tenants'], 200)
    expect(terminal.code, terminal.output).toBe(3)
    expect(terminal.output.split(columnError)).toHaveLength(2)
    expect(terminal.output.split(tableError)).toHaveLength(2)
    expect(terminal.output).toMatch(/✖ eu-2: failed after \d+\.\d s/)
    expect(terminal.output).toMatch(/^ {2}failed: no-loc: the RAI database/m)

    // A terminal that says it has no width: no spinner (ora would redraw forever), the same words.
    const narrow = await atTerminal(['sync:tenants'], 0)
    expect(narrow.code, narrow.output.slice(0, 2000)).toBe(3)
    expect(narrow.output.split(columnError)).toHaveLength(2)
  }, 120_000)

  it('status exits 4 when it shows FAIL (--fail-on fail by default), 0 with --fail-on never; --fail-on warn fails on warn', async () => {
    await cli(['rds:add', '--name', 'gone', '--host', '127.0.0.1', '--port', '1', '--username', 'root', '--rai-database', 'gone', '--no-test', '--no-input'])
    const health = await cli(['rds:health', '--timeout', '3'])
    expect(health.code, health.stderr).toBe(4)

    const failing = await cli(['status'])
    expect(failing.stdout).toMatch(/overall: FAIL/)
    expect(failing.code).toBe(4)
    const json = await cli(['status', '--json'])
    expect(json.code).toBe(4)
    expect(JSON.parse(json.stdout)).toMatchObject({state: 'fail'})
    expect((await cli(['status', '--fail-on', 'never'])).code).toBe(0)

    // Without the down server: no-loc is degraded (a table missing), the tenant sync partial: warn.
    await cli(['rds:edit', 'gone', '--no-active'])
    await cli(['rds:health', '--timeout', '3'])
    const warning = await cli(['status'])
    expect(warning.stdout).toMatch(/overall: warn/)
    expect(warning.code).toBe(0)
    expect((await cli(['status', '--fail-on', 'warn'])).code).toBe(4)
  })

  it('rds:health --format prometheus: latencies and ratios without float noise', async () => {
    const metrics = await cli(['rds:health', '--rds', 'main', '--format', 'prometheus'])
    expect(metrics.code, metrics.stderr).toBe(0)
    const latency = /^raiops_rds_latency_seconds\{rds="main"\} (\S+)$/m.exec(metrics.stdout)?.[1]
    expect(latency).toMatch(/^\d+(\.\d{1,6})?$/)
    const ratio = /^raiops_rds_connections_used_ratio\{rds="main"\} (\S+)$/m.exec(metrics.stdout)?.[1]
    expect(ratio).toMatch(/^\d+(\.\d{1,4})?$/)
    for (const line of metrics.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) expect(line).not.toMatch(/\.\d{7,}|e-/)
  })

  it('rds:edit says what changed by the flags that change it (--json keeps the field names); rds:show --reveal shows one password line', async () => {
    const edited = await cli(['rds:edit', 'eu-2', '--no-active', '--app-url', 'https://eu2.example.com'])
    expect(edited.code, edited.stderr).toBe(0)
    expect(edited.stdout).toMatch(/^✓ updated RDS eu-2: --app-url, --no-active$/m)
    expect(edited.stdout).not.toMatch(/isActive|appUrl/)
    const json = JSON.parse((await cli(['rds:edit', 'eu-2', '--active', '--json'])).stdout) as {changed: string[]}
    expect(json.changed).toEqual(['isActive'])

    await cli(['rds:add', '--name', 'secretive', '--host', '127.0.0.1', '--username', 'app', '--rai-database', 'x', '--password-stdin', '--no-test'], {
      input: 'secret-db-password\n',
    })
    const shown = await cli(['rds:show', 'secretive', '--reveal'])
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout.match(/^password:/gm)).toHaveLength(1)
    expect(shown.stdout).toMatch(/^password:\s+secret-db-password$/m)
    const hidden = await cli(['rds:show', 'secretive'])
    expect(hidden.stdout).toMatch(/^password:\s+\(set, encrypted\)$/m)
    await cli(['rds:edit', 'secretive', '--no-active'])
  })

  it('a routing sync from a master without user_email_routing names the table and the contract, not the driver', async () => {
    await cli(['rds:edit', 'main', '--no-master'])
    await cli(['rds:edit', 'no-loc', '--master', '--no-test'])
    const result = await cli(['sync:routing'])
    expect(result.code).toBe(3)
    expect(result.stdout).toContain(
      'failed: the RAI database on no-loc has no table user_email_routing: it does not follow the RAI schema raiops reads (see README, fleet contract)',
    )
    expect(result.stdout).not.toMatch(/ER_NO_SUCH_TABLE/)
  })
})
