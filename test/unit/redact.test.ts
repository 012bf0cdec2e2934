import {describe, expect, it} from 'vitest'

import {redactValues, rememberSecret, scrubArgv, scrubText} from '../../src/lib/redact/index.js'
import {validateRdsFields} from '../../src/lib/rds/validation.js'

describe('redaction', () => {
  it('replaces secret-looking keys at any depth', () => {
    expect(redactValues({name: 'main', password: 'x', nested: {api_token: 't', password_enc: 'v1.k.x', port: 3306}, list: [{secret: 's'}]})).toEqual({
      name: 'main',
      password: '[redacted]',
      nested: {api_token: '[redacted]', password_enc: '[redacted]', port: 3306},
      list: [{secret: '[redacted]'}],
    })
  })

  it('scrubs secrets this process has seen and URL passwords from text', () => {
    rememberSecret('hunter2-very-secret')
    expect(scrubText('Access denied using hunter2-very-secret')).toBe('Access denied using [redacted]')
    expect(scrubText('cannot reach mysql://ops:pa55@db/raiops')).toBe('cannot reach mysql://ops:[redacted]@db/raiops')
  })

  it('keeps the command line but not the values of secret flags', () => {
    expect(scrubArgv(['rds:add', '--name', 'main', '--password', 'x', '--token=abc', '--password-stdin'])).toEqual([
      'rds:add',
      '--name',
      'main',
      '--password',
      '[redacted]',
      '--token=[redacted]',
      '--password-stdin',
    ])
  })
})

describe('RDS field validation', () => {
  const base = {name: 'main', engine: 'mysql' as const, host: '127.0.0.1', username: 'root', raiDatabase: 'rai'}

  it('fills the default port per engine', () => {
    expect(validateRdsFields(base).port).toBe(3306)
    expect(validateRdsFields({...base, engine: 'postgres'}).port).toBe(5432)
    expect(validateRdsFields({name: 'f', engine: 'sqlite', raiDatabase: '/tmp/x.db', host: 'ignored'})).toMatchObject({host: null, port: null})
  })

  it('names the flag to fix', () => {
    expect(() => validateRdsFields({...base, port: 70000})).toThrow('--port must be from 1 to 65535')
    expect(() => validateRdsFields({...base, port: 0})).toThrow('--port must be from 1 to 65535')
    expect(() => validateRdsFields({...base, host: '  '})).toThrow('--host must not be empty')
    expect(() => validateRdsFields({...base, engine: 'oracle' as never})).toThrow('--engine must be one of mysql, postgres, sqlite')
    expect(() => validateRdsFields({...base, name: '42'})).toThrow('--name must not be only digits')
    expect(() => validateRdsFields({...base, appUrl: 'ftp://x'})).toThrow('--app-url must be an http(s) URL')
    expect(() => validateRdsFields({...base, raiDatabase: 'rai; drop'})).toThrow('--rai-database must be a database name')
    expect(() => validateRdsFields({name: 'f', engine: 'sqlite', raiDatabase: 'relative.db'})).toThrow('--file must be an absolute file path for sqlite')
  })
})
