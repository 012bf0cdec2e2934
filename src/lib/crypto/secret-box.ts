import {createCipheriv, createDecipheriv, randomBytes} from 'node:crypto'

import {ExitCode, SecretError} from '../errors/index.js'
import {rememberSecret} from '../redact/index.js'
import type {Keyring} from './keyring.js'

/** Where a secret lives; bound into the ciphertext as associated data. */
export interface SecretLocation {
  table: string
  column: string
  rowId: number | string
}

const VERSION = 'v1'
const NONCE_BYTES = 12
const TAG_BYTES = 16

function aad(location: SecretLocation, kid: string): Buffer {
  return Buffer.from(`raiops|${VERSION}|${location.table}|${location.column}|${location.rowId}|${kid}`, 'utf8')
}

function where(location: SecretLocation): string {
  return `${location.table}.${location.column} of row ${location.rowId}`
}

/**
 * AES-256-GCM with a fresh 96-bit nonce. The envelope is text:
 * `v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
 */
export function encryptSecret(keyring: Keyring, plaintext: string, location: SecretLocation): string {
  const {kid, key} = keyring.active
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, nonce, {authTagLength: TAG_BYTES})
  cipher.setAAD(aad(location, kid))
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return `${VERSION}.${kid}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`
}

/** The key id an envelope was encrypted with, or undefined when it is not an envelope. */
export function envelopeKid(envelope: string): string | undefined {
  const parts = envelope.split('.')
  return parts.length === 3 && parts[0] === VERSION ? parts[1] : undefined
}

export function decryptSecret(keyring: Keyring, envelope: string, location: SecretLocation): string {
  const parts = envelope.split('.')
  if (parts.length !== 3 || parts[0] !== VERSION) {
    throw new SecretError(`cannot decrypt ${where(location)}: it is not a raiops secret envelope`)
  }
  const [, kid, encoded] = parts
  const master = keyring.get(kid)
  if (!master) {
    throw new SecretError(`cannot decrypt ${where(location)}: it was encrypted with key "${kid}", which ${keyring.source} does not hold`, ExitCode.badInput, {
      hint: `add key "${kid}" to the keyring (RAIOPS_MASTER_KEY=newkid:…,${kid}:…)`,
    })
  }
  const raw = Buffer.from(encoded, 'base64url')
  if (raw.length < NONCE_BYTES + TAG_BYTES) {
    throw new SecretError(`cannot decrypt ${where(location)}: the ciphertext is truncated`)
  }
  const decipher = createDecipheriv('aes-256-gcm', master.key, raw.subarray(0, NONCE_BYTES), {authTagLength: TAG_BYTES})
  decipher.setAAD(aad(location, kid))
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
  let plaintext: string
  try {
    plaintext = Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    throw new SecretError(`cannot decrypt ${where(location)} with key "${kid}": the ciphertext was altered, moved from another row, or the key is wrong`)
  }
  rememberSecret(plaintext)
  return plaintext
}
