import type {Knex} from 'knex'

import {fleetTime} from '../tenant/status-change.js'
import {ghostEmail, ghostEmailPattern, ghostName, PRUNED_GHOST_STATUS, unusablePassword, type GhostOperator} from '../user/ghosts.js'
import {markHolds, takeCensus, type GhostMark} from './ghost-marks.js'

/**
 * One RDS's ghost users made as they should be, set-based: per operator at most
 * one INSERT … SELECT (every tenant lacking the ghost) and one UPDATE (names
 * and status), plus one UPDATE for the ghosts to prune; so the cost does not
 * grow with statements per tenant. A dry run counts the same rows with SELECTs.
 */

export interface GhostCounts {
  /** Ghost users created (or, dry run, that would be). */
  inserted: number
  /** Ghost users whose name or status was brought up to date. */
  updated: number
  /** Ghost users of operators no longer allowed to impersonate, suspended (--prune). */
  pruned: number
  /** Ghost users already as they should be. */
  unchanged: number
}

export const ZERO_GHOST_COUNTS: GhostCounts = {inserted: 0, updated: 0, pruned: 0, unchanged: 0}

export interface GhostPlan {
  /** The operators whose ghosts every tenant must have. */
  wanted: readonly GhostOperator[]
  /** Prune: suspend the ghosts of every operator id not in `keep` (all: null) or only those of `only`. */
  prune: {keep: readonly number[]; only: readonly number[] | null} | null
  domain: string
  dryRun: boolean
  signal: AbortSignal
  /** The plan's and the RDS's keys (planKey, targetKey) and what the last run left this RDS with: when the counts still read the same, no row is checked. */
  key: {plan: string; target: string}
  previous: GhostMark | null
  /** The ghost emails the census counts (every operator's, wanted or not). */
  censusEmails: readonly string[]
  /** Called once before anything is written (not at all by a run with nothing to write): what must hold first. */
  beforeWrite: () => Promise<void>
  /** Check every ghost row whatever the counts say. */
  full: boolean
}

/** How a run knew what to do on an RDS: from the counts its last run left (nothing to do), or by checking every ghost row. */
export type GhostCheck = 'counts' | 'rows'

export interface GhostOutcome {
  tenants: number
  counts: GhostCounts
  check: GhostCheck
  /** What to remember of the RDS now (a run that checked every row and wrote, or would write, nothing more); null: keep the last one. */
  mark: GhostMark | null
}

const SCHEMA_ERRORS = new Set(['ER_NO_SUCH_TABLE', 'ER_BAD_FIELD_ERROR', '42P01', '42703'])

/** Whether `error` says a table or column is missing (MySQL/MariaDB, PostgreSQL, SQLite). */
function isSchemaError(error: unknown): boolean {
  const e = error as {code?: string; message?: string}
  return SCHEMA_ERRORS.has(String(e.code)) || (e.code === 'SQLITE_ERROR' && /no such (table|column)/.test(String(e.message)))
}

/**
 * Why this RDS cannot hold ghost users, or null when it can: asked once the
 * census (which names the same tables and column) failed with a schema error,
 * with two statements that read no row (cheaper than the catalogue on a server
 * with many databases). Another failure (the server is down) is thrown.
 */
async function ghostSchemaProblem(db: Knex): Promise<string | null> {
  const probes: Array<[() => Promise<unknown>, string]> = [
    [() => db('tenants').select('id').whereRaw('1 = 0'), 'the RAI database has no usable tenants table'],
    [() => db('users').select('is_ghost').whereRaw('1 = 0'), 'its users table has no is_ghost column'],
  ]
  for (const [probe, problem] of probes) {
    try {
      await probe()
    } catch (error) {
      if (!isSchemaError(error)) throw error
      return `${problem}: migrate the RAI database first; nothing was written`
    }
  }
  return null
}

/** Rows an INSERT … SELECT wrote, as each driver reports it. */
function affected(result: unknown): number {
  const value = Array.isArray(result) ? (result[0] as unknown) : result
  const r = value as {affectedRows?: number; rowCount?: number; changes?: number} | undefined
  return Number(r?.affectedRows ?? r?.rowCount ?? r?.changes ?? 0)
}

const countOf = (rows: Array<Record<string, unknown>>): number => Number(Object.values(rows[0] ?? {})[0] ?? 0)

/** Ghost rows of `emails` that need their name or status set. */
function staleGhosts(db: Knex | Knex.Transaction, email: string, name: string): Knex.QueryBuilder {
  return db('users')
    .where({email, is_ghost: true})
    .andWhere((q) => q.whereNot('name', name).orWhereNot('status', 'active').orWhereNull('status'))
}

function pruneQuery(db: Knex | Knex.Transaction, plan: GhostPlan): Knex.QueryBuilder | null {
  if (!plan.prune) return null
  const {keep, only} = plan.prune
  if (only !== null && only.length === 0) return null
  const query = db('users')
    .where({is_ghost: true})
    .andWhere((q) => q.whereNot('status', PRUNED_GHOST_STATUS).orWhereNull('status'))
  if (only !== null)
    return query.whereIn(
      'email',
      only.map((id) => ghostEmail(id, plan.domain)),
    )
  query.andWhere('email', 'like', ghostEmailPattern(plan.domain))
  return keep.length > 0
    ? query.whereNotIn(
        'email',
        keep.map((id) => ghostEmail(id, plan.domain)),
      )
    : query
}

interface GhostState {
  /** Tenants that have the ghost. */
  present: number
  /** Of those ghosts, the ones whose name, status or is_ghost is not as it should be. */
  stale: number
}

/**
 * Where every wanted operator's ghosts stand on this RDS, in one statement: per
 * ghost email, how many tenants have it and how many of those are stale. A run
 * with nothing to do stops here: it sends no INSERT nor UPDATE.
 */
async function ghostStates(tx: Knex, wanted: ReadonlyArray<{email: string; name: string}>): Promise<Map<string, GhostState>> {
  const states = new Map<string, GhostState>()
  if (wanted.length === 0) return states
  const names = wanted.map(() => 'WHEN ? THEN ?').join(' ')
  // A LEFT JOIN, so that the ghost rows (through the email index) drive it: joined the other way, as the
  // optimizer orders an inner join, every tenant is looked up in users: more than twice as slow on MariaDB.
  // Ghost rows of a tenant that no longer exists (t.id NULL) count for nothing.
  const rows = (await tx('users as u')
    .leftJoin('tenants as t', 't.id', 'u.tenant_id')
    .whereIn(
      'u.email',
      wanted.map((w) => w.email),
    )
    .groupBy('u.email')
    .select('u.email', tx.raw('COUNT(DISTINCT t.id) AS present'))
    .select(
      tx.raw(
        `SUM(CASE WHEN t.id IS NULL THEN 0 WHEN u.is_ghost = ? AND u.status = 'active' AND u.name = (CASE u.email ${names} END) THEN 0 ELSE 1 END) AS stale`,
        [true, ...wanted.flatMap((w) => [w.email, w.name])],
      ),
    )) as Array<{email: string; present: unknown; stale: unknown}>
  for (const row of rows) states.set(String(row.email).toLowerCase(), {present: Number(row.present), stale: Number(row.stale)})
  return states
}

/**
 * Tenants on the RDS, and what was (or would be) changed there. The counts are
 * read first: when they read as the last run left them under the same plan,
 * there is nothing to do and no row is read (see ghost-marks.ts). Otherwise what
 * stands is read row by row; the writes, when there are any, run in one
 * transaction: all of them, or none. Each is conditional on the rows as they
 * are then (NOT EXISTS, stale names only), so a change made meanwhile is
 * neither duplicated nor lost.
 */
export async function syncGhostsOn(db: Knex, plan: GhostPlan, now: Date): Promise<GhostOutcome> {
  const pg = /^(pg|postgres)/.test(String(db.client.config.client))
  const at = fleetTime(now)
  const ts = pg ? 'CAST(? AS timestamp)' : '?'
  const wanted = plan.wanted.map((o) => ({email: ghostEmail(o.id, plan.domain), name: ghostName(o.name)}))
  const census = await takeCensus(db, plan.censusEmails).catch(async (error: unknown) => {
    const problem = isSchemaError(error) ? await ghostSchemaProblem(db) : null
    throw problem ? new Error(problem) : error
  })
  const {tenants} = census
  const counts: GhostCounts = {...ZERO_GHOST_COUNTS}
  const unchanged = () => Math.max(0, tenants * wanted.length - counts.inserted - counts.updated)
  if (!plan.full && markHolds(plan.previous, plan.key, census, now)) return {tenants, counts: {...counts, unchanged: unchanged()}, check: 'counts', mark: null}
  const states = await ghostStates(db, wanted)
  const stateOf = (email: string): GhostState => states.get(email) ?? {present: 0, stale: 0}
  if (plan.dryRun) {
    for (const {email} of wanted) {
      counts.inserted += tenants - stateOf(email).present
      counts.updated += stateOf(email).stale
    }
    const prune = pruneQuery(db, plan)
    if (prune) counts.pruned = countOf(await prune.count({n: '*'}))
    return {tenants, counts: {...counts, unchanged: unchanged()}, check: 'rows', mark: null}
  }
  // The counts the writes leave: what was read, plus the rows inserted. Should a tenant or ghost come or go
  // meanwhile, the next run reads other counts and checks every row again.
  const ghosts = {...census.ghosts}
  const mark = (): GhostMark => ({...census, ghosts, ...plan.key, verifiedAt: now.toISOString()})
  const todo = wanted.filter(({email}) => stateOf(email).present < tenants || stateOf(email).stale > 0)
  // Nothing missing, nothing stale, nothing to prune: no transaction, no write.
  if (todo.length === 0 && !pruneQuery(db, plan)) return {tenants, counts: {...counts, unchanged: unchanged()}, check: 'rows', mark: mark()}
  plan.signal.throwIfAborted()
  await plan.beforeWrite()
  plan.signal.throwIfAborted()
  await db.transaction(async (tx) => {
    for (const {email, name} of todo) {
      plan.signal.throwIfAborted()
      if (stateOf(email).present < tenants) {
        const inserted = affected(
          await tx.raw(
            `INSERT INTO users (tenant_id, name, email, password, status, is_ghost, created_at, updated_at)
           SELECT t.id, ?, ?, ?, 'active', ?, ${ts}, ${ts} FROM tenants t
           WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.email = ?)`,
            [name, email, unusablePassword(), true, at, at, email],
          ),
        )
        counts.inserted += inserted
        ghosts[email] = (ghosts[email] ?? 0) + inserted
      }
      if (stateOf(email).stale > 0) counts.updated += Number(await staleGhosts(tx, email, name).update({name, status: 'active', updated_at: at}))
    }
    plan.signal.throwIfAborted()
    const prune = pruneQuery(tx, plan)
    if (prune) counts.pruned = Number(await prune.update({status: PRUNED_GHOST_STATUS, updated_at: at}))
    // The last moment to give up: past it, the transaction commits.
    plan.signal.throwIfAborted()
  })
  return {tenants, counts: {...counts, unchanged: unchanged()}, check: 'rows', mark: mark()}
}
