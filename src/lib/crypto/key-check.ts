import {ExitCode, SecretError} from '../errors/index.js'
import {appendAudit, type AuditContext} from '../audit/writer.js'
import type {Db} from '../control-db/index.js'
import {keyFingerprint, type Keyring} from './keyring.js'

interface KeyRow {
  kid: string
  fingerprint: string
}

/**
 * Compares the keyring with the fingerprints of the keys that have encrypted
 * secrets in this control database, so a wrong key is reported by its id
 * before anything is read or written with it.
 */
export async function checkKeyring(db: Db, keyring: Keyring): Promise<void> {
  const rows = (await db('raiops_keys').select('kid', 'fingerprint')) as KeyRow[]
  if (rows.length === 0) return
  const known = new Map(rows.map((r) => [r.kid, r.fingerprint]))
  let matches = 0
  for (const {kid, key} of keyring.keys) {
    const fingerprint = known.get(kid)
    if (fingerprint === undefined) continue
    if (fingerprint !== keyFingerprint(key)) {
      throw new SecretError(`wrong master key: key "${kid}" from ${keyring.source} is not the key "${kid}" this registry was encrypted with`, ExitCode.badInput, {
        hint: 'set RAIOPS_MASTER_KEY or RAIOPS_MASTER_KEY_FILE to the key this registry uses; nothing was changed',
      })
    }
    matches++
  }
  if (matches === 0) {
    throw new SecretError(
      `wrong master key: ${keyring.source} holds ${keyring.kids.map((k) => `"${k}"`).join(', ')}, but this registry was encrypted with ${[...known.keys()].map((k) => `"${k}"`).join(', ')}`,
      ExitCode.badInput,
      {hint: 'set RAIOPS_MASTER_KEY or RAIOPS_MASTER_KEY_FILE to the key this registry uses; nothing was changed'},
    )
  }
}

/**
 * Records the active key's fingerprint (once, audited) before it encrypts
 * anything here, and refuses a key keys:prune retired. Returns whether the
 * key was new to this registry.
 */
export async function registerActiveKey(tx: Db, keyring: Keyring, audit: AuditContext, now: Date): Promise<boolean> {
  const {kid, key} = keyring.active
  const known = (await tx('raiops_keys').where({kid}).first('retired_at')) as {retired_at: unknown} | undefined
  if (known && known.retired_at !== null && known.retired_at !== undefined) {
    throw new SecretError(`key "${kid}" from ${keyring.source} was retired by keys:prune and encrypts nothing any more; nothing was changed`, ExitCode.badInput, {
      hint: 'use the current key file, or put the newest key first in RAIOPS_MASTER_KEY',
    })
  }
  if (known) return false
  await tx('raiops_keys').insert({kid, fingerprint: keyFingerprint(key), created_at: now})
  await appendAudit(tx, audit, {action: 'keys.register', targetType: 'key', targetId: kid, newValues: {kid, source: keyring.source}}, now)
  return true
}
