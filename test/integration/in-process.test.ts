import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {homeEnv, runInProcess} from '../support/session.js'

const ADMIN_PASSWORD = 'in-process-admin-password-1'

/** What a test compares: the exit code and the output, with what differs between two homes (the path, times, key ids) masked. */
function comparable(result: CliResult, home: string): {code: number | null; stdout: string; stderr: string} {
  const mask = (text: string) =>
    text
      .replaceAll(home, '<home>')
      .replace(/\d{4}-\d\d-\d\d[T ][\d:.]+Z?/g, '<time>')
      .replace(/\bk[0-9a-f]{8}\b/g, '<kid>')
      .replace(/\b\d+ ?ms\b/g, '<ms>')
  return {code: result.code, stdout: mask(result.stdout), stderr: mask(result.stderr)}
}

describe('a command run in-process reports what the spawned CLI reports', () => {
  let spawned: TestDir
  let inProcess: TestDir

  beforeAll(() => {
    spawned = createTestDir('raiops-spawned-')
    inProcess = createTestDir('raiops-in-process-')
  })
  afterAll(() => {
    spawned?.drop()
    inProcess?.drop()
  })

  // The same sequence in two homes, one spawned and one in-process: init reads stdin, the rest read the home it made.
  it.each([
    [['init', '--admin-email', 'ops@example.com', '--admin-name', 'Ops', '--password-stdin'], `${ADMIN_PASSWORD}\n`],
    [['auth:whoami', '--json'], undefined],
    [['rds:list'], undefined],
    [['rds:list', '--json'], undefined],
    [['rds:show', 'nope'], undefined],
    [['rds:show', 'nope', '--json'], undefined],
    [['rds:list', '--format', 'yaml'], undefined],
    [['rds:list', '--no-such-flag'], undefined],
    [['operator:list', '--format', 'csv'], undefined],
    [['--version'], undefined],
  ])('raiops %j', async (args, input) => {
    const a = await runCli(args, {env: homeEnv(`${spawned.path}/home`), input})
    const b = await runInProcess(args, {env: homeEnv(`${inProcess.path}/home`), input})
    expect(comparable(b, inProcess.path)).toEqual(comparable(a, spawned.path))
  })
})
