import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {derivedKid, ensureKeyFile, loadKeyring, parseKeyring} from '../../src/lib/crypto/keyring.js'
import {decryptSecret, encryptSecret, envelopeKid} from '../../src/lib/crypto/secret-box.js'
import {SecretError} from '../../src/lib/errors/index.js'

const key = () => randomBytes(32).toString('base64')
const here = {table: 'rds_instances', column: 'password_enc', rowId: 7}

function errorOf(fn: () => unknown): SecretError {
  try {
    fn()
  } catch (error) {
    return error as SecretError
  }
  throw new Error('expected an error')
}

describe('secret box', () => {
  const secret = 'S3cr3t-päss"word\\'
  const keyring = parseKeyring(`k1:${key()}`, 'test')

  it('round-trips a secret and names the key in the envelope', () => {
    const envelope = encryptSecret(keyring, secret, here)
    expect(envelope).not.toContain(secret)
    expect(envelopeKid(envelope)).toBe('k1')
    expect(decryptSecret(keyring, envelope, here)).toBe(secret)
  })

  it('uses a fresh nonce every time', () => {
    const envelopes = new Set(Array.from({length: 2000}, () => encryptSecret(keyring, secret, here)))
    expect(envelopes.size).toBe(2000)
  })

  it('refuses a ciphertext moved to another row or column', () => {
    const envelope = encryptSecret(keyring, secret, here)
    const moved = errorOf(() => decryptSecret(keyring, envelope, {...here, rowId: 8}))
    expect(moved).toBeInstanceOf(SecretError)
    expect(moved.message).toMatch(/row 8.*altered, moved from another row, or the key is wrong/)
    expect(moved.message).not.toContain(secret)
    expect(() => decryptSecret(keyring, envelope, {...here, column: 'other'})).toThrow(SecretError)
  })

  it('refuses a tampered ciphertext, one bit at a time', () => {
    const envelope = encryptSecret(keyring, secret, here)
    const [v, kid, body] = envelope.split('.')
    const raw = Buffer.from(body, 'base64url')
    for (const index of [0, 12, raw.length - 1]) {
      const flipped = Buffer.from(raw)
      flipped[index] ^= 1
      expect(() => decryptSecret(keyring, `${v}.${kid}.${flipped.toString('base64url')}`, here)).toThrow(/altered/)
    }
    expect(() => decryptSecret(keyring, `${v}.${kid}.${raw.subarray(0, 10).toString('base64url')}`, here)).toThrow(/truncated/)
    expect(() => decryptSecret(keyring, 'not an envelope', here)).toThrow(/not a raiops secret envelope/)
  })

  it('names an unknown key id, and fails with a wrong key of the same id', () => {
    const envelope = encryptSecret(keyring, secret, here)
    const other = parseKeyring(`k2:${key()}`, 'RAIOPS_MASTER_KEY')
    const unknown = errorOf(() => decryptSecret(other, envelope, here))
    expect(unknown.message).toContain('key "k1", which RAIOPS_MASTER_KEY does not hold')
    expect(unknown.exitCode).toBe(2)
    const wrong = parseKeyring(`k1:${key()}`, 'RAIOPS_MASTER_KEY')
    expect(() => decryptSecret(wrong, envelope, here)).toThrow(/with key "k1"/)
  })

  it('decrypts with an older key of the keyring and encrypts with the first', () => {
    const oldRing = parseKeyring(`old:${key()}`, 'test')
    const envelope = encryptSecret(oldRing, secret, here)
    const rotated = parseKeyring(`new:${key()},old:${oldRing.active.key.toString('base64')}`, 'test')
    expect(decryptSecret(rotated, envelope, here)).toBe(secret)
    expect(envelopeKid(encryptSecret(rotated, secret, here))).toBe('new')
  })
})

describe('keyring', () => {
  it('accepts a bare key and derives a stable id for it', () => {
    const k = key()
    const a = parseKeyring(k, 'RAIOPS_MASTER_KEY')
    expect(a.active.kid).toBe(derivedKid(Buffer.from(k, 'base64')))
    expect(parseKeyring(k, 'x').active.kid).toBe(a.active.kid)
  })

  it('rejects short keys, bad ids and duplicate ids without echoing the key', () => {
    const short = randomBytes(16).toString('base64')
    const error = errorOf(() => parseKeyring(`k1:${short}`, 'RAIOPS_MASTER_KEY'))
    expect(error.message).toMatch(/RAIOPS_MASTER_KEY \(key 1\): a key must be base64 of 32 bytes, this one is 16 bytes/)
    expect(error.message).not.toContain(short)
    expect(() => parseKeyring(`bad id:${key()}`, 'x')).toThrow(/key id/)
    const k = key()
    expect(() => parseKeyring(`a:${k},a:${k}`, 'x')).toThrow(/appears twice/)
    expect(() => parseKeyring('  ', 'x')).toThrow(/holds no key/)
  })

  it('creates the key file with mode 0600 and never overwrites it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raiops-key-'))
    const path = join(dir, 'sub', 'master.key')
    const first = ensureKeyFile(path)
    expect(first.created).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const content = readFileSync(path, 'utf8')
    const second = ensureKeyFile(path)
    expect(second).toEqual({path, kid: first.kid, created: false})
    expect(readFileSync(path, 'utf8')).toBe(content)
    expect(loadKeyring({masterKeyFile: path}).active.kid).toBe(first.kid)
  })

  it('prefers RAIOPS_MASTER_KEY, and explains a missing key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raiops-key-'))
    const file = join(dir, 'master.key')
    writeFileSync(file, `fromfile:${key()}\n`)
    expect(loadKeyring({masterKey: `fromenv:${key()}`, masterKeyFile: file}).active.kid).toBe('fromenv')
    const missing = errorOf(() => loadKeyring({masterKeyFile: join(dir, 'nope.key')}))
    expect(missing.message).toMatch(/no master key: .*nope.key does not exist/)
    expect(missing.hint).toMatch(/raiops init/)
  })
})
