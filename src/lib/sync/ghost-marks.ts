import type {Knex} from 'knex'
import {createHash} from 'node:crypto'

import type {Db} from '../db/control-db.js'
import {rowsOf} from '../db/raw-rows.js'

/**
 * What a ghost-user sync left an RDS with, kept in the control database
 * (sync_state, one row per RDS): the plan it carried out, the database it was
 * carried out on, the tenants' count, highest id and sum of ids, and how many
 * rows each ghost email has. All are read from indexes (the tenants' primary
 * key; users' email index, looked up by exact email) without a row of the table:
 * a run whose plan is the same and whose RDS still reads the same can say
 * "nothing to do" without checking each ghost row. Any difference (a tenant
 * created or deleted, a ghost deleted or added, an operator renamed, granted or
 * revoked, another domain or prune, the RDS pointed at another database) makes
 * it check every row, as does --full and a mark older than
 * GHOST_FULL_CHECK_EVERY_MS; what the counts cannot see (a ghost's name or status
 * edited on the RDS itself) is found then. A run that is about to write first
 * forgets the RDS's mark, and writes the new one after its commit: a run that
 * stops in between leaves no mark, and the next run checks every row.
 */

/** The longest a run relies on the counts: past it, every ghost row is checked again. */
export const GHOST_FULL_CHECK_EVERY_MS = 24 * 3_600_000

/** An RDS's ghost users as the counts see them. */
export interface GhostCensus {
  tenants: number
  maxTenantId: number
  /** The sum of the tenants' ids: with the count and the highest, a tenant replaced by another is seen. */
  tenantIdSum: number
  /** Rows per ghost email counted (those of every operator id up to the highest, in the domain). */
  ghosts: Record<string, number>
}

export interface GhostMark extends GhostCensus {
  /** The plan carried out (planKey). */
  plan: string
  /** The database it was carried out on (targetKey). */
  target: string
  /** When every ghost row of this RDS was last checked (ISO). */
  verifiedAt: string
}

const stateName = (rdsId: number): string => `ghost-users.rds.${rdsId}`

const digest = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22)

/** The plan a mark holds for: the wanted operators (ids and names), the domain and what is pruned. */
export function planKey(plan: {
  wanted: ReadonlyArray<{id: number; name: string}>
  domain: string
  prune: {keep: readonly number[]; only: readonly number[] | null} | null
}): string {
  const sorted = (ids: readonly number[]) => [...ids].sort((a, b) => a - b)
  return digest({
    v: 2,
    domain: plan.domain,
    wanted: plan.wanted.map((o) => [o.id, o.name]),
    prune: plan.prune ? {keep: sorted(plan.prune.keep), only: plan.prune.only ? sorted(plan.prune.only) : null} : null,
  })
}

/** The database an RDS's mark describes: a registry entry edited to point elsewhere does not inherit it. */
export function targetKey(row: {engine?: string | null; host?: string | null; port?: number | string | null; rai_database?: string | null}): string {
  return digest([row.engine ?? null, row.host ?? null, row.port === null || row.port === undefined ? null : Number(row.port), row.rai_database ?? null])
}

/**
 * Reads the census in one statement, whose parts are each answered from an
 * index: the tenants' count, highest id and sum of ids, and the row count of
 * each of `emails` (exact lookups in the email index, compared as the server
 * compares emails, as the writes do). Its third part reads no row but names
 * users.is_ghost, so a server whose table lacks it fails here, before anything
 * is written (a schema error).
 */
export async function takeCensus(db: Knex, emails: readonly string[]): Promise<GhostCensus> {
  const list = emails.length > 0 ? emails : ['']
  const rows = rowsOf(
    await db.raw(
      `SELECT 't' AS k, NULL AS email, COUNT(*) AS n, MAX(id) AS top, SUM(id) AS total FROM tenants
       UNION ALL SELECT 'g', email, COUNT(*), NULL, NULL FROM users WHERE email IN (${list.map(() => '?').join(', ')}) GROUP BY email
       UNION ALL SELECT 'p', NULL, 0, NULL, NULL FROM users WHERE 1 = 0 AND is_ghost IS NULL`,
      [...list],
    ),
  ) as Array<{k: string; email: string | null; n: unknown; top: unknown; total: unknown}>
  const census: GhostCensus = {tenants: 0, maxTenantId: 0, tenantIdSum: 0, ghosts: {}}
  for (const row of rows) {
    if (row.k === 't') {
      census.tenants = Number(row.n ?? 0)
      census.maxTenantId = Number(row.top ?? 0)
      census.tenantIdSum = Number(row.total ?? 0)
    } else if (row.k === 'g') {
      // A server whose collation ignores case groups GHOST+1@… with ghost+1@…, as its writes compare them.
      const email = String(row.email ?? '').toLowerCase()
      census.ghosts[email] = (census.ghosts[email] ?? 0) + Number(row.n)
    }
  }
  return census
}

export function sameCensus(a: GhostCensus, b: GhostCensus): boolean {
  const keys = Object.keys(a.ghosts)
  return (
    a.tenants === b.tenants &&
    a.maxTenantId === b.maxTenantId &&
    a.tenantIdSum === b.tenantIdSum &&
    keys.length === Object.keys(b.ghosts).length &&
    keys.every((email) => a.ghosts[email] === b.ghosts[email])
  )
}

/** Whether `mark` still vouches for an RDS that reads `census` under this plan and target at `now`. */
export function markHolds(mark: GhostMark | null, key: {plan: string; target: string}, census: GhostCensus, now: Date): boolean {
  if (!mark || mark.plan !== key.plan || mark.target !== key.target) return false
  const verified = Date.parse(mark.verifiedAt)
  return !Number.isNaN(verified) && verified <= now.getTime() && now.getTime() - verified < GHOST_FULL_CHECK_EVERY_MS && sameCensus(mark, census)
}

function parseMark(value: string | null): GhostMark | null {
  if (!value) return null
  try {
    const m = JSON.parse(value) as Partial<GhostMark>
    const counts = m.ghosts && typeof m.ghosts === 'object' ? Object.values(m.ghosts) : null
    const numbers = [m.tenants, m.maxTenantId, m.tenantIdSum].every((n) => typeof n === 'number')
    if (typeof m.plan !== 'string' || typeof m.target !== 'string' || typeof m.verifiedAt !== 'string' || !numbers) return null
    if (!counts || !counts.every((n) => typeof n === 'number')) return null
    return m as GhostMark
  } catch {
    return null
  }
}

/** The marks of these RDS, in one statement. */
export async function readGhostMarks(db: Db, rdsIds: readonly number[]): Promise<Map<number, GhostMark>> {
  const marks = new Map<number, GhostMark>()
  if (rdsIds.length === 0) return marks
  const rows = (await db('sync_state').whereIn('name', rdsIds.map(stateName)).select('name', 'value')) as Array<{name: string; value: string | null}>
  const prefix = stateName(0).slice(0, -1)
  for (const row of rows) {
    const mark = parseMark(row.value)
    if (mark) marks.set(Number(row.name.slice(prefix.length)), mark)
  }
  return marks
}

export async function writeGhostMark(db: Db, rdsId: number, mark: GhostMark, now: Date): Promise<void> {
  await db('sync_state')
    .insert({name: stateName(rdsId), value: JSON.stringify(mark), updated_at: now})
    .onConflict('name')
    .merge(['value', 'updated_at'])
}

/** Forgets an RDS's mark: before its ghosts are written, and when the RDS leaves the registry. */
export async function forgetGhostMark(db: Db, rdsId: number): Promise<void> {
  await db('sync_state')
    .where({name: stateName(rdsId)})
    .delete()
}
