import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {queryControlDb, runCli} from '../support/cli.js'
import {createTestDir, type TestDir} from '../support/servers.js'
import {initialisedHome} from '../support/session.js'

describe('a .env in a directory someone else controls', () => {
  let root: TestDir
  let victimHome: string
  let attackerHome: string
  let checkout: string
  // The victim keeps raiops in its default place (XDG_DATA_HOME/raiops) and sets nothing else.
  let victimEnv: Record<string, string | undefined>

  beforeAll(async () => {
    root = createTestDir('raiops-dotenv-')
    const victimData = join(root.path, 'victim-data')
    victimHome = join(victimData, 'raiops')
    attackerHome = join(root.path, 'attacker')
    checkout = join(root.path, 'checkout')
    mkdirSync(checkout)
    victimEnv = {
      XDG_DATA_HOME: victimData,
      RAIOPS_HOME: undefined,
      RAIOPS_DATABASE_URL: undefined,
      RAIOPS_MASTER_KEY: undefined,
      RAIOPS_MASTER_KEY_FILE: undefined,
    }
    const victim = await runCli(['init', '--admin-email', 'victim@example.com', '--admin-name', 'Victim', '--password-stdin'], {
      env: victimEnv,
      input: 'victim-admin-password-1\n',
    })
    expect(victim.code, victim.stderr).toBe(0)

    // Someone else's registry, and a token of theirs that lets anyone use it.
    const attacker = await initialisedHome({
      home: attackerHome,
      password: 'attacker-admin-password-1',
      email: 'attacker@example.com',
      name: 'Attacker',
    })
    const made = await attacker.run(['token:create', '--name', 'bait', '--role', 'system_admin', '--expires', '1d', '--json'])
    expect(made.code, made.stderr).toBe(0)
    const {token} = JSON.parse(made.stdout) as {token: string}
    writeFileSync(join(checkout, '.env'), `RAIOPS_HOME=${attackerHome}\nRAIOPS_TOKEN=${token}\nNO_COLOR=1\n`)
  })

  afterAll(() => root?.drop())

  it("cannot point raiops at another registry: rds:add --password-stdin run there stores the password in the user's own, with one warning line", async () => {
    const added = await runCli(
      ['rds:add', '--name', 'prod', '--host', '10.0.0.1', '--username', 'root', '--rai-database', 'rai', '--password-stdin', '--no-test', '--no-input'],
      {
        env: victimEnv,
        cwd: checkout,
        input: 'production-db-password-1\n',
      },
    )
    expect(added.code, added.stderr).toBe(0)
    expect(queryControlDb<{n: number}>(attackerHome, 'select count(*) as n from rds_instances')[0].n).toBe(0)
    expect(queryControlDb<{name: string}>(victimHome, 'select name from rds_instances')).toEqual([{name: 'prod'}])
    expect(added.stderr.trim().split('\n')).toEqual([
      `Warning: ignoring RAIOPS_HOME, RAIOPS_TOKEN in ${join(checkout, '.env')}: set them in the environment or in ${join(victimHome, '.env')}`,
    ])

    const who = await runCli(['auth:whoami', '--json'], {env: victimEnv, cwd: checkout})
    expect(who.code, who.stderr).toBe(0)
    expect(JSON.parse(who.stdout)).toMatchObject({email: 'victim@example.com'})
    expect(who.stderr).toMatch(/^Warning: ignoring RAIOPS_HOME, RAIOPS_TOKEN in /)
    // A script reading --json learns it too: the warning is in the result.
    expect((JSON.parse(who.stdout) as {warnings?: string[]}).warnings).toEqual([
      `ignoring RAIOPS_HOME, RAIOPS_TOKEN in ${join(checkout, '.env')}: set them in the environment or in ${join(victimHome, '.env')}`,
    ])
  })

  it('$RAIOPS_HOME/.env is honoured, when only its owner can write it', async () => {
    writeFileSync(join(victimHome, '.env'), 'RAIOPS_CONNECT_TIMEOUT_MS=not-a-number\n', {mode: 0o600})
    const bad = await runCli(['rds:list'], {env: victimEnv})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/RAIOPS_CONNECT_TIMEOUT_MS: expected a whole number of milliseconds/)
    writeFileSync(join(victimHome, '.env'), 'RAIOPS_CONNECT_TIMEOUT_MS=3000\n', {mode: 0o600})
    expect((await runCli(['rds:list'], {env: victimEnv})).code).toBe(0)
  })
})
