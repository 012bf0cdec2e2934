import type {Knex} from 'knex'

import {readTally, userTallies} from '../tenant/tallies.js'
import {InvalidTally, isId, type InvalidRows} from './invalid.js'

/** An RDS's tenants as read, and the rows that break the contract. */
export interface UpstreamRead {
  tenants: UpstreamTenant[]
  invalidRows: InvalidRows[]
}

const INVALID_TENANT = {
  id: 'id is not a positive integer: left out',
  name: 'name is NULL: stored with an empty name',
} as const

/** A tenant as an RDS holds it, with its counts (ghost users counted apart). */
export interface UpstreamTenant {
  id: number
  name: string
  primaryContactName: string | null
  primaryContactEmail: string | null
  status: string | null
  /** Non-ghost users. */
  users: number
  /** Non-ghost users whose status is active. */
  activeUsers: number
  ghostUsers: number
  locations: number
  /** The latest updated_at of its non-ghost users (ISO), null with none. */
  lastActivityAt: string | null
}

/**
 * Reads an RDS's tenants and their user and location counts in three queries,
 * whatever the number of tenants: the tenants, then users and locations grouped
 * by tenant. Ghost users are counted apart from the others. A tenant without a usable id is left
 * out, one without a name kept with an empty one; both are counted as invalid.
 */
export async function readUpstreamTenants(db: Knex, timeoutMs: () => number): Promise<UpstreamRead> {
  // On MySQL/MariaDB the optimizer walks the (tenant_id, …) index for the GROUP BY and
  // fetches every row again for is_ghost, which that index does not hold: four times
  // slower than one scan of the table grouped in memory, so no index is used.
  const users = db.client.config.client === 'mysql2' ? db.raw('?? USE INDEX ()', ['users']) : 'users'
  const [tenants, userRows, locations] = await Promise.all([
    db('tenants').select('id', 'name', 'primary_contact_name', 'primary_contact_email', 'status').orderBy('id').timeout(timeoutMs()),
    userTallies(db, users).timeout(timeoutMs()),
    db('locations').select('tenant_id').count({n: '*'}).groupBy('tenant_id').timeout(timeoutMs()),
  ])
  const userCounts = new Map((userRows as Array<Record<string, unknown>>).map((r) => [Number(r.tenant_id), readTally(r)]))
  const locationCounts = new Map((locations as Array<{tenant_id: unknown; n: unknown}>).map((r) => [Number(r.tenant_id), Number(r.n)]))
  const invalid = new InvalidTally()
  const read: UpstreamTenant[] = []
  for (const t of tenants as Array<Record<string, unknown>>) {
    if (!isId(t.id)) {
      invalid.add(INVALID_TENANT.id, false, null)
      continue
    }
    const id = Number(t.id)
    if (t.name === null || t.name === undefined) invalid.add(INVALID_TENANT.name, true, id)
    read.push({
      id,
      name: String(t.name ?? ''),
      primaryContactName: (t.primary_contact_name as string | null) ?? null,
      primaryContactEmail: (t.primary_contact_email as string | null) ?? null,
      status: (t.status as string | null) ?? null,
      ...(userCounts.get(id) ?? {users: 0, activeUsers: 0, ghostUsers: 0, lastActivityAt: null}),
      locations: locationCounts.get(id) ?? 0,
    })
  }
  return {tenants: read, invalidRows: invalid.list}
}
