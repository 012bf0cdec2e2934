import {lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import type {SecretLocation} from '../crypto/secret-box.js'
import {isUniqueViolation, type Db} from '../db/control-db.js'
import {RDS_TABLE} from '../db/tables.js'
import {UserError} from '../errors/index.js'
import type {RdsView} from './types.js'

/** Where an RDS's password is stored, as the secret box binds it. */
export const passwordLocation = (id: number): SecretLocation => ({table: RDS_TABLE, column: 'password_enc', rowId: id})

/** The audit view of an RDS: everything but secrets and volatile health. */
export function auditValues(view: RdsView): Record<string, unknown> {
  const {health: _health, createdAt: _c, updatedAt: _u, passwordSet, impersonation, ...rest} = view
  return {
    ...rest,
    password: passwordSet ? 'set' : null,
    impersonationEnabled: impersonation.enabled,
    impersonationAudience: impersonation.audience,
    impersonationTtlSeconds: impersonation.ttlSeconds,
  }
}

/**
 * A registry change: one transaction that first takes the change lock, so its
 * checks hold until it commits. A unique-key race that slips past them is still
 * reported as bad input, not as a driver error.
 */
export async function changeTransaction<T>(ctx: OpsContext, work: (tx: Db) => Promise<T>): Promise<T> {
  try {
    return await ctx.db.transaction(async (tx) => {
      await lockForChange(tx)
      return work(tx)
    })
  } catch (error) {
    if (isUniqueViolation(error))
      throw new UserError('another change to the same RDS was saved at the same time', {hint: 'look at `raiops rds:list` and try again'})
    throw error
  }
}
