import {appendAudit, lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {registerActiveKey} from './key-check.js'
import {decryptSecret, encryptSecret, envelopeKid} from './secret-box.js'

/** Every column that holds a secret box. Later features add theirs here. */
export const SECRET_COLUMNS: ReadonlyArray<{table: string; column: string}> = [{table: 'rds_instances', column: 'password_enc'}]

export interface RotateKeysResult {
  activeKid: string
  reencrypted: number
  alreadyCurrent: number
  /** How many secrets each old key id held before the rotation. */
  fromKids: Record<string, number>
}

/**
 * Re-encrypts every secret under the active key, in one transaction: either
 * every secret moves to the active key or nothing changes. Running it again
 * finds nothing to do.
 */
export async function rotateKeys(ctx: OpsContext): Promise<RotateKeysResult> {
  const keyring = await ctx.keyring()
  const active = keyring.active.kid
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    await registerActiveKey(tx, keyring, ctx.audit, now)
    const fromKids: Record<string, number> = {}
    let reencrypted = 0
    let alreadyCurrent = 0
    for (const {table, column} of SECRET_COLUMNS) {
      const rows = (await tx(table).whereNotNull(column).select('id', column)) as Array<Record<string, string> & {id: number}>
      for (const row of rows) {
        const envelope = row[column]
        const kid = envelopeKid(envelope) ?? 'unknown'
        if (kid === active) {
          alreadyCurrent++
          continue
        }
        const location = {table, column, rowId: Number(row.id)}
        const plaintext = decryptSecret(keyring, envelope, location)
        const updated = await tx(table)
          .where({id: row.id, [column]: envelope})
          .update({[column]: encryptSecret(keyring, plaintext, location)})
        if (updated === 1) {
          fromKids[kid] = (fromKids[kid] ?? 0) + 1
          reencrypted++
        }
      }
    }
    if (reencrypted > 0) {
      await appendAudit(tx, ctx.audit, {action: 'keys.rotate', targetType: 'keyring', targetId: active, newValues: {activeKid: active, reencrypted, fromKids}}, now)
    }
    return {activeKid: active, reencrypted, alreadyCurrent, fromKids}
  })
}
