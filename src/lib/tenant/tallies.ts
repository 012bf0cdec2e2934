import type {Knex} from 'knex'

import {toIso} from '../db/values.js'

/**
 * Per tenant, in one scan of users: non-ghost users, the active ones among them,
 * ghost users, and the latest activity of a non-ghost user. A NULL is_ghost is a
 * regular user. The same statement serves sync:tenants and tenant:show.
 */
export function userTallies(db: Knex, from: Knex.QueryBuilder | Knex.Raw | string = 'users'): Knex.QueryBuilder {
  return db
    .from(from as string)
    .select('tenant_id')
    .select(db.raw('COUNT(*) AS n'))
    .select(db.raw('SUM(CASE WHEN is_ghost = ? THEN 1 ELSE 0 END) AS ghosts', [true]))
    .select(db.raw(`SUM(CASE WHEN (is_ghost = ? OR is_ghost IS NULL) AND status = 'active' THEN 1 ELSE 0 END) AS active`, [false]))
    .select(db.raw('MAX(CASE WHEN is_ghost = ? OR is_ghost IS NULL THEN updated_at END) AS last_activity', [false]))
    .groupBy('tenant_id')
}

/** A userTallies row as numbers; a latest activity that is no time (a SQLite fleet keeps any text) as none. */
export function readTally(row: Record<string, unknown>): {users: number; activeUsers: number; ghostUsers: number; lastActivityAt: string | null} {
  const ghostUsers = Number(row.ghosts ?? 0)
  const lastActivityAt = toIso(row.last_activity)
  return {
    users: Number(row.n ?? 0) - ghostUsers,
    activeUsers: Number(row.active ?? 0),
    ghostUsers,
    lastActivityAt: lastActivityAt === null || Number.isNaN(Date.parse(lastActivityAt)) ? null : lastActivityAt,
  }
}
