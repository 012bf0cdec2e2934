import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {getRds} from '../rds/repository.js'
import {getTenant} from '../tenant/reference.js'
import {likePattern, onEachRds, toFleetUser, USER_COLUMNS, USER_LIKE_ESCAPE, type FleetUser} from './fleet-users.js'

/** Which users --ghosts keeps: every one, none of the RAI support accounts, or only them. */
export const GHOST_FILTERS = ['include', 'exclude', 'only'] as const
export type GhostFilter = (typeof GHOST_FILTERS)[number]

export interface ListUsersInput {
  /** The tenant: its id, RDS:REMOTE_TENANT_ID or its name (getTenant). */
  tenant: string
  /** Only users with one of these statuses. */
  statuses?: readonly string[]
  /** Only users whose name or email contains this text (case-insensitively). */
  search?: string
  ghosts?: GhostFilter
  /** Users per page. */
  limit: number
  /** The page after this user id (the previous page's `nextAfter`). */
  after?: number
  /** The RDS's limit, ms, connecting included. */
  timeoutMs: number
}

export interface UserListResult {
  tenant: {
    id: number
    /** RDS:REMOTE_TENANT_ID. */
    ref: string
    name: string
    status: string | null
    rdsId: number
    rdsName: string
    remoteTenantId: number
    /** When a sync found the tenant gone upstream. */
    remoteMissingAt: string | null
  }
  filters: {statuses: string[]; search: string | null; ghosts: GhostFilter; limit: number; after: number | null}
  /** This page, by id. */
  users: FleetUser[]
  /** Users matching the filters, every page; null when the RDS could not be read. */
  total: number | null
  /** Give it as --after for the next page; null on the last page. */
  nextAfter: number | null
  /** Why the RDS could not be read (no rows then): the command exits 3. */
  error: string | null
}

const MAX_STATUS = 64
const MAX_SEARCH = 255

function checkInput(input: ListUsersInput): void {
  for (const status of input.statuses ?? []) {
    if (status.trim() === '' || status.length > MAX_STATUS)
      throw new UserError(`--status must be a status of 1 to ${MAX_STATUS} characters, as active`, {hint: 'repeat --status or separate statuses with commas'})
  }
  if (input.search !== undefined && (input.search.trim() === '' || input.search.length > MAX_SEARCH))
    throw new UserError(`--search must be 1 to ${MAX_SEARCH} characters of a name or email`)
}

/**
 * A tenant's users, read live from its RDS within `timeoutMs`: one page by id
 * (keyset on users.id, `after`), filtered in SQL on the RDS, and how many users
 * match in all (one COUNT), both at once. The password hash is never read. An
 * RDS that cannot be read is a result with `error` and no rows, not a throw.
 */
export async function listUsers(ctx: OpsContext, input: ListUsersInput): Promise<UserListResult> {
  checkInput(input)
  const tenant = await getTenant(ctx.db, input.tenant)
  const rds = await getRds(ctx.db, tenant.rdsInstanceId)
  const statuses = [...new Set((input.statuses ?? []).map((s) => s.trim()))]
  const search = input.search?.trim() ?? null
  const ghosts = input.ghosts ?? 'include'
  const filter = (query: Knex.QueryBuilder): Knex.QueryBuilder => {
    query.where('tenant_id', tenant.remoteTenantId)
    if (statuses.length > 0) query.whereIn('status', statuses)
    if (search !== null) {
      const pattern = likePattern(search)
      query.where((q) =>
        q.whereRaw('LOWER(name) LIKE ? ESCAPE ?', [pattern, USER_LIKE_ESCAPE]).orWhereRaw('LOWER(email) LIKE ? ESCAPE ?', [pattern, USER_LIKE_ESCAPE]),
      )
    }
    if (ghosts === 'only') query.where('is_ghost', true)
    if (ghosts === 'exclude') query.where((q) => q.where('is_ghost', false).orWhereNull('is_ghost'))
    return query
  }
  const [outcome] = await onEachRds(ctx, [rds], input.timeoutMs, async (db, _rds, queryTimeoutMs) => {
    const page = filter(db('users').select(...USER_COLUMNS))
    if (input.after !== undefined) page.where('id', '>', input.after)
    const [rows, counted] = await Promise.all([
      page
        .orderBy('id')
        .limit(input.limit + 1)
        .timeout(queryTimeoutMs),
      filter(db('users').count({n: '*'})).timeout(queryTimeoutMs),
    ])
    return {rows: rows as Array<Record<string, unknown>>, total: Number((counted as Array<{n: unknown}>)[0]?.n ?? 0)}
  })
  const read = outcome.ok ? outcome.value : null
  const users = (read?.rows ?? []).slice(0, input.limit).map(toFleetUser)
  const more = (read?.rows.length ?? 0) > input.limit
  return {
    tenant: {
      id: tenant.id,
      ref: `${rds.name}:${tenant.remoteTenantId}`,
      name: tenant.name,
      status: tenant.status,
      rdsId: Number(rds.id),
      rdsName: rds.name,
      remoteTenantId: tenant.remoteTenantId,
      remoteMissingAt: tenant.remoteMissingAt,
    },
    filters: {statuses, search, ghosts, limit: input.limit, after: input.after ?? null},
    users,
    total: read?.total ?? null,
    nextAfter: more && users.length > 0 ? (users.at(-1) as FleetUser).id : null,
    error: outcome.ok ? null : outcome.error,
  }
}
