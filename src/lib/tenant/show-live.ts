import type {Knex} from 'knex'

import {toBool, toIso} from '../db/values.js'
import type {TenantReading} from './refresh.js'
import {readTally, userTallies} from './tallies.js'

/** At most this many mismatches of each kind are listed (all are counted). */
export const MISMATCH_SAMPLE = 10

/** The tenant's row on its RDS as read now; `name` is null when the row breaks the contract with a NULL name. */
export interface LiveTenantRow {
  name: string | null
  primaryContactName: string | null
  primaryContactEmail: string | null
  status: string | null
}

/** The tenant's users on its RDS, counted there. */
export interface LiveUsers {
  /** Non-ghost users (a NULL is_ghost is a regular user). */
  total: number
  /** Non-ghost users whose status is active. */
  active: number
  ghosts: number
  /** Non-ghost users by status, most first. */
  byStatus: Array<{status: string | null; users: number}>
  /** The latest updated_at of a non-ghost user (ISO). */
  lastActivityAt: string | null
  /** Users (ghosts too) whose email is NULL: they break the contract. */
  withoutEmail: number
}

/** A routing entry on the master naming this tenant whose user is not here as routed. */
export interface RoutedWithoutUser {
  routingId: number
  email: string | null
  userId: number | null
  /** `no user`: no user of this tenant has the id; `email differs`: the user has another email (shown as userEmail). */
  problem: 'no user' | 'email differs'
  userEmail: string | null
}

/** A non-ghost user of this tenant with no routing entry on the master (matched by user id). */
export interface UserWithoutRouting {
  userId: number
  email: string | null
}

export interface Mismatches<T> {
  count: number
  /** The first MISMATCH_SAMPLE, by id. */
  sample: T[]
}

/** The tenant's routing entries on the master compared with its users. */
export interface RoutingCheck {
  /** `skipped`: no master is registered, or the users could not be read; `unavailable`: the master failed (see reason). */
  status: 'ok' | 'unavailable' | 'skipped'
  reason: string | null
  master: {id: number; name: string} | null
  /** Routing entries naming this tenant on this RDS. */
  entries: number | null
  routedWithoutUser: Mismatches<RoutedWithoutUser> | null
  usersWithoutRouting: Mismatches<UserWithoutRouting> | null
}

/** What one read of the tenant's RDS returned (five statements, whatever its number of users). */
export interface RdsRead {
  tenant: LiveTenantRow | null
  users: LiveUsers
  locations: number
  /** Every user of the tenant (ghosts too): what the routing comparison needs. */
  userList: Array<{id: number; email: string | null; ghost: boolean}>
}

/** The master's routing entries for the tenant (one statement). */
export type RoutingRead = Array<{id: number; email: string | null; userId: number | null}>

/** Counts a statement each time knex sends one for this builder (its `query` event). */
export function counted<Q extends Knex.QueryBuilder | Knex.Raw>(builder: Q, bump: () => void): Q {
  builder.on('query', bump)
  return builder
}

const nullableText = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))

/**
 * Reads a tenant from its RDS in five statements run together, whatever its
 * number of users: its tenants row, its user tallies (userTallies, filtered to
 * it), its non-ghost users by status, its locations count, and its users' ids
 * and emails (for the routing comparison).
 */
export async function readTenantOnRds(db: Knex, remoteTenantId: number, options: {timeoutMs: () => number; onQuery: () => void}): Promise<RdsRead> {
  const {timeoutMs, onQuery} = options
  const regular = (q: Knex.QueryBuilder) => q.where((w) => w.where('is_ghost', false).orWhereNull('is_ghost'))
  const [tenants, tallies, statuses, locations, users] = await Promise.all([
    counted(db('tenants').select('name', 'primary_contact_name', 'primary_contact_email', 'status').where('id', remoteTenantId).limit(1), onQuery).timeout(
      timeoutMs(),
    ),
    counted(userTallies(db).where('tenant_id', remoteTenantId), onQuery).timeout(timeoutMs()),
    counted(regular(db('users').select('status').count({n: '*'}).where('tenant_id', remoteTenantId)).groupBy('status'), onQuery).timeout(timeoutMs()),
    counted(db('locations').count({n: '*'}).where('tenant_id', remoteTenantId), onQuery).timeout(timeoutMs()),
    counted(db('users').select('id', 'email', 'is_ghost').where('tenant_id', remoteTenantId), onQuery).timeout(timeoutMs()),
  ])
  const row = (tenants as Array<Record<string, unknown>>)[0]
  const tally = readTally((tallies as Array<Record<string, unknown>>)[0] ?? {})
  const userList = (users as Array<Record<string, unknown>>).map((u) => ({id: Number(u.id), email: nullableText(u.email), ghost: toBool(u.is_ghost)}))
  return {
    tenant: row
      ? {
          name: nullableText(row.name),
          primaryContactName: nullableText(row.primary_contact_name),
          primaryContactEmail: nullableText(row.primary_contact_email),
          status: nullableText(row.status),
        }
      : null,
    users: {
      total: tally.users,
      active: tally.activeUsers,
      ghosts: tally.ghostUsers,
      byStatus: (statuses as Array<Record<string, unknown>>)
        .map((s) => ({status: nullableText(s.status), users: Number(s.n)}))
        .sort((a, b) => b.users - a.users || String(a.status).localeCompare(String(b.status))),
      lastActivityAt: tally.lastActivityAt,
      withoutEmail: userList.filter((u) => u.email === null).length,
    },
    locations: Number((locations as Array<{n: unknown}>)[0]?.n ?? 0),
    userList,
  }
}

/** The routing entries on the master that name this tenant of this RDS (one statement). */
export async function readTenantRouting(
  db: Knex,
  where: {remoteTenantId: number; rdsInstanceId: number},
  options: {timeoutMs: () => number; onQuery: () => void},
): Promise<RoutingRead> {
  const rows = (await counted(
    db('user_email_routing').select('id', 'email', 'user_id').where({tenant_id: where.remoteTenantId, rds_instance_id: where.rdsInstanceId}),
    options.onQuery,
  ).timeout(options.timeoutMs())) as Array<Record<string, unknown>>
  return rows.map((r) => ({id: Number(r.id), email: nullableText(r.email), userId: r.user_id === null || r.user_id === undefined ? null : Number(r.user_id)}))
}

const sameEmail = (a: string | null, b: string | null): boolean => a !== null && b !== null && a.trim().toLowerCase() === b.trim().toLowerCase()

function firstById<T>(items: T[], id: (item: T) => number): Mismatches<T> {
  return {count: items.length, sample: items.sort((a, b) => id(a) - id(b)).slice(0, MISMATCH_SAMPLE)}
}

/**
 * The routing entries compared with the users, matched by user id: an entry
 * whose user id no user of the tenant has, or whose user has another email; a
 * non-ghost user no entry names.
 */
export function compareRouting(
  users: RdsRead['userList'],
  routing: RoutingRead,
): {routedWithoutUser: Mismatches<RoutedWithoutUser>; usersWithoutRouting: Mismatches<UserWithoutRouting>} {
  const byId = new Map(users.map((u) => [u.id, u]))
  const routed = new Set<number>()
  const wrong: RoutedWithoutUser[] = []
  for (const entry of routing) {
    const user = entry.userId === null ? undefined : byId.get(entry.userId)
    if (!user) {
      wrong.push({routingId: entry.id, email: entry.email, userId: entry.userId, problem: 'no user', userEmail: null})
      continue
    }
    routed.add(user.id)
    if (!sameEmail(entry.email, user.email))
      wrong.push({routingId: entry.id, email: entry.email, userId: entry.userId, problem: 'email differs', userEmail: user.email})
  }
  const unrouted = users.filter((u) => !u.ghost && !routed.has(u.id)).map((u) => ({userId: u.id, email: u.email}))
  return {routedWithoutUser: firstById(wrong, (w) => w.routingId), usersWithoutRouting: firstById(unrouted, (u) => u.userId)}
}

/** The reading a refresh writes, from a tenant found on its RDS (a NULL name kept as an empty one, as a sync keeps it). */
export function readingOf(read: RdsRead & {tenant: LiveTenantRow}): TenantReading {
  return {
    name: read.tenant.name ?? '',
    primaryContactName: read.tenant.primaryContactName,
    primaryContactEmail: read.tenant.primaryContactEmail,
    status: read.tenant.status,
    users: read.users.total,
    activeUsers: read.users.active,
    ghostUsers: read.users.ghosts,
    locations: read.locations,
    lastActivityAt: toIso(read.users.lastActivityAt),
  }
}
