import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {loadConfig, loadEnvironment} from '../../src/lib/config/index.js'
import {parseDatabaseUrl} from '../../src/lib/db/url.js'
import {ConfigError} from '../../src/lib/errors/index.js'

describe('config', () => {
  it('defaults RAIOPS_HOME under XDG_DATA_HOME and the key file inside it', () => {
    const config = loadConfig({XDG_DATA_HOME: '/data'})
    expect(config.home).toBe('/data/raiops')
    expect(config.masterKeyFile).toBe('/data/raiops/master.key')
    expect(config.databaseUrl).toBeUndefined()
    expect(config.fleet).toEqual({connectTimeoutMs: 5000, queryTimeoutMs: 30000})
  })

  it('names the variable and what is expected', () => {
    expect(() => loadConfig({RAIOPS_HOME: 'relative/dir'})).toThrow('RAIOPS_HOME: expected an absolute path')
    expect(() => loadConfig({RAIOPS_DATABASE_URL: 'oracle://x'})).toThrow(/^RAIOPS_DATABASE_URL: expected mysql:\/\//)
    expect(() => loadConfig({RAIOPS_CONNECT_TIMEOUT_MS: 'soon'})).toThrow(/^RAIOPS_CONNECT_TIMEOUT_MS: expected a whole number of milliseconds/)
    expect(() => loadConfig({RAIOPS_QUERY_TIMEOUT_MS: '5'})).toThrow(/RAIOPS_QUERY_TIMEOUT_MS: expected at least 100 ms/)
    expect(() => loadConfig({RAIOPS_HOME: 'x'})).toThrow(expect.objectContaining({exitCode: 2, constructor: ConfigError}))
  })

  it('the alert notification settings: unset by default, each checked and named, never echoing a password', () => {
    expect(loadConfig({XDG_DATA_HOME: '/data'}).alerts).toEqual({
      smtpUrl: null,
      emailFrom: null,
      webhookSecret: null,
      sendTimeoutMs: 10_000,
      repeatIntervalMs: 4 * 3_600_000,
      hang: null,
    })
    const set = loadConfig({
      RAIOPS_SMTP_URL: 'smtp://mailer:p%40ss@127.0.0.1:2525',
      RAIOPS_ALERT_EMAIL_FROM: 'raiops <alerts@example.com>',
      RAIOPS_ALERT_WEBHOOK_SECRET: 'a-secret-of-16-chars',
      RAIOPS_ALERT_SEND_TIMEOUT_MS: '2500',
      RAIOPS_ALERT_REPEAT_INTERVAL: '30m',
    }).alerts
    expect(set).toMatchObject({
      smtpUrl: 'smtp://mailer:p%40ss@127.0.0.1:2525',
      emailFrom: 'raiops <alerts@example.com>',
      sendTimeoutMs: 2500,
      repeatIntervalMs: 1_800_000,
    })
    const refused: Array<[string, string, RegExp]> = [
      ['RAIOPS_SMTP_URL', 'http://mailer:hunter2-pass@mail.example.com', /^RAIOPS_SMTP_URL: expected smtp:\/\/host:port/],
      ['RAIOPS_SMTP_URL', 'smtp://', /^RAIOPS_SMTP_URL: expected/],
      ['RAIOPS_ALERT_EMAIL_FROM', 'alerts', /^RAIOPS_ALERT_EMAIL_FROM: expected an email address/],
      ['RAIOPS_ALERT_WEBHOOK_SECRET', 'short', /^RAIOPS_ALERT_WEBHOOK_SECRET: expected a secret of at least 16 characters/],
      ['RAIOPS_ALERT_SEND_TIMEOUT_MS', '10s', /^RAIOPS_ALERT_SEND_TIMEOUT_MS: expected a whole number of milliseconds/],
      ['RAIOPS_ALERT_REPEAT_INTERVAL', '4', /^RAIOPS_ALERT_REPEAT_INTERVAL: expected a duration such as 4h/],
      ['RAIOPS_ALERT_HANG', 'before-send', /^RAIOPS_ALERT_HANG: expected after-send or mid-evaluation/],
    ]
    for (const [name, value, message] of refused) {
      let error: unknown
      try {
        loadConfig({[name]: value})
      } catch (caught) {
        error = caught
      }
      expect(error, `${name}=${value}`).toMatchObject({exitCode: 2, message: expect.stringMatching(message)})
      expect(String((error as Error).message)).not.toContain('hunter2-pass')
    }
  })

  it('RAIOPS_GHOST_DOMAIN: raiops.invalid by default, lower-cased, a domain name or refused', () => {
    expect(loadConfig({XDG_DATA_HOME: '/data'}).ghostDomain).toBe('raiops.invalid')
    expect(loadConfig({RAIOPS_GHOST_DOMAIN: ' Support.Example.COM '}).ghostDomain).toBe('support.example.com')
    for (const bad of ['localhost', 'two words.example', 'ghost@example.com', 'a_b.example', '%.example', '-x.example', 'x.example.']) {
      expect(() => loadConfig({RAIOPS_GHOST_DOMAIN: bad}), bad).toThrow(/^RAIOPS_GHOST_DOMAIN: expected a domain name/)
    }
  })

  it('RAIOPS_BILLING_GRACE_DAYS: 7 by default, whole days from 0 to 365', () => {
    expect(loadConfig({XDG_DATA_HOME: '/data'}).billingGraceDays).toBe(7)
    expect(loadConfig({RAIOPS_BILLING_GRACE_DAYS: '0'}).billingGraceDays).toBe(0)
    expect(loadConfig({RAIOPS_BILLING_GRACE_DAYS: '14'}).billingGraceDays).toBe(14)
    for (const bad of ['-1', '2.5', 'soon', '366'])
      expect(() => loadConfig({RAIOPS_BILLING_GRACE_DAYS: bad}), bad).toThrow(/^RAIOPS_BILLING_GRACE_DAYS: expected/)
  })

  it('reads the output and timeout settings of .env in the working directory, under the real environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raiops-env-'))
    writeFileSync(join(dir, '.env'), 'NO_COLOR=1\nRAIOPS_QUERY_TIMEOUT_MS=9000\nRAIOPS_CONNECT_TIMEOUT_MS=4000\n')
    const {env, warnings} = loadEnvironment({RAIOPS_HOME: join(dir, 'home'), RAIOPS_QUERY_TIMEOUT_MS: '7000'}, dir)
    const config = loadConfig(env)
    expect(env.NO_COLOR).toBe('1')
    expect(config.fleet).toEqual({connectTimeoutMs: 4000, queryTimeoutMs: 7000})
    expect(warnings).toEqual([])
  })
})

describe('control database URL', () => {
  it('understands sqlite, mysql and postgres URLs without exposing the password', () => {
    expect(parseDatabaseUrl(undefined, '/h')).toMatchObject({engine: 'sqlite', sqliteFile: '/h/raiops.sqlite'})
    const mysql = parseDatabaseUrl('mysql://ops:p%40ss@db.internal:3307/raiops', '/h')
    expect(mysql).toMatchObject({
      engine: 'mysql',
      client: 'mysql2',
      connection: {host: 'db.internal', port: 3307, user: 'ops', password: 'p@ss', database: 'raiops'},
    })
    expect(mysql.display).toBe('mysql://ops@db.internal:3307/raiops')
    expect(parseDatabaseUrl('postgresql://pg@127.0.0.1/raiops', '/h')).toMatchObject({engine: 'postgres', connection: {port: 5432}})
  })

  it('gives one-line errors for bad URLs', () => {
    expect(() => parseDatabaseUrl('sqlite:///no/such/dir/x.db', '/h')).toThrow('RAIOPS_DATABASE_URL: directory /no/such/dir does not exist')
    expect(() => parseDatabaseUrl('mysql://', '/h')).toThrow(/RAIOPS_DATABASE_URL/)
    expect(() => parseDatabaseUrl('mysql://root@127.0.0.1:3306', '/h')).toThrow('RAIOPS_DATABASE_URL: the mysql URL must name one database')
    expect(() => parseDatabaseUrl('mysql://root@[bad', '/h')).toThrow('RAIOPS_DATABASE_URL is not a valid URL')
    expect(() => parseDatabaseUrl('sqlite://relative.db', '/h')).toThrow(/absolute file path/)
  })
})
