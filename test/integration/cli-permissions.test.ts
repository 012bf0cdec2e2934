import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BUILTIN_ROLES} from '../../src/lib/auth/permissions.js'
import type {CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const root = join(import.meta.dirname, '..', '..')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, {permission: string | null}>
}
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const roles = Object.keys(BUILTIN_ROLES)

/** The README's permission table: command → role → allowed. */
function readmeMatrix(): Map<string, Map<string, boolean>> {
  const table = readme.split('<!-- permissions -->')[1].split('<!-- permissionsstop -->')[0]
  const [header, , ...rows] = table.trim().split('\n')
  const columns = header
    .split('|')
    .map((c) => c.trim())
    .filter(Boolean)
    .slice(2)
  expect(columns).toEqual(roles)
  return new Map(
    rows.map((row) => {
      const cells = row
        .split('|')
        .map((c) => c.trim())
        .filter(Boolean)
      return [cells[0].replaceAll('`', ''), new Map(columns.map((role, i) => [role, cells[i + 2] === 'yes']))]
    }),
  )
}

describe('every command under every built-in role', () => {
  let home: TestDir
  let session: CliSession
  const tokens = new Map<string, string>()
  // In-process: the refusal is decided inside the command (BaseCommand.init), not by the process around it.
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => session.run(args, {env: extra})

  beforeAll(async () => {
    home = createTestDir('raiops-permissions-')
    session = await initialisedHome({
      home: join(home.path, 'raiops'),
      password: 'permissions-admin-password-1',
      env: {RAIOPS_TOKEN: ''},
      runner: 'in-process',
    })
    for (const role of roles) {
      const created = await cli(['token:create', '--name', `as-${role.replaceAll('_', '-')}`, '--role', role, '--expires', '1d', '--json'])
      expect(created.code, created.stderr).toBe(0)
      tokens.set(role, (JSON.parse(created.stdout) as {token: string}).token)
    }
  })

  afterAll(() => home?.drop())

  it('matches the table in the README: refused with exit 5 before the flags are read, or let through to them (exit 2 on a bogus flag)', async () => {
    const matrix = readmeMatrix()
    expect([...matrix.keys()].sort()).toEqual(Object.keys(manifest.commands).sort())
    const runs: Array<{id: string; role: string; allowed: boolean}> = []
    for (const id of Object.keys(manifest.commands)) for (const role of roles) runs.push({id, role, allowed: matrix.get(id)?.get(role) as boolean})
    const mismatches: string[] = []
    // Eight at a time: each run is a short process that parses nothing but the identity.
    for (let i = 0; i < runs.length; i += 8) {
      await Promise.all(
        runs.slice(i, i + 8).map(async ({id, role, allowed}) => {
          const result = await cli([id, '--no-such-flag-anywhere'], {RAIOPS_TOKEN: tokens.get(role) as string})
          const expected = allowed ? 2 : 5
          if (result.code !== expected) mismatches.push(`${id} as ${role}: exit ${result.code}, expected ${expected} (${result.stderr.trim()})`)
          if (!allowed && !result.stderr.includes(`needs the permission ${manifest.commands[id].permission}`))
            mismatches.push(`${id} as ${role}: ${result.stderr.trim()}`)
        }),
      )
    }
    expect(mismatches).toEqual([])
  }, 240_000)
})
