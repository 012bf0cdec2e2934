import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, type CliResult} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome, type CliSession} from '../support/session.js'

const ADMIN_PASSWORD = 'leaks-admin-password-1'

describe('no secret in debug output or in the errors of a mistyped command line', () => {
  let home: TestDir
  let env: Record<string, string>
  let session: CliSession
  // Spawned: DEBUG output is scrubbed by bin/run.js, which a command run in-process skips.
  const cli = (args: string[], options: {env?: Record<string, string>; input?: string} = {}): Promise<CliResult> => session.run(args, options)
  const printed = (result: CliResult) => `${result.stdout}\n${result.stderr}`

  beforeAll(async () => {
    home = createTestDir('raiops-leaks-')
    session = await initialisedHome({home: join(home.path, 'raiops'), password: ADMIN_PASSWORD, env: {RAIOPS_TOKEN: ''}, timeoutMs: 30_000})
    env = session.env
  })

  afterAll(() => home?.drop())

  it.each(['*', 'knex:*'])('DEBUG=%s: operator:add prints its queries but not the new bcrypt hash', async (debug) => {
    const email = `op-${debug === '*' ? 'all' : 'knex'}@example.com`
    const added = await cli(['operator:add', '--email', email, '--name', 'Op', '--role', 'read_only', '--password-stdin'], {
      env: {DEBUG: debug},
      input: 'operator-password-1\n',
    })
    expect(added.code, added.stderr).toBe(0)
    expect(added.stderr).toMatch(/knex:bindings/)
    const [{password_hash: hash}] = queryControlDb<{password_hash: string}>(env.RAIOPS_HOME, `select password_hash from operators where email = '${email}'`)
    expect(hash).toMatch(/^\$2y\$12\$/)
    expect(printed(added)).not.toContain(hash)
    expect(printed(added)).not.toContain(hash.slice(7))
    expect(printed(added)).not.toContain('operator-password-1')
  })

  it('DEBUG=*: neither an RDS password, its ciphertext, a service token nor its hash shows', async () => {
    const added = await cli(
      [
        'rds:add',
        '--name',
        'leaky',
        '--host',
        '127.0.0.1',
        '--port',
        '3306',
        '--username',
        'root',
        '--rai-database',
        'rai_leaky',
        '--password-stdin',
        '--no-test',
        '--no-input',
      ],
      {
        env: {DEBUG: '*'},
        input: 'rds-password-hunter2\n',
      },
    )
    expect(added.code, added.stderr).toBe(0)
    const [{password_enc: envelope}] = queryControlDb<{password_enc: string}>(env.RAIOPS_HOME, "select password_enc from rds_instances where name = 'leaky'")
    expect(printed(added)).not.toContain('rds-password-hunter2')
    expect(printed(added)).not.toContain(envelope.split('.')[2].slice(0, 24))

    const created = await cli(['token:create', '--name', 'leak-check', '--role', 'read_only', '--expires', '1d', '--json'], {
      env: {DEBUG: 'knex:*'},
    })
    expect(created.code, created.stderr).toBe(0)
    const {token} = JSON.parse(created.stdout) as {token: string}
    const digest = createHash('sha256').update(token).digest('hex')
    // The token is the command's result (stdout, once); the debug lines on stderr hold neither it nor its digest.
    expect(created.stderr).toMatch(/knex:bindings/)
    expect(created.stderr).not.toContain(token)
    expect(created.stderr).not.toContain(digest)

    const used = await cli(['rds:show', 'leaky', '--reveal'], {env: {DEBUG: '*', RAIOPS_TOKEN: token}})
    expect(used.stderr).toMatch(/knex:bindings/)
    expect(printed(used)).not.toContain(token)
    expect(printed(used)).not.toContain(digest)
    expect(printed(used)).not.toContain(envelope.split('.')[2].slice(0, 24))
  })

  const mistypes: Array<[string, string[], string]> = [
    ['--password=VALUE on a command that takes --password-stdin', ['operator:password', 'ops@example.com', '--password=Mistyped-Secret-1'], '--password'],
    ['--password VALUE', ['operator:password', 'ops@example.com', '--password', 'Mistyped-Secret-1'], '--password'],
    ['an unknown flag of any name with =VALUE', ['operator:password', 'ops@example.com', '--pw=Mistyped-Secret-1'], '--pw'],
    ['a value after a flag that takes none', ['rds:add', '--name', 'x', '--password-stdin', 'Mistyped-Secret-1'], '--password-stdin'],
    ['=VALUE on a flag that takes none', ['rds:list', '--no-input=Mistyped-Secret-1'], '--no-input'],
  ]

  it.each(mistypes)('%s: exit 2, one line naming the flag, the value nowhere (plain, --json, --verbose, DEBUG=*)', async (_, args, flag) => {
    for (const variant of [
      {extra: [] as string[], debug: ''},
      {extra: ['--json'], debug: ''},
      {extra: ['--verbose'], debug: ''},
      {extra: [], debug: '*'},
    ]) {
      const result = await cli([...args, ...variant.extra], {env: variant.debug ? {DEBUG: variant.debug} : {}})
      const context = `${args.join(' ')} ${variant.extra.join(' ')} DEBUG=${variant.debug}`
      expect(result.code, context).toBe(2)
      expect(printed(result), context).not.toContain('Mistyped-Secret-1')
      if (variant.extra.length === 0 && !variant.debug) {
        expect(result.stderr.trim().split('\n'), context).toHaveLength(1)
        expect(result.stderr, context).toContain(flag)
      }
    }
  })
})
