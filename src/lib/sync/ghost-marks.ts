import type {Knex} from 'knex'
import {createHash} from 'node:crypto'

import type {Db} from '../db/control-db.js'
import {rowsOf} from '../db/raw-rows.js'
import {GHOST_PREFIX_PATTERN} from '../user/ghosts.js'

/**
 * What a ghost-user sync left an RDS with, kept in the control database
 * (sync_state, one row per RDS): the plan it carried out, the tenants' count
 * and highest id, and how many rows each ghost email has. All three are read
 * from indexes (the tenants' primary key, users' email index) without a row of
 * the table: a run whose plan is the same and whose RDS still reads the same
 * can say "nothing to do" without checking each ghost row. Any difference
 * (a tenant created or deleted, a ghost deleted or added, an operator renamed,
 * granted or revoked, another domain or prune) makes it check every row, as
 * does --full and a mark older than GHOST_FULL_CHECK_EVERY_MS; what the counts
 * cannot see (a ghost's name or status edited on the RDS itself) is found then.
 */

/** The longest a run relies on the counts: past it, every ghost row is checked again. */
export const GHOST_FULL_CHECK_EVERY_MS = 24 * 3_600_000

/** An RDS's ghost users as the counts see them. */
export interface GhostCensus {
  tenants: number
  maxTenantId: number
  /** Rows per ghost email of the domain (every operator's, wanted or not). */
  ghosts: Record<string, number>
}

export interface GhostMark extends GhostCensus {
  /** The plan carried out (planKey). */
  plan: string
  /** When every ghost row of this RDS was last checked (ISO). */
  verifiedAt: string
}

const stateName = (rdsId: number): string => `ghost-users.rds.${rdsId}`

/** The plan a mark holds for: the wanted operators (ids and names), the domain and what is pruned. */
export function planKey(plan: {
  wanted: ReadonlyArray<{id: number; name: string}>
  domain: string
  prune: {keep: readonly number[]; only: readonly number[] | null} | null
}): string {
  const value = JSON.stringify({
    v: 1,
    domain: plan.domain,
    wanted: plan.wanted.map((o) => [o.id, o.name]),
    prune: plan.prune ? {keep: [...plan.prune.keep].sort((a, b) => a - b), only: plan.prune.only ? [...plan.prune.only].sort((a, b) => a - b) : null} : null,
  })
  return createHash('sha256').update(value).digest('base64url').slice(0, 22)
}

/**
 * Reads the census in one statement, whose parts are each answered from an
 * index: the tenants' count and highest id, and the ghost emails' counts. Its
 * third part reads no row but names users.is_ghost, so a server whose table
 * lacks it fails here, before anything is written (a schema error).
 */
export async function takeCensus(db: Knex, domain: string): Promise<GhostCensus> {
  // A prefix, a range of the email index; the domain is matched here, on the few groups (a pattern ending in
  // the domain would be matched against each row: twice as slow on MariaDB).
  const rows = await db.raw(
    `SELECT 't' AS k, NULL AS email, COUNT(*) AS n, MAX(id) AS top FROM tenants
       UNION ALL SELECT 'g', email, COUNT(*), NULL FROM users WHERE email LIKE ? GROUP BY email
       UNION ALL SELECT 'p', NULL, 0, NULL FROM users WHERE 1 = 0 AND is_ghost IS NULL`,
    [GHOST_PREFIX_PATTERN],
  )
  const list = rowsOf(rows) as Array<{k: string; email: string | null; n: unknown; top: unknown}>
  const suffix = `@${domain}`.toLowerCase()
  const census: GhostCensus = {tenants: 0, maxTenantId: 0, ghosts: {}}
  for (const row of list) {
    if (row.k === 't') {
      census.tenants = Number(row.n ?? 0)
      census.maxTenantId = Number(row.top ?? 0)
      continue
    }
    const email = String(row.email ?? '').toLowerCase()
    if (row.k === 'g' && email.endsWith(suffix)) census.ghosts[email] = (census.ghosts[email] ?? 0) + Number(row.n)
  }
  return census
}

export function sameCensus(a: GhostCensus, b: GhostCensus): boolean {
  const keys = Object.keys(a.ghosts)
  return (
    a.tenants === b.tenants &&
    a.maxTenantId === b.maxTenantId &&
    keys.length === Object.keys(b.ghosts).length &&
    keys.every((email) => a.ghosts[email] === b.ghosts[email])
  )
}

/** Whether `mark` still vouches for an RDS that reads `census` under plan `plan` at `now`. */
export function markHolds(mark: GhostMark | null, plan: string, census: GhostCensus, now: Date): boolean {
  if (!mark || mark.plan !== plan) return false
  const verified = Date.parse(mark.verifiedAt)
  return !Number.isNaN(verified) && now.getTime() - verified < GHOST_FULL_CHECK_EVERY_MS && verified <= now.getTime() && sameCensus(mark, census)
}

function parseMark(value: string | null): GhostMark | null {
  if (!value) return null
  try {
    const m = JSON.parse(value) as Partial<GhostMark>
    const counts = m.ghosts && typeof m.ghosts === 'object' ? Object.values(m.ghosts) : null
    if (typeof m.plan !== 'string' || typeof m.verifiedAt !== 'string' || typeof m.tenants !== 'number' || typeof m.maxTenantId !== 'number') return null
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
  for (const row of rows) {
    const mark = parseMark(row.value)
    if (mark) marks.set(Number(row.name.slice(stateName(0).length - 1)), mark)
  }
  return marks
}

export async function writeGhostMark(db: Db, rdsId: number, mark: GhostMark, now: Date): Promise<void> {
  await db('sync_state')
    .insert({name: stateName(rdsId), value: JSON.stringify(mark), updated_at: now})
    .onConflict('name')
    .merge(['value', 'updated_at'])
}
