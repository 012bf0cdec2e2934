import {appendAudit, type AuditContext} from '../audit/writer.js'
import {keyFingerprint, type Keyring} from '../crypto/keyring.js'
import type {Db} from '../db/control-db.js'
import {ExitCode, SecretError} from '../errors/index.js'

/**
 * Records the active key's fingerprint (once, audited) before it encrypts
 * anything here, and refuses a key keys:prune retired. Returns whether the
 * key was new to this registry.
 */
export async function registerActiveKey(tx: Db, keyring: Keyring, audit: AuditContext, now: Date): Promise<boolean> {
  const {kid, key} = keyring.active
  const known = await tx('raiops_keys').where({kid}).first('retired_at')
  if (known && known.retired_at !== null && known.retired_at !== undefined) {
    throw new SecretError(
      `key "${kid}" from ${keyring.source} was retired by keys:prune and encrypts nothing any more; nothing was changed`,
      ExitCode.badInput,
      {
        hint: 'use the current key file, or put the newest key first in RAIOPS_MASTER_KEY',
      },
    )
  }
  if (known) return false
  await tx('raiops_keys').insert({kid, fingerprint: keyFingerprint(key), created_at: now})
  await appendAudit(tx, audit, {action: 'keys.register', targetType: 'key', targetId: kid, newValues: {kid, source: keyring.source}}, now)
  return true
}
