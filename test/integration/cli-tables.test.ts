import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {displayWidth} from '../../src/cli/output/fit.js'
import {CLI_BIN, cliEnv, type CliResult} from '../support/cli.js'
import {createRaiFixture, type RaiFixture} from '../support/rai-fixture.js'
import {createTestDir, mysqlServer, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

/** The widest line of the tables in `text` (the lines under them are summaries). */
const widest = (text: string): number =>
  Math.max(
    0,
    ...text
      .split('\n')
      .filter((line) => /^[┌│├└]/.test(line))
      .map(displayWidth),
  )
/** The column headers of each table in `text` (the line above each rule). */
const headers = (text: string): string[][] => {
  const lines = text.split('\n')
  return lines.flatMap((line, i) =>
    /^├/.test(line)
      ? [
          lines[i - 1]
            .split('│')
            .map((cell) => cell.trim())
            .filter(Boolean),
        ]
      : [],
  )
}

describe('tables that fit the terminal', () => {
  const ADMIN_PASSWORD = 'tables-admin-password-1'
  let home: TestDir
  let fleet: RaiFixture
  let session: CliSession

  const cli = (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> => session.run(args, {env})
  const at80 = (args: string[]) => cli(args, {COLUMNS: '80'})
  const piped = (args: string[]) => cli(args, {COLUMNS: undefined})

  beforeAll(async () => {
    home = createTestDir('raiops-tables-')
    fleet = await createRaiFixture({engine: 'mysql', tenants: 4, usersPerTenant: 2, master: true})
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: ADMIN_PASSWORD,
      env: {RAIOPS_CONNECT_TIMEOUT_MS: '1500'},
      runner: 'in-process',
      timeoutMs: 60_000,
    })
    const add = (name: string, port: number, extra: string[] = []) =>
      cli([
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
        fleet.database,
        '--no-test',
        '--no-input',
        ...extra,
      ])
    expect((await add('eu-central-1', mysqlServer.port, ['--master'])).code).toBe(0)
    // Nothing listens on port 1: its sync and probe fail, with an error longer than any terminal line.
    expect((await add('us-west-2-analytics-replica', 1, ['--providers-database', 'providers_with_a_long_name'])).code).toBe(0)
    expect((await cli(['sync:all', '--force'])).code).toBe(3)
    expect((await cli(['rds:health'])).code).toBe(4)
  })

  afterAll(async () => {
    await fleet?.drop()
    home?.drop()
    session?.expectNoSecretInTranscript(ADMIN_PASSWORD)
  })

  it.each([
    [['rds:list'], [['id', 'name', 'state', 'health']]],
    [
      ['sync:status'],
      [
        ['kind', 'last run', 'result', 'error'],
        ['id', 'rds', 'last sync', 'result', 'error'],
      ],
    ],
    [['operator:list'], [['id', 'email', 'role', 'active']]],
    [['audit:list'], [['id', 'when', 'actor', 'action']]],
    [['rds:health'], [['id', 'name', 'status', 'reasons']]],
    [['rds:health', '--history'], [['id', 'name', 'now']]],
    [['rds:test', '--all'], [['id', 'name', 'result', 'error']]],
    [['sync:tenants', '--force'], [['id', 'rds', 'result', 'note']]],
  ])('%j at COLUMNS=80: no line over 80, the columns that matter kept; --wide shows more', async (args, kept) => {
    const fitted = await at80(args)
    expect(fitted.stderr).not.toMatch(/Error/)
    expect(widest(fitted.stdout), fitted.stdout).toBeLessThanOrEqual(80)
    const shown = headers(fitted.stdout)
    expect(shown).toHaveLength(kept.length)
    kept.forEach((columns, i) => expect(shown[i]).toEqual(expect.arrayContaining(columns)))
    const wide = headers((await at80([...args, '--wide'])).stdout)
    wide.forEach((columns, i) => expect(columns).toEqual(expect.arrayContaining(shown[i])))
    expect(wide.flat().length, fitted.stdout).toBeGreaterThan(shown.flat().length)
  })

  it('sync:status is 80 wide at COLUMNS=80, the failed RDS and its error still shown; --wide shows every column, over 80', async () => {
    const fitted = await at80(['sync:status'])
    expect(fitted.code).toBe(0)
    expect(widest(fitted.stdout)).toBeLessThanOrEqual(80)
    expect(fitted.stdout).toMatch(/│ 2 +│ us-west-2-analytics-rep… │ just now +│ failed │ connection refused +│/)
    const wide = await at80(['sync:status', '--wide'])
    expect(widest(wide.stdout)).toBeGreaterThan(80)
    expect(headers(wide.stdout)).toEqual([
      ['kind', 'last run', 'result', 'counts', 'data age', 'running now', 'error'],
      ['id', 'rds', 'last sync', 'result', 'counts', 'data age', 'error'],
    ])
    expect(wide.stdout).toMatch(
      /│ 2 +│ us-west-2-analytics-replica │ just now +│ failed │ no changes +│ never synced │ connection refused \(127.0.0.1:1\): nothing is listening there │/,
    )
  })

  it('--columns shows exactly the named columns, in that order, still fitted; in csv too; an unknown name or --json is refused (exit 2)', async () => {
    const chosen = await at80(['rds:list', '--columns', 'Name,health'])
    expect(chosen.code, chosen.stderr).toBe(0)
    expect(headers(chosen.stdout)).toEqual([['name', 'health']])
    expect(chosen.stdout).toContain('us-west-2-analytics-replica')
    expect(widest(chosen.stdout)).toBeLessThanOrEqual(80)
    const wide = await at80(['rds:list', '--columns', 'health,name', '--wide'])
    expect(headers(wide.stdout)).toEqual([['health', 'name']])

    const csv = await piped(['rds:list', '--format', 'csv', '--columns', 'id,name'])
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout).toBe('id,name\n1,eu-central-1\n2,us-west-2-analytics-replica\n')

    const unknown = await at80(['rds:list', '--columns', 'name,colour'])
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toMatch(/unknown column "colour"; the columns are id, name, .*health/)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)

    const json = await at80(['rds:list', '--columns', 'name', '--json'])
    expect(json.code).toBe(2)
    expect(json.stderr + json.stdout).toContain('--columns chooses the columns of a table or CSV; it cannot be combined with --json')

    const health = await at80(['rds:health', '--columns', 'name,status'])
    expect(headers(health.stdout)).toEqual([['name', 'status']])
    // A command that prints two tables shows the named columns in each.
    const status = await at80(['sync:status', '--columns', 'result,error'])
    expect(headers(status.stdout)).toEqual([
      ['result', 'error'],
      ['result', 'error'],
    ])
  })

  it('with no COLUMNS and a pipe: unlimited, every column and every value in full, as --wide', async () => {
    for (const args of [['rds:list'], ['sync:status'], ['audit:list'], ['operator:list']]) {
      // --utc: the same text a second later.
      const full = await piped([...args, '--utc'])
      const wide = await at80([...args, '--utc', '--wide'])
      expect(full.stdout, args.join(' ')).toBe(wide.stdout)
      expect(full.stdout).not.toContain('…')
    }
    const rds = await piped(['rds:list'])
    expect(headers(rds.stdout)).toEqual([['id', 'name', 'engine', 'endpoint', 'database', 'master', 'active', 'state', 'health', 'checked']])
    expect(rds.stdout).toContain('us-west-2-analytics-replica')
    const status = await piped(['sync:status'])
    expect(status.stdout).toMatch(/us-west-2-analytics-replica: connection refused/)
  })

  it('times are relative in tables, UTC ISO with --utc, exact in csv and --json; headers are lower case with a rule under them', async () => {
    const relative = await at80(['audit:list', '--limit', '3'])
    expect(relative.stdout).toMatch(/│ \d+ +│ (just now|\d+ s ago) +│/)
    expect(relative.stdout).not.toMatch(/\d{4}-\d\d-\d\d/)
    const utc = await at80(['audit:list', '--limit', '3', '--utc'])
    expect(utc.stdout).toMatch(/│ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ │/)
    const csv = await at80(['audit:list', '--limit', '3', '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toBe('id,when,actor,action,target,rds,tenant')
    expect(csv.stdout.split('\n')[1]).toMatch(/^\d+,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z,/)
    const json = JSON.parse((await at80(['rds:list', '--json'])).stdout) as Array<{health: {checkedAt: string}}>
    expect(json[0].health.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    for (const args of [['rds:list'], ['sync:status'], ['operator:list'], ['role:list'], ['audit:list']]) {
      const result = await at80(args)
      for (const header of headers(result.stdout).flat()) expect(header, args.join(' ')).toBe(header.toLowerCase())
    }
  })

  it('at a terminal 80 columns wide (no COLUMNS), the tables fit it too', async () => {
    // `script` gives the command a pseudo-terminal; stty sets its width.
    const env = cliEnv({...session.env, COLUMNS: undefined})
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-q', '-e', '-c', `stty cols 80 rows 50; ${process.execPath} ${CLI_BIN} sync:status`, '/dev/null'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('error', reject)
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))))
    })
    const text = output.replace(/\r/g, '')
    expect(headers(text)[1]).toEqual(expect.arrayContaining(['id', 'rds', 'last sync', 'result', 'error']))
    expect(widest(text), text).toBeLessThanOrEqual(80)
    expect(widest(text)).toBeGreaterThan(70)
  })
})
