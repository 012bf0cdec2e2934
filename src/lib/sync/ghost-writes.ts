import type {Knex} from 'knex'

import {fleetTime} from '../tenant/status-change.js'
import {ghostEmail, ghostEmailPattern, ghostName, PRUNED_GHOST_STATUS, unusablePassword, type GhostOperator} from '../user/ghosts.js'

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
}

/** Why this RDS cannot hold ghost users, or null when it can (checked before any write). */
export async function ghostSchemaProblem(db: Knex): Promise<string | null> {
  if (!(await db.schema.hasTable('tenants'))) return 'the RAI database has no tenants table'
  if (!(await db.schema.hasTable('users'))) return 'the RAI database has no users table'
  if (!(await db.schema.hasColumn('users', 'is_ghost'))) return 'its users table has no is_ghost column: migrate the RAI database first; nothing was written'
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
function staleGhosts(db: Knex, email: string, name: string): Knex.QueryBuilder {
  return db('users')
    .where({email, is_ghost: true})
    .andWhere((q) => q.whereNot('name', name).orWhereNot('status', 'active').orWhereNull('status'))
}

function pruneQuery(db: Knex, plan: GhostPlan): Knex.QueryBuilder | null {
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
async function ghostStates(tx: Knex | Knex.Transaction, wanted: ReadonlyArray<{email: string; name: string}>): Promise<Map<string, GhostState>> {
  const states = new Map<string, GhostState>()
  if (wanted.length === 0) return states
  const names = wanted.map(() => 'WHEN ? THEN ?').join(' ')
  const rows = (await tx('users as u')
    .join('tenants as t', 't.id', 'u.tenant_id')
    .whereIn(
      'u.email',
      wanted.map((w) => w.email),
    )
    .groupBy('u.email')
    .select('u.email', tx.raw('COUNT(DISTINCT u.tenant_id) AS present'))
    .select(
      tx.raw(`SUM(CASE WHEN u.is_ghost = ? AND u.status = 'active' AND u.name = (CASE u.email ${names} END) THEN 0 ELSE 1 END) AS stale`, [
        true,
        ...wanted.flatMap((w) => [w.email, w.name]),
      ]),
    )) as Array<{email: string; present: unknown; stale: unknown}>
  for (const row of rows) states.set(String(row.email).toLowerCase(), {present: Number(row.present), stale: Number(row.stale)})
  return states
}

/** Tenants on the RDS, and what was (or would be) changed there. Runs in one transaction: all of it, or nothing. */
export async function syncGhostsOn(db: Knex, plan: GhostPlan, now: Date): Promise<{tenants: number; counts: GhostCounts}> {
  const pg = /^(pg|postgres)/.test(String(db.client.config.client))
  const at = fleetTime(now)
  const ts = pg ? 'CAST(? AS timestamp)' : '?'
  const wanted = plan.wanted.map((o) => ({email: ghostEmail(o.id, plan.domain), name: ghostName(o.name)}))
  const work = async (tx: Knex | Knex.Transaction) => {
    const tenants = countOf(await tx('tenants').count({n: '*'}))
    const counts: GhostCounts = {...ZERO_GHOST_COUNTS}
    const states = await ghostStates(tx, wanted)
    for (const {email, name} of wanted) {
      plan.signal.throwIfAborted()
      const state = states.get(email) ?? {present: 0, stale: 0}
      if (plan.dryRun) {
        counts.inserted += tenants - state.present
        counts.updated += state.stale
        continue
      }
      if (state.present < tenants) {
        const inserted = await tx.raw(
          `INSERT INTO users (tenant_id, name, email, password, status, is_ghost, created_at, updated_at)
           SELECT t.id, ?, ?, ?, 'active', ?, ${ts}, ${ts} FROM tenants t
           WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = t.id AND u.email = ?)`,
          [name, email, unusablePassword(), true, at, at, email],
        )
        counts.inserted += affected(inserted)
      }
      if (state.stale > 0) counts.updated += Number(await staleGhosts(tx as Knex, email, name).update({name, status: 'active', updated_at: at}))
    }
    plan.signal.throwIfAborted()
    const prune = pruneQuery(tx as Knex, plan)
    if (prune) counts.pruned = plan.dryRun ? countOf(await prune.count({n: '*'})) : Number(await prune.update({status: PRUNED_GHOST_STATUS, updated_at: at}))
    counts.unchanged = Math.max(0, tenants * plan.wanted.length - counts.inserted - counts.updated)
    // The last moment to give up: past it, the transaction commits.
    plan.signal.throwIfAborted()
    return {tenants, counts}
  }
  return plan.dryRun ? work(db) : db.transaction(work)
}
