import {describe, expect, it} from 'vitest'

import {validateRdsFields} from '../../src/lib/rds/validation.js'
import {isSecretKey, redactChange, redactValues, rememberSecret, scrubArgv, scrubText} from '../../src/lib/redact/index.js'

describe('redaction', () => {
  it('replaces secret-looking keys at any depth', () => {
    expect(redactValues({name: 'main', password: 'x', nested: {api_token: 't', password_enc: 'v1.k.x', port: 3306}, list: [{secret: 's'}]})).toEqual({
      name: 'main',
      password: '[redacted]',
      nested: {api_token: '[redacted]', password_enc: '[redacted]', port: 3306},
      list: [{secret: '[redacted]'}],
    })
  })

  it('knows a secret key by its words, whatever the case or separators', () => {
    const secret = [
      'apiKey',
      'api-key',
      'API_KEY',
      'X-Api-Key',
      'privateKey',
      'private_key',
      'accessKey',
      'AWSAccessKey',
      'clientSecret',
      'client-secret',
      'pwd',
      'PWD',
      'db_pwd',
      'passcode',
      'passCode',
      'passwd',
      'pass',
      'otp',
      'otp_code',
      'pin',
      'PIN',
      'userPin',
      'pin_code',
      'PINCode',
      'pin2',
      'jwt',
      'idJwt',
      'bearer',
      'bearerToken',
      'cookie',
      'Set-Cookie',
      'session_id',
      'sessionId',
      'sessionid',
      'SESSION-ID',
      'signature',
      'x-hub-signature-256',
      'authorization',
      'Proxy-Authorization',
      'credentials',
      'refresh_token',
      'accessToken',
      'password_hash',
      'password_enc',
      'master_key',
      'newPassword',
      'auth',
      'x-auth',
      'basicAuth',
      'privkey',
      'ssh_privkey',
    ]
    const plain = [
      'pinned',
      'opinion',
      'spinner',
      'pinnedAt',
      'keyId',
      'keyboard',
      'monkey',
      'name',
      'email',
      'sessions',
      'company',
      'passenger',
      'bypass',
      'description',
      'port',
      'authType',
      'author',
      'auth_method',
    ]
    expect(secret.filter((key) => !isSecretKey(key))).toEqual([])
    expect(plain.filter((key) => isSecretKey(key))).toEqual([])
  })

  it('redacts the keys the RAI application sends, keeping booleans, nulls and the rest', () => {
    const values = {
      apiKey: 'ak-1',
      privateKey: 'pk',
      accessKey: 'AKIA1',
      clientSecret: 'cs',
      pwd: 'p',
      passcode: '1234',
      otp: '998877',
      pin: 4321,
      jwt: 'j',
      bearer: 'b',
      cookie: 'c=1',
      session_id: 's',
      signature: 'sig',
      nested: {'X-Api-Key': 'k', list: [{refreshToken: 'r'}]},
      pinned: true,
      opinion: 'fine',
      passwordSet: true,
      password: null,
      name: 'Ann',
    }
    const redacted = redactValues(values)
    expect(redacted).toEqual({
      apiKey: '[redacted]',
      privateKey: '[redacted]',
      accessKey: '[redacted]',
      clientSecret: '[redacted]',
      pwd: '[redacted]',
      passcode: '[redacted]',
      otp: '[redacted]',
      pin: '[redacted]',
      jwt: '[redacted]',
      bearer: '[redacted]',
      cookie: '[redacted]',
      session_id: '[redacted]',
      signature: '[redacted]',
      nested: {'X-Api-Key': '[redacted]', list: [{refreshToken: '[redacted]'}]},
      pinned: true,
      opinion: 'fine',
      passwordSet: true,
      password: null,
      name: 'Ann',
    })
  })

  it('redacts secrets by their shape in any key and inside text: bcrypt and crypt hashes, JWTs, PEM private keys', () => {
    const bcrypt = '$2y$04$g86itmUYqyrJIGu45kw5teCjm4hva8DGmKMHLf0yr7WdaJJplKdwG'
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----'
    const values = {
      note: `hash ${bcrypt} set`,
      header: `Bearer ${jwt}`,
      blob: pem,
      openssh: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA',
      list: ['$2b$12$0123456789012345678901uABCDEFGHIJKLMNOPQRSTUVWXYZ01234', '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'],
      fine: 'eyJ is not a token, $2y$ alone is not a hash',
    }
    const out = JSON.stringify(redactValues(values))
    for (const secret of [bcrypt, jwt, 'MIIEowIBAAKCAQEA', 'b3BlbnNzaC1rZXktdjEAAAAA', 'uABCDEFGHIJ', 'RdescudvJCsgt3ub']) expect(out).not.toContain(secret)
    expect(redactValues(values)).toMatchObject({
      note: 'hash [redacted] set',
      header: 'Bearer [redacted]',
      blob: '[redacted]',
      fine: values.fine,
    })
  })

  it('redacts secrets sent as keys, at any depth, keeping two such keys apart and every other key as it is', () => {
    const bcrypt = `$2b$10$${'N9qo8uLOickgx2ZMRZoMye'}${'IjZAgcfl7p92ldGxad68LJZdL17lhWy'}`
    const other = `$2a$12$${'R9h/cIPz0gi.URNNX3kh2O'}${'PST9/PgBkqquzi.Ss7KIUgO2t0jWMUW'}`
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXBhcnQ'
    const values = {[bcrypt]: 'x', note: 'fine', nested: {[jwt]: {[other]: 1}, [`hash ${other}`]: true}, '[redacted] 2': 'kept'}
    const redacted = redactValues(values)
    expect(redacted).toEqual({
      '[redacted]': 'x',
      note: 'fine',
      nested: {'[redacted]': {'[redacted]': 1}, 'hash [redacted]': true},
      '[redacted] 2': 'kept',
    })
    const two = redactValues({[bcrypt]: 'a', [other]: 'b', [jwt]: 'c', '[redacted]': 'd'})
    expect(two).toEqual({'[redacted] 2': 'a', '[redacted] 3': 'b', '[redacted] 4': 'c', '[redacted]': 'd'})
    const out = JSON.stringify([redacted, two, redactChange({[bcrypt]: 'a'}, {[other]: 'b'})])
    for (const secret of [bcrypt, other, jwt, 'N9qo8uLOickgx2ZMRZoMye', 'R9h/cIPz0gi']) expect(out).not.toContain(secret)
  })

  it('redacts old and new values together: a changed secret shows as changed, an unchanged one does not', () => {
    expect(redactChange({password: 'a', name: 'Ann'}, {password: 'b', name: 'Anna'})).toEqual({
      oldValues: {password: '[redacted]', name: 'Ann'},
      newValues: {password: '[redacted: changed]', name: 'Anna'},
    })
    expect(redactChange({password: 'a', name: 'Ann'}, {password: 'a', name: 'Anna'}).newValues).toEqual({
      password: '[redacted]',
      name: 'Anna',
    })
    expect(redactChange({login: {token: 'x'}}, {login: {token: 'y'}}).newValues).toEqual({login: {token: '[redacted: changed]'}})
    expect(redactChange(null, {password: 'b'})).toEqual({oldValues: null, newValues: {password: '[redacted]'}})
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

  it("keeps a URL in the command line but not its password or a web URL's query", () => {
    expect(scrubArgv(['alerts:subscribe', '--target', 'https://hook:pw-1@ops.example.com/in?token=t0k3n#x', '--target=http://h.example/p?a=1'])).toEqual([
      'alerts:subscribe',
      '--target',
      'https://hook:[redacted]@ops.example.com/in?[redacted]#x',
      '--target=http://h.example/p?[redacted]',
    ])
  })
})

describe('RDS field validation', () => {
  const base = {name: 'main', engine: 'mysql' as const, host: '127.0.0.1', username: 'root', raiDatabase: 'rai'}

  it('fills the default port per engine', () => {
    expect(validateRdsFields(base).port).toBe(3306)
    expect(validateRdsFields({...base, engine: 'postgres'}).port).toBe(5432)
    expect(validateRdsFields({name: 'f', engine: 'sqlite', raiDatabase: '/tmp/x.db', host: 'ignored'})).toMatchObject({
      host: null,
      port: null,
    })
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
