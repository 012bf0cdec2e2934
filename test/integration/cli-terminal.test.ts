import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startFaultProxy, type FaultProxy} from '../support/fault-proxy.js'
import {createTestDir, mysqlServer, pgServer, uniqueName, type TestDir} from '../support/servers.js'
import {CliSession, homeEnv, initialisedHome, killStartedClis, startCli, waitFor, type BackgroundCli} from '../support/session.js'
import {startTerminal, type TerminalSession} from '../support/terminal.js'

const PASSWORD = 'terminal-Pass-42!'
/** How long a command may take to end after Ctrl-C (starting node on a loaded machine included). */
const PROMPTLY_MS = 4000

/** The command's exit code, failing if it has not ended within `ms`. */
async function endsWithin<T>(exited: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([exited, late])
  } finally {
    clearTimeout(timer)
  }
}

const terminals: TerminalSession[] = []
function terminal(args: string[], env: Record<string, string>): TerminalSession {
  const started = startTerminal(args, {env})
  terminals.push(started)
  return started
}

afterAll(() => {
  for (const t of terminals) t.kill()
  killStartedClis()
})

describe('init at a terminal', () => {
  let dir: TestDir
  beforeAll(() => {
    dir = createTestDir('raiops-terminal-init-')
  })
  afterAll(() => dir?.drop())

  it('checks each answer as it is given and asks again, naming no flag', async () => {
    const home = join(dir.path, 'asks-again')
    const term = terminal(['init'], homeEnv(home))
    await term.waitFor(/Admin email/)
    term.type('not-an-email\r')
    await term.waitFor(/expected an email address/)
    // The bad answer is refused before the next question: the name is not asked yet.
    expect(term.text()).not.toMatch(/Admin name/)
    term.type('\u0015ops@example.com\r')
    await term.waitFor(/Admin name/)
    term.type('Ops\r')
    await term.waitFor(/Admin password/)
    let mark = term.text().length
    term.type('short\r')
    await term.waitFor(/at least 10 characters/, {from: mark})
    expect(term.text().slice(mark)).not.toMatch(/Repeat it/)
    term.type(`\u0015${PASSWORD}\r`)
    await term.waitFor(/Repeat it/)
    mark = term.text().length
    term.type(`${PASSWORD}\r`)
    expect(await endsWithin(term.exited, 20_000, 'init')).toBe(0)
    expect(term.text().slice(mark)).toMatch(/admin\s+ops@example\.com \(created\)/)
    expect(term.text()).not.toMatch(/--admin-email|--admin-name|Error/)
    expect(term.raw).not.toContain(PASSWORD)
  })

  it('Ctrl-C at a prompt exits 130 without a word and leaves no control database behind', async () => {
    const home = join(dir.path, 'ctrl-c')
    const term = terminal(['init'], homeEnv(home))
    await term.waitFor(/Admin email/)
    term.type('ops@example.com\r')
    await term.waitFor(/Admin name/)
    const mark = term.text().length
    term.type('\u0003')
    expect(await endsWithin(term.exited, PROMPTLY_MS, 'init after Ctrl-C')).toBe(130)
    expect(term.text().slice(mark)).not.toMatch(/Error|force closed|SIGINT/)
    expect(existsSync(join(home, 'raiops.sqlite'))).toBe(false)
    // The next command says what to do, not that migrations are pending in an empty file.
    const next = await new CliSession(homeEnv(home)).run(['rds:list'])
    expect(next.code).toBe(2)
    expect(next.stderr).toMatch(/raiops is not initialised/)
    expect(next.stderr).not.toMatch(/migration/)
  })
})

describe('init that stops part-way', () => {
  let dir: TestDir
  beforeAll(() => {
    dir = createTestDir('raiops-init-fails-')
  })
  afterAll(() => dir?.drop())

  it('a bad flag value is refused before anything is asked or created, naming the flag', async () => {
    const home = join(dir.path, 'bad-flag')
    const session = new CliSession(homeEnv(home))
    const result = await session.run(['init', '--admin-email', 'nobody', '--admin-name', 'X', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^Error: --admin-email: expected an email address/)
    expect(existsSync(join(home, 'raiops.sqlite'))).toBe(false)
  })

  it('without a terminal and a missing value: exit 2, no control database file, and the next command says to run init', async () => {
    const home = join(dir.path, 'missing')
    const session = new CliSession(homeEnv(home))
    const result = await session.run(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--no-input'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--password-stdin is required/)
    expect(existsSync(join(home, 'raiops.sqlite'))).toBe(false)
    const next = await session.run(['status'])
    expect(next.stderr).toMatch(/raiops is not initialised/)
    // Then init works as if nothing had happened.
    const init = await session.run(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(init.code, init.stderr).toBe(0)
  })

  it.each([
    {
      engine: 'mysql',
      url: (db: string) => `mysql://root@${mysqlServer.host}:${mysqlServer.port}/${db}`,
      command: /mysql -h .* -e 'CREATE DATABASE \w+ CHARACTER SET utf8mb4'/,
    },
    {engine: 'postgres', url: (db: string) => `postgres://postgres@${pgServer.host}:${pgServer.port}/${db}`, command: /createdb -h \S+ -p \d+ -U postgres \w+/},
  ])('a $engine control database that does not exist: the hint is the command that creates it', async ({url, command}) => {
    const database = uniqueName('raiops_missing')
    const session = new CliSession(homeEnv(join(dir.path, database), {RAIOPS_DATABASE_URL: url(database)}))
    const result = await session.run(['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], {input: `${PASSWORD}\n`})
    expect(result.code).toBe(1)
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(command)
    expect(result.stderr).toContain(database)
    expect(result.stderr).toMatch(/then run `raiops init`/)
  })
})

describe('rds:add at a terminal', () => {
  let dir: TestDir
  let session: CliSession
  beforeAll(async () => {
    dir = createTestDir('raiops-terminal-rds-')
    session = await initialisedHome({home: join(dir.path, 'raiops'), password: PASSWORD})
  })
  afterAll(() => dir?.drop())

  /** rds:add with every value but the master question and the optional ones as flags; answers each question with Enter. */
  async function addAnsweringDefaults(name: string): Promise<string> {
    const args = [
      'rds:add',
      '--name',
      name,
      '--engine',
      'mysql',
      '--host',
      '127.0.0.1',
      '--port',
      '3306',
      '--username',
      'root',
      '--rai-database',
      'rai',
      '--no-test',
    ]
    const term = terminal(args, session.env)
    await term.waitFor(/master RDS/)
    const question =
      term
        .text()
        .split('\n')
        .find((line) => /master RDS/.test(line)) ?? ''
    term.type('\r')
    for (const prompt of [/Password/, /Providers database/, /App URL/]) {
      await term.waitFor(prompt)
      term.type('\r')
    }
    expect(await endsWithin(term.exited, 20_000, 'rds:add')).toBe(0)
    return question
  }

  it('asks whether the RDS is the master: yes by default while there is none, then no', async () => {
    expect(await addAnsweringDefaults('first')).toMatch(/\(Y\/n\)/)
    expect(await addAnsweringDefaults('second')).toMatch(/\(y\/N\)/)
    const list = await session.run(['rds:list', '--json'])
    const rows = JSON.parse(list.stdout) as Array<{name: string; isMaster: boolean}>
    expect(rows.map((r) => [r.name, r.isMaster])).toEqual([
      ['first', true],
      ['second', false],
    ])
  })
})

describe('Ctrl-C while a server is silent', () => {
  let dir: TestDir
  let session: CliSession
  let silent: FaultProxy

  beforeAll(async () => {
    dir = createTestDir('raiops-terminal-ctrlc-')
    silent = await startFaultProxy({targetHost: mysqlServer.host, targetPort: mysqlServer.port, mode: 'blackhole'})
    // Probes and connections that would wait far longer than a test does.
    session = await initialisedHome({home: join(dir.path, 'raiops'), password: PASSWORD, env: {RAIOPS_CONNECT_TIMEOUT_MS: '30000'}})
    const added = await session.run([
      'rds:add',
      '--name',
      'silent',
      '--host',
      '127.0.0.1',
      '--port',
      String(silent.port),
      '--username',
      'root',
      '--rai-database',
      'rai',
      '--no-test',
      '--no-input',
    ])
    expect(added.code, added.stderr).toBe(0)
  })
  afterAll(async () => {
    await silent?.close()
    dir?.drop()
  })

  /** Waits until the command has opened a connection to the silent server (it is probing it). */
  async function probing(before: number): Promise<void> {
    await waitFor(() => silent.accepted > before, {what: 'a connection to the silent server', timeoutMs: 15_000})
  }

  it.each([
    {what: 'rds:health --watch', args: ['rds:health', '--watch', '2', '--timeout', '30']},
    {what: 'rds:health', args: ['rds:health', '--timeout', '30']},
    {what: 'status --refresh --watch', args: ['status', '--refresh', '--timeout', '30', '--watch', '2']},
  ])('$what at a terminal stops at the first Ctrl-C and exits 130, the cursor shown again', async ({args}) => {
    const before = silent.accepted
    const term = terminal(args, session.env)
    await probing(before)
    await term.waitFor(/probing/)
    term.type('\u0003')
    expect(await endsWithin(term.exited, PROMPTLY_MS, `${args[0]} after Ctrl-C`)).toBe(130)
    // The spinner hid the cursor: it is shown again, and the alternate screen (if any) left.
    expect(term.raw.lastIndexOf('\u001B[?25h')).toBeGreaterThan(term.raw.lastIndexOf('\u001B[?25l'))
    expect(term.raw.lastIndexOf('\u001B[?1049l')).toBeGreaterThanOrEqual(term.raw.lastIndexOf('\u001B[?1049h'))
  })

  it('rds:health --watch piped: SIGINT mid-probe exits 130 at once', async () => {
    const before = silent.accepted
    const watch: BackgroundCli = startCli(['rds:health', '--watch', '2', '--timeout', '30'], {env: session.env})
    await probing(before)
    watch.child.kill('SIGINT')
    expect(await endsWithin(watch.exited, PROMPTLY_MS, 'rds:health --watch after SIGINT')).toBe(130)
  })

  it('a sync stops cleanly at the first Ctrl-C and at once at the second: exit 130', async () => {
    const before = silent.accepted
    const sync = startCli(['sync:tenants'], {env: session.env})
    await probing(before)
    sync.child.kill('SIGINT')
    await waitFor(() => /stopping \(SIGINT\)/.test(sync.output.stderr) || sync.child.exitCode !== null, {what: 'the first Ctrl-C said', timeoutMs: PROMPTLY_MS})
    sync.child.kill('SIGINT')
    expect(await endsWithin(sync.exited, PROMPTLY_MS, 'sync:tenants after two Ctrl-C')).toBe(130)
  })
})
