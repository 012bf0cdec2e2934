import {chmodSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {loadConfig, loadEnvironment} from '../../src/lib/config/index.js'

const KEY = Buffer.alloc(32, 1).toString('base64')

function fixture() {
  const root = mkdtempSync(join(tmpdir(), 'raiops-dotenv-'))
  const home = join(root, 'home')
  const work = join(root, 'checkout')
  mkdirSync(home, {mode: 0o700})
  mkdirSync(work)
  return {root, home, work}
}

describe('which .env settings raiops honours', () => {
  it('a .env in the working directory cannot choose the home, the control database, the keys, the identity or the webhook secrets', () => {
    const {home, work} = fixture()
    writeFileSync(
      join(work, '.env'),
      [
        'RAIOPS_HOME=/tmp/theirs',
        'XDG_DATA_HOME=/tmp/theirs-data',
        'RAIOPS_DATABASE_URL=mysql://them:pw@evil.example/raiops',
        `RAIOPS_MASTER_KEY=${KEY}`,
        'RAIOPS_MASTER_KEY_FILE=/tmp/theirs/master.key',
        'RAIOPS_TOKEN=raiops_theirs',
        'RAIOPS_WEBHOOK_SECRETS=their-webhook-secret-1',
        'NO_COLOR=1',
        'APP_KEY=not-ours-at-all',
      ].join('\n'),
      {mode: 0o600},
    )
    const {env, warnings} = loadEnvironment({RAIOPS_HOME: home}, work)
    const config = loadConfig(env)
    expect(config.home).toBe(home)
    expect(config.databaseUrl).toBeUndefined()
    expect(config.masterKey).toBeUndefined()
    expect(config.masterKeyFile).toBe(join(home, 'master.key'))
    expect(config.token).toBeUndefined()
    expect(config.webhookSecrets).toEqual([])
    expect(env.NO_COLOR).toBe('1')
    expect(warnings).toEqual([
      `ignoring RAIOPS_DATABASE_URL, RAIOPS_HOME, RAIOPS_MASTER_KEY, RAIOPS_MASTER_KEY_FILE, RAIOPS_TOKEN, RAIOPS_WEBHOOK_SECRETS, XDG_DATA_HOME in ${join(work, '.env')}: set them in the environment or in ${join(home, '.env')}`,
    ])
    // The warning names settings, never their values.
    expect(warnings.join('\n')).not.toMatch(/evil|theirs|their-webhook|pw@/)
  })

  it('$RAIOPS_HOME/.env may set them (but not RAIOPS_HOME), when it is owned by the user and writable by nobody else', () => {
    const {home, work} = fixture()
    const file = join(home, '.env')
    writeFileSync(file, `RAIOPS_DATABASE_URL=sqlite:///${home}/other.db\nRAIOPS_MASTER_KEY=${KEY}\nRAIOPS_HOME=/tmp/elsewhere\n`, {
      mode: 0o600,
    })
    const trusted = loadEnvironment({RAIOPS_HOME: home}, work)
    expect(trusted.warnings).toEqual([])
    expect(loadConfig(trusted.env)).toMatchObject({home, databaseUrl: `sqlite:///${home}/other.db`, masterKey: KEY})

    // The real environment wins over it.
    expect(loadConfig(loadEnvironment({RAIOPS_HOME: home, RAIOPS_MASTER_KEY: `k2:${KEY}`}, work).env).masterKey).toBe(`k2:${KEY}`)

    chmodSync(file, 0o666)
    const writable = loadEnvironment({RAIOPS_HOME: home}, work)
    expect(writable.warnings).toEqual([`ignoring ${file}: others can write it (chmod 600 it)`])
    expect(loadConfig(writable.env)).toMatchObject({home, databaseUrl: undefined, masterKey: undefined})
  })

  it('run inside $RAIOPS_HOME, its .env is the home one', () => {
    const {home} = fixture()
    writeFileSync(join(home, '.env'), `RAIOPS_MASTER_KEY=${KEY}\n`, {mode: 0o600})
    const {env, warnings} = loadEnvironment({RAIOPS_HOME: home}, home)
    expect(warnings).toEqual([])
    expect(loadConfig(env).masterKey).toBe(KEY)
  })
})
