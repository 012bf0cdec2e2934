import type {Db} from '../db/control-db.js'
import {ExitCode, SecretError} from '../errors/index.js'
import {keyFingerprint, type Keyring} from './keyring.js'

/**
 * Compares the keyring with the fingerprints of the keys that have encrypted
 * secrets in this control database, so a wrong key is reported by its id
 * before anything is read or written with it.
 */
export async function checkKeyring(db: Db, keyring: Keyring): Promise<void> {
  const rows = await db('raiops_keys').select('kid', 'fingerprint')
  if (rows.length === 0) return
  const known = new Map(rows.map((r) => [r.kid, r.fingerprint]))
  let matches = 0
  for (const {kid, key} of keyring.keys) {
    const fingerprint = known.get(kid)
    if (fingerprint === undefined) continue
    if (fingerprint !== keyFingerprint(key)) {
      throw new SecretError(
        `wrong master key: key "${kid}" from ${keyring.source} is not the key "${kid}" this registry was encrypted with`,
        ExitCode.badInput,
        {
          hint: 'set RAIOPS_MASTER_KEY or RAIOPS_MASTER_KEY_FILE to the key this registry uses; nothing was changed',
        },
      )
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
