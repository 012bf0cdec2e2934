import type {KeyObject} from 'node:crypto'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {keyId, KeyFileError, loadEd25519KeyPair, publicKeyPem, type Ed25519KeyFiles} from '../crypto/ed25519.js'
import {ConfigError} from '../errors/index.js'

/**
 * The key pair impersonation links are signed with: `impersonation.key` (0600)
 * and `impersonation.pub` (0644) in RAIOPS_HOME, created on first use. Tenant
 * applications hold only the public key. Operators who share a control database
 * share this pair too (like the master key), or each application trusts each
 * of their public keys by its `kid`.
 */
export function impersonationKeyFiles(home: string): Ed25519KeyFiles {
  return {privateFile: join(home, 'impersonation.key'), publicFile: join(home, 'impersonation.pub')}
}

export interface ImpersonationSigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  /** The public key's fingerprint, the `kid` of every token it signs. */
  keyId: string
  created: boolean
  files: Ed25519KeyFiles
}

/** The signing key, created (with RAIOPS_HOME) when missing. */
export function loadImpersonationKey(home: string): ImpersonationSigningKey {
  const files = impersonationKeyFiles(home)
  try {
    mkdirSync(home, {recursive: true, mode: 0o700})
    const pair = loadEd25519KeyPair(files, {create: true})
    if (!pair) throw new Error('the impersonation key pair was not created')
    return {privateKey: pair.privateKey, publicKey: pair.publicKey, keyId: keyId(pair.publicKey), created: pair.created, files}
  } catch (error) {
    if (error instanceof KeyFileError) {
      throw new ConfigError(`${error.file} is not an Ed25519 private key (${error.detail})`, {
        hint: 'restore the impersonation key, or move the file away to create a new pair and give tenant applications its public key',
      })
    }
    const code = (error as NodeJS.ErrnoException).code
    if (code)
      throw new ConfigError(`cannot write the impersonation key in ${home} (${code})`, {
        hint: 'set RAIOPS_HOME to a directory you can write',
      })
    throw error
  }
}

export interface ImpersonationPublicKey {
  /** The public key file tenant applications are given. */
  file: string
  keyId: string
  /** The public key, SPKI PEM. */
  publicKey: string
  /** Whether this run created the key pair. */
  created: boolean
}

/** The public key tenant applications verify impersonation tokens with; the pair is created on first use. */
export function impersonationPublicKey(home: string): ImpersonationPublicKey {
  const key = loadImpersonationKey(home)
  return {file: key.files.publicFile, keyId: key.keyId, publicKey: publicKeyPem(key.publicKey), created: key.created}
}
