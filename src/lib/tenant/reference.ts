import type {Db} from '../db/control-db.js'
import {RDS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import type {TenantMasterRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'
import {findRds} from '../rds/repository.js'
import {LIKE_ESCAPE, searchKey} from '../text/search.js'

const COLUMNS = ['id', 'rds_instance_id', 'remote_tenant_id', 'name', 'status', 'remote_missing_at'] as const

/** A tenant as raiops knows it. */
export interface TenantRef {
  /** The tenant_master id. */
  id: number
  rdsInstanceId: number
  /** The tenant's id in its RDS's RAI database. */
  remoteTenantId: number
  name: string
  status: string | null
  /** When a sync found it gone upstream; null while it is there. */
  remoteMissingAt: string | null
}

/** How a tenant is named on the command line: its tenant_master id, RDS:REMOTE_TENANT_ID (the RDS by name or id), or its name. */
export const TENANT_REF_HELP = 'its raiops id (as 42), RDS:REMOTE_TENANT_ID (as main:17) or its name (as "Harbor Bakery")'

/** At most this many candidates are named when a name matches several tenants. */
const CANDIDATES_SHOWN = 10

const BY_RDS = /^([^:\s]+):(\d+)$/

function toTenantRef(row: Pick<TenantMasterRow, (typeof COLUMNS)[number]>): TenantRef {
  return {
    id: Number(row.id),
    rdsInstanceId: Number(row.rds_instance_id),
    remoteTenantId: Number(row.remote_tenant_id),
    name: row.name,
    status: row.status ?? null,
    remoteMissingAt: toIso(row.remote_missing_at),
  }
}

/**
 * The tenant a reference names: all digits is a tenant_master id, `RDS:N` the
 * tenant N of that RDS (named or by id), anything else its name, case and
 * accents aside; a reference shaped as an id or RDS:N that names no tenant so is
 * still looked for as a name. An unknown tenant or RDS is NotFoundError; a name several
 * tenants share is bad input naming the candidates (both exit 2).
 */
export async function getTenant(db: Db, ref: string): Promise<TenantRef> {
  const text = ref.trim()
  if (/^\d+$/.test(text)) {
    // tenant_master ids are 32-bit: a larger number names no tenant (and PostgreSQL would refuse to compare it).
    const row =
      Number(text) <= 2_147_483_647
        ? await db(TENANT_MASTER_TABLE)
            .where({id: Number(text)})
            .first(...COLUMNS)
        : undefined
    if (!row)
      return namedOr(
        db,
        text,
        new NotFoundError(`no tenant with id ${text}`, {
          hint: `name it by ${TENANT_REF_HELP}; \`raiops sync:tenants\` brings in new tenants`,
        }),
      )
    return toTenantRef(row)
  }
  const match = BY_RDS.exec(text)
  if (!match) return getTenantByName(db, text)
  const rds = await findRds(db, match[1])
  if (!rds) return namedOr(db, text, new NotFoundError(`no RDS named "${match[1]}"`, {hint: 'see `raiops rds:list`'}))
  const remoteTenantId = Number(match[2])
  const row = Number.isSafeInteger(remoteTenantId)
    ? await db(TENANT_MASTER_TABLE)
        .where({rds_instance_id: Number(rds.id), remote_tenant_id: remoteTenantId})
        .first(...COLUMNS)
    : undefined
  if (!row)
    return namedOr(
      db,
      text,
      new NotFoundError(`RDS "${rds.name}" has no tenant ${match[2]} in the registry`, {
        hint: 'run `raiops sync:tenants --rds ' + rds.name + '` if it is new',
      }),
    )
  return toTenantRef(row)
}

/** Rows read to find a name's tenants; those the name's key does not match exactly are dropped before the candidates are counted. */
const NAME_ROWS_READ = 100

/** A tenant by its name (see namedOr). */
async function getTenantByName(db: Db, name: string): Promise<TenantRef> {
  if (searchKey(name) === '') throw new UserError('a tenant is needed', {hint: `give ${TENANT_REF_HELP}`})
  return namedOr(
    db,
    name,
    new NotFoundError(`no tenant named "${name}"`, {
      hint: `find it with \`raiops tenant:list --search ${JSON.stringify(name)}\`, or name it by ${TENANT_REF_HELP}`,
    }),
  )
}

/**
 * The tenant whose name `name` is, else `notFound`, case and accents aside, as
 * `--search` compares (its key, searchKey): the first line of the stored
 * search_text is its name's key, so every engine compares the same text
 * (SQLite's LOWER() lowers ASCII only: a tenant named "ÉCOLE" could not be named
 * at all). LOWER(name) still finds a row whose search_text was never written.
 * A reference shaped as an id or as RDS:N that names no tenant that way may
 * still be a name (as "1999" or "Studio:54").
 */
async function namedOr(db: Db, name: string, notFound: Error): Promise<TenantRef> {
  const key = searchKey(name)
  const firstLine = `${key.replace(/[!%_]/g, (c) => `${LIKE_ESCAPE}${c}`)}\n%`
  const read = await db(`${TENANT_MASTER_TABLE} as t`)
    .leftJoin(`${RDS_TABLE} as r`, 'r.id', 't.rds_instance_id')
    .where((w) =>
      w.where('t.search_text', key).orWhereRaw('t.search_text LIKE ? ESCAPE ?', [firstLine, LIKE_ESCAPE]).orWhereRaw('LOWER(t.name) = ?', [name.toLowerCase()]),
    )
    .orderBy('t.id')
    .limit(NAME_ROWS_READ)
    .select(...COLUMNS.map((c) => `t.${c}`), 'r.name as rds_name')
  // The search text's first line is the contact's name when the tenant has none: only the name itself counts.
  const rows = read.filter((r) => searchKey(String(r.name ?? '')) === key)
  if (rows.length === 0) throw notFound
  if (rows.length === 1) return toTenantRef(rows[0])
  const shown = rows.slice(0, CANDIDATES_SHOWN).map((r) => `${String(r.rds_name ?? r.rds_instance_id)}:${String(r.remote_tenant_id)} (id ${String(r.id)})`)
  throw new UserError(`${rows.length > CANDIDATES_SHOWN ? `more than ${CANDIDATES_SHOWN}` : rows.length} tenants are named "${name}": ${shown.join(', ')}`, {
    hint: 'name one by its id or RDS:REMOTE_TENANT_ID',
  })
}
