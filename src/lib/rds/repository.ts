import type {Db} from '../db/control-db.js'
import {RDS_TABLE} from '../db/tables.js'
import {toBool, toIso, toIsoRequired, toNumberOrNull} from '../db/values.js'
import {NotFoundError} from '../errors/index.js'
import type {RdsInstanceRow, RdsView} from './types.js'

export async function listRdsRows(db: Db, options: {activeOnly?: boolean} = {}): Promise<RdsInstanceRow[]> {
  const query = db(RDS_TABLE).orderBy('id', 'asc')
  if (options.activeOnly) query.where({is_active: true})
  return query
}

/** Finds an RDS by id (all digits) or by name. */
export async function findRds(db: Db, ref: string | number): Promise<RdsInstanceRow | undefined> {
  const text = String(ref).trim()
  return /^\d+$/.test(text)
    ? db(RDS_TABLE)
        .where({id: Number(text)})
        .first()
    : db(RDS_TABLE).where({name: text}).first()
}

export async function getRds(db: Db, ref: string | number): Promise<RdsInstanceRow> {
  const row = await findRds(db, ref)
  if (!row) throw new NotFoundError(`no RDS ${/^\d+$/.test(String(ref)) ? 'with id' : 'named'} "${ref}"`, {hint: 'see `raiops rds:list`'})
  return row
}

/**
 * The RDS a fleet command covers: the named ones (names or ids, active or not,
 * each once, in the order given), else every active one.
 */
export async function selectRds(db: Db, refs: readonly string[] | undefined): Promise<RdsInstanceRow[]> {
  if (!refs || refs.length === 0) return listRdsRows(db, {activeOnly: true})
  const rows: RdsInstanceRow[] = []
  for (const ref of refs) {
    const row = await getRds(db, ref)
    if (!rows.some((r) => Number(r.id) === Number(row.id))) rows.push(row)
  }
  return rows
}

export async function findMaster(db: Db, exceptId?: number): Promise<RdsInstanceRow | undefined> {
  const query = db(RDS_TABLE).where({is_master: true})
  if (exceptId !== undefined) query.whereNot({id: exceptId})
  return query.first()
}

export function toRdsView(row: RdsInstanceRow): RdsView {
  return {
    id: Number(row.id),
    name: row.name,
    engine: row.engine,
    host: row.host,
    port: toNumberOrNull(row.port),
    username: row.username,
    passwordSet: row.password_enc !== null && row.password_enc !== '',
    raiDatabase: row.rai_database,
    providersDatabase: row.providers_database,
    appUrl: row.app_url,
    impersonation: {
      enabled: toBool(row.impersonation_enabled),
      audience: row.impersonation_audience,
      ttlSeconds: toNumberOrNull(row.impersonation_ttl_seconds),
    },
    isMaster: toBool(row.is_master),
    isActive: toBool(row.is_active),
    state: row.state,
    health: {
      status: row.health_status,
      checkedAt: toIso(row.health_checked_at),
      latencyMs: toNumberOrNull(row.health_latency_ms),
      error: row.health_error,
    },
    createdAt: toIsoRequired(row.created_at),
    updatedAt: toIsoRequired(row.updated_at),
  }
}
