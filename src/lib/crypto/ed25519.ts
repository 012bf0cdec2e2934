import {createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject} from 'node:crypto'
import {chmodSync, existsSync, linkSync, readFileSync, rmSync, writeFileSync} from 'node:fs'

import {writeFileAtomic} from '../files/atomic.js'

/**
 * Ed25519 key pairs kept as files in RAIOPS_HOME: the private key (PKCS8 PEM,
 * mode 0600) and its public key beside it (SPKI PEM, mode 0644), the one to hand
 * to whoever verifies. The audit checkpoints and the impersonation links are
 * each signed with a pair of their own.
 */

export interface Ed25519KeyFiles {
  /** The private key: PKCS8 PEM, mode 0600. */
  privateFile: string
  /** Its public key: SPKI PEM, mode 0644. */
  publicFile: string
}

export interface Ed25519KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
  /** Whether this call created the pair. */
  created: boolean
}

/** A key file that cannot be read or holds no Ed25519 key; `detail` says why, never the key. */
export class KeyFileError extends Error {
  readonly file: string
  readonly detail: string

  constructor(file: string, detail: string) {
    super(`${file}: ${detail}`)
    this.name = 'KeyFileError'
    this.file = file
    this.detail = detail
  }
}

/** A key's short fingerprint: the first 16 hex digits of its raw public key. */
export function keyId(publicKey: KeyObject): string {
  const jwk = publicKey.export({format: 'jwk'}) as {x: string}
  return Buffer.from(jwk.x, 'base64url').toString('hex').slice(0, 16)
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({type: 'spki', format: 'pem'}) as string
}

function assertEd25519(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key')
  return key
}

function readKeyFile(file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    throw new KeyFileError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

/** The private key in `file`; a KeyFileError when it cannot be read or is not an Ed25519 private key. */
export function readEd25519PrivateKey(file: string): KeyObject {
  const pem = readKeyFile(file)
  try {
    return assertEd25519(createPrivateKey(pem))
  } catch (error) {
    throw new KeyFileError(file, (error as Error).message)
  }
}

/** A public key to verify with: a PEM public key, or the private key it belongs to. A KeyFileError when it is neither. */
export function readEd25519PublicKey(file: string): KeyObject {
  const pem = readKeyFile(file)
  try {
    return assertEd25519(pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem))
  } catch (error) {
    throw new KeyFileError(file, (error as Error).message)
  }
}

/** Writes the public key file (0644) unless it already holds this key; replaced atomically, so a reader never sees half of it. */
function writePublicKey(file: string, publicKey: KeyObject): void {
  const pem = publicKeyPem(publicKey)
  if (existsSync(file) && readFileSync(file, 'utf8') === pem) return
  writeFileAtomic(file, pem, 0o644)
}

/**
 * A new pair, the private key written 0600 under its final name only once it is
 * complete (a hard link, which fails when the file exists): of two first runs at
 * the same time, one creates the pair and the other reads it. Null when another
 * run created it first.
 */
function createPair(files: Ed25519KeyFiles): Ed25519KeyPair | null {
  const pair = generateKeyPairSync('ed25519')
  const temporary = `${files.privateFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    writeFileSync(temporary, pair.privateKey.export({type: 'pkcs8', format: 'pem'}), {mode: 0o600, flag: 'wx'})
    chmodSync(temporary, 0o600)
    linkSync(temporary, files.privateFile)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null
    throw error
  } finally {
    rmSync(temporary, {force: true})
  }
  writePublicKey(files.publicFile, pair.publicKey)
  return {...pair, created: true}
}

/**
 * The key pair of `files`. Missing: created when `create` (else null), in a
 * directory that must exist. With `create`, the public key file of an existing
 * pair is also rewritten when it is missing or belongs to another key, so the
 * `.pub` handed out matches. A private key file that cannot be read or is not
 * an Ed25519 key is a KeyFileError.
 */
export function loadEd25519KeyPair(files: Ed25519KeyFiles, options: {create: boolean}): Ed25519KeyPair | null {
  if (!existsSync(files.privateFile)) {
    if (!options.create) return null
    const created = createPair(files)
    if (created) return created
  }
  const privateKey = readEd25519PrivateKey(files.privateFile)
  const publicKey = createPublicKey(privateKey)
  if (options.create) {
    try {
      writePublicKey(files.publicFile, publicKey)
    } catch {
      // The private key signs; its .pub is a copy for verifiers, and a key kept on a read-only mount still signs without one.
    }
  }
  return {privateKey, publicKey, created: false}
}
