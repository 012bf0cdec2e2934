import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CLI_BIN, cliEnv, runCli} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {homeEnv, initialisedHome, type CliSession} from '../support/session.js'

const VERSION = /^raiops\/\d+\.\d+\.\d+ \S+ node-v\d+/

describe('the command surface: help, version, mistyped commands and flags', () => {
  let dir: TestDir
  let session: CliSession
  // Spawned: the version flags, help and an unknown command are handled by oclif around the command, and exit through bin/run.js.
  const cli = (args: string[]) => runCli(args, {env: homeEnv(join(dir.path, 'empty'))})

  beforeAll(async () => {
    dir = createTestDir('raiops-help-')
    session = await initialisedHome({home: join(dir.path, 'raiops'), password: 'help-admin-password-1', runner: 'in-process'})
  })
  afterAll(() => dir.drop())

  it('raiops help lists every topic with its own description', async () => {
    const result = await cli(['help'])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^ {2}token +service tokens for cron and CI/m)
    expect(result.stdout).toMatch(/^ {2}audit +the tamper-evident audit trail/m)
    // A command's summary is not a topic's description any more.
    expect(result.stdout).not.toContain('create a service token for cron or CI')
    expect(result.stdout).not.toContain('write a signed (Ed25519) statement')
  })

  it('raiops help rds:add shows its flags and examples with the $ prompt', async () => {
    const result = await cli(['help', 'rds:add'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('USAGE\n  $ raiops rds:add')
    const examples = result.stdout.split('EXAMPLES\n')[1]
    const lines = examples.split('\n').filter((line) => line.trim() !== '')
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(line).toMatch(/^ {2}\$ raiops rds:add/)
  })

  it('shows defaults in the unit the flag takes', async () => {
    const tail = await cli(['audit:tail', '--help'])
    expect(tail.stdout).toMatch(/--interval=<value>\s+\[default: 1\] seconds/)
    const login = await cli(['auth:login', '--help'])
    expect(login.stdout).toMatch(/--ttl=<value>\s+\[default: 12h\]/)
  })

  it.each([['version'], ['-v'], ['--version']])('raiops %s prints the version', async (arg) => {
    const result = await cli([arg])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toMatch(VERSION)
    expect(result.stderr).toBe('')
  })

  it('a mistyped command names the one meant and exits 2 when nobody can answer', async () => {
    const result = await cli(['rds:lst'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe('Error: rds:lst is not a raiops command: did you mean rds:list? — see raiops help rds\n')
  })

  it('a command nothing is near is not guessed at', async () => {
    const result = await cli(['xyzzy'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe('Error: xyzzy is not a raiops command — see raiops help\n')
  })

  it('a mistyped command under --json is a JSON error', async () => {
    const result = await cli(['rds:lsit', '--json'])
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout)).toEqual({
      error: {code: 'BAD_USAGE', message: 'rds:lsit is not a raiops command: did you mean rds:list?', hint: 'see raiops help rds', exitCode: 2},
    })
  })

  it('at a terminal, a mistyped command asks whether the one meant should run', () => {
    // A pseudo-terminal (script) answers "n": oclif's not-found plugin asks, and exits 127 without running anything.
    const result = spawnSync('script', ['-qec', `${process.execPath} ${CLI_BIN} rds:lst`, '/dev/null'], {
      env: cliEnv(homeEnv(join(dir.path, 'empty'))),
      input: 'n\r',
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(result.stdout).toContain('Did you mean rds:list?')
    expect(result.status).toBe(127)
  })

  it('raiops autocomplete sets up bash and zsh completion of commands and flags', async () => {
    const cache = join(dir.path, 'cache')
    for (const shell of ['bash', 'zsh']) {
      const result = await runCli(['autocomplete', shell], {env: homeEnv(join(dir.path, 'empty'), {RAIOPS_CACHE_DIR: cache})})
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain(`raiops autocomplete:script ${shell}`)
    }
    expect(readFileSync(join(cache, 'autocomplete', 'functions', 'zsh', '_raiops'), 'utf8')).toContain('"rds\\:list:')
    // What bash offers at TAB, from the completion the setup script loads (bash-completion's colon helpers may be missing here).
    const complete = (...words: string[]) =>
      spawnSync(
        'bash',
        [
          '-c',
          `source "${join(cache, 'autocomplete', 'bash_setup')}"; COMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _raiops_autocomplete 2>/dev/null; echo "\${COMPREPLY[@]}"`,
        ],
        {encoding: 'utf8'},
      ).stdout.trim()
    expect(complete('raiops', 'rds:l')).toBe('rds:list rds:lock')
    expect(complete('raiops', 'rds:list', '--fo')).toBe('--format')
  })

  it('a mistyped flag names the flag meant, never the value given', async () => {
    const spaced = await session.run(['rds:list', '--formt', 'json'])
    expect(spaced.code).toBe(2)
    expect(spaced.stdout).toBe('')
    expect(spaced.stderr).toBe('Error: Nonexistent flag: --formt (did you mean --format?) — see --help\n')

    const valued = await session.run(['rds:list', '--formt=s3cret-value'])
    expect(valued.code).toBe(2)
    expect(valued.stderr).toContain('--formt (did you mean --format?) (the value given is not shown)')
    expect(valued.stderr).not.toContain('s3cret-value')

    const far = await session.run(['rds:list', '--zzzzzzzz'])
    expect(far.stderr).toBe('Error: Nonexistent flag: --zzzzzzzz — see --help\n')
  })
  it('raiops help with a mistyped command names the nearest one and exits 2', async () => {
    const typo = await cli(['help', 'rds:lst'])
    expect(typo.code).toBe(2)
    expect(typo.stdout).toBe('')
    expect(typo.stderr).toBe('Error: rds:lst is not a raiops command: did you mean rds:list? — see raiops help rds\n')
    const nothingNear = await cli(['help', 'xyzzy'])
    expect(nothingNear.code).toBe(2)
    expect(nothingNear.stderr).toBe('Error: xyzzy is not a raiops command — see raiops help\n')
    // A command and a topic still get their help.
    expect((await cli(['help', 'rds:list'])).code).toBe(0)
    expect((await cli(['help', 'rds'])).stdout).toContain('rds:show')
  })

  it('raiops completion:fish prints a fish script of the commands, their flags and RDS names', async () => {
    writeFileSync(join(dir.path, 'fish.sqlite'), '')
    const added = await session.run(['rds:add', '--name', 'fish-eu', '--engine', 'sqlite', '--file', join(dir.path, 'fish.sqlite'), '--no-test'])
    expect(added.code, added.stderr).toBe(0)
    const result = await cli(['completion:fish'])
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const script = result.stdout
    expect(script).toContain("complete -c raiops -n __raiops_no_command -a 'rds:list' -d 'list the registered RDS instances'\n")
    expect(script).toContain("complete -c raiops -n '__raiops_using_command rds:list' -l format -s f -x -a 'table json csv ndjson' -d 'output format'\n")
    expect(script).toContain("complete -c raiops -n '__raiops_using_command rds:show' -x -a '(__raiops_rds)'\n")
    expect(script).toMatch(/^complete -c raiops -n '__raiops_using_command rds:health' -l rds -x -a '\(__raiops_rds\)'/m)
    expect(script).toContain('raiops rds:list --format csv --no-input 2>/dev/null | tail -n +2 | cut -d, -f2')
    // Where fish is installed: the script parses, and completes as fish runs it (raiops on PATH, signed in).
    if (spawnSync('fish', ['--version']).error) return
    const scriptFile = join(dir.path, 'raiops.fish')
    writeFileSync(scriptFile, script)
    const binDir = join(dir.path, 'bin')
    mkdirSync(binDir, {recursive: true})
    writeFileSync(join(binDir, 'raiops'), `#!/bin/sh\nexec ${process.execPath} ${CLI_BIN} "$@"\n`, {mode: 0o755})
    const complete = (line: string) =>
      spawnSync('fish', ['--no-config', '-c', `source ${scriptFile}; complete -C '${line}'`], {
        encoding: 'utf8',
        env: {...cliEnv(), ...session.env, PATH: `${binDir}:${process.env.PATH}`},
      })
    expect(spawnSync('fish', ['--no-execute', scriptFile]).status).toBe(0)
    expect(complete('raiops rds:li').stdout).toBe('rds:list\tlist the registered RDS instances\n')
    expect(complete('raiops rds:list --format ').stdout.split('\n')).toContain('csv\toutput format')
    expect(complete('raiops rds:show ').stdout).toBe('fish-eu\n')
    expect(complete('raiops rds:health --rds ').stdout).toMatch(/^fish-eu\tonly these RDS/)
  })
})
