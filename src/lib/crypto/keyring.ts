import {createHash, createHmac, randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

import {SecretError, ExitCode} from '../errors/index.js'
import {writeFileAtomic} from '../files/atomic.js'

export interface MasterKey {
  kid: string
  key: Buffer
}

/** The master keys raiops can decrypt with; the first one encrypts. */
export class Keyring {
  readonly keys: readonly MasterKey[]
  readonly source: string

  constructor(keys: MasterKey[], source: string) {
    if (keys.length === 0) throw new SecretError(`${source} holds no key`, ExitCode.badInput)
    this.keys = keys
    this.source = source
  }

  get active(): MasterKey {
    return this.keys[0]
  }

  get(kid: string): MasterKey | undefined {
    return this.keys.find((k) => k.kid === kid)
  }

  get kids(): string[] {
    return this.keys.map((k) => k.kid)
  }
}

const KID = /^[A-Za-z0-9_-]{1,32}$/

/** A stable id for a key given without one: derived from the key, so the same key always gets the same id. */
export function derivedKid(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`
}

/**
 * A key's fingerprint, kept in the control database so that a wrong key is
 * reported as such. An HMAC under the key itself: it reveals nothing of the key.
 */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('raiops key fingerprint v1').digest('hex')
}

function decodeKey(text: string, where: string): Buffer {
  const trimmed = text.trim()
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new SecretError(`${where}: a key must be base64 of 32 bytes`, ExitCode.badInput)
  }
  const key = Buffer.from(trimmed, 'base64')
  if (key.length !== 32) {
    throw new SecretError(`${where}: a key must be base64 of 32 bytes, this one is ${key.length} bytes`, ExitCode.badInput, {
      hint: 'generate one with: openssl rand -base64 32',
    })
  }
  return key
}

/**
 * Parses `base64` or `kid:base64,kid:base64,…` (commas or newlines). The first
 * key is the active one. Errors name the source, never the key.
 */
export function parseKeyring(spec: string, source: string): Keyring {
  const entries = spec
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'))
  const keys: MasterKey[] = entries.map((entry, index) => {
    const where = `${source} (key ${index + 1})`
    const colon = entry.indexOf(':')
    if (colon === -1) {
      const key = decodeKey(entry, where)
      return {kid: derivedKid(key), key}
    }
    const kid = entry.slice(0, colon)
    if (!KID.test(kid)) {
      throw new SecretError(`${where}: a key id must be 1-32 letters, digits, _ or -`, ExitCode.badInput)
    }
    return {kid, key: decodeKey(entry.slice(colon + 1), where)}
  })
  const seen = new Set<string>()
  for (const {kid} of keys) {
    if (seen.has(kid)) throw new SecretError(`${source}: key id "${kid}" appears twice`, ExitCode.badInput)
    seen.add(kid)
  }
  return new Keyring(keys, source)
}

export interface KeySource {
  masterKey?: string
  masterKeyFile: string
}

/** The keyring from RAIOPS_MASTER_KEY, else from the key file. */
export function loadKeyring(source: KeySource): Keyring {
  if (source.masterKey) return parseKeyring(source.masterKey, 'RAIOPS_MASTER_KEY')
  if (!existsSync(source.masterKeyFile)) {
    throw new SecretError(`no master key: ${source.masterKeyFile} does not exist and RAIOPS_MASTER_KEY is not set`, ExitCode.badInput, {
      hint: 'run `raiops init`, or set RAIOPS_MASTER_KEY / RAIOPS_MASTER_KEY_FILE',
    })
  }
  let text: string
  try {
    text = readFileSync(source.masterKeyFile, 'utf8')
  } catch (error) {
    throw new SecretError(`cannot read the master key file ${source.masterKeyFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, ExitCode.badInput)
  }
  return parseKeyring(text, source.masterKeyFile)
}

export interface GeneratedKeyFile {
  path: string
  kid: string
  created: boolean
}

export interface PreparedKeyFile extends GeneratedKeyFile {
  keyring: Keyring
  /** Writes a new key to disk (mode 0600); a no-op for a key file that already exists. */
  write(): void
}

/**
 * The key file's keyring, or a new random key held in memory until `write()`,
 * so a key is only written once it is known to fit the control database.
 */
export function prepareKeyFile(path: string): PreparedKeyFile {
  if (existsSync(path)) {
    const keyring = loadKeyring({masterKeyFile: path})
    return {path, kid: keyring.active.kid, created: false, keyring, write() {}}
  }
  const key = randomBytes(32)
  const kid = derivedKid(key)
  return {
    path,
    kid,
    created: true,
    keyring: new Keyring([{kid, key}], path),
    write() {
      mkdirSync(dirname(path), {recursive: true, mode: 0o700})
      writeFileSync(path, `${kid}:${key.toString('base64')}\n`, {mode: 0o600, flag: 'wx'})
      chmodSync(path, 0o600)
    },
  }
}

/** Creates the key file with a new random key (mode 0600). An existing file is never overwritten. */
export function ensureKeyFile(path: string): GeneratedKeyFile {
  const prepared = prepareKeyFile(path)
  prepared.write()
  return {path, kid: prepared.kid, created: prepared.created}
}

/** A new random master key, its id derived from it. */
export function generateKey(): MasterKey {
  const key = randomBytes(32)
  return {kid: derivedKid(key), key}
}

/**
 * Rewrites the key file with `keys` (the first is active), one `kid:base64` a
 * line, mode 0600, atomically: a crash leaves the old file or the new one.
 */
export function writeKeyFile(path: string, keys: readonly MasterKey[]): void {
  const text = keys.map(({kid, key}) => `${kid}:${key.toString('base64')}\n`).join('')
  try {
    // A key file that is a link (to a key store, a mounted secret) keeps being one: its target gets the new keys.
    writeFileAtomic(existsSync(path) ? realpathSync(path) : path, text, 0o600)
  } catch (error) {
    throw new SecretError(
      `cannot write the master key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); nothing was changed`,
      ExitCode.badInput,
      {
        hint: 'make the file and its directory writable by you, or set RAIOPS_MASTER_KEY_FILE to one that is',
      },
    )
  }
}
