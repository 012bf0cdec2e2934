import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {describeDriverError} from '../db/driver-errors.js'
import {toBool, toIso} from '../db/values.js'
import {DeadlineError} from '../deadline.js'
import {UserError} from '../errors/index.js'
import {fanOut} from '../fleet/fan-out.js'
import {connectionSpecFor, type RdsConnectionRow} from '../rds/service.js'

/**
 * Reading tenants' users from the fleet (the RAI `users` table, DESIGN.md §2):
 * the columns raiops reads (never `password`), a row as a plain value that says
 * what in it breaks the contract, and one piece of work per RDS within a deadline.
 */

/** The columns of `users` raiops reads. The password hash is never selected. */
export const USER_COLUMNS = ['id', 'tenant_id', 'name', 'email', 'status', 'is_ghost', 'created_at', 'updated_at'] as const

/** A user of a tenant as its RDS holds it. */
export interface FleetUser {
  id: number
  /** The tenant's id on its RDS. */
  tenantId: number | null
  name: string | null
  email: string | null
  status: string | null
  /** A RAI support account (is_ghost); a NULL is_ghost is a regular user. */
  ghost: boolean
  createdAt: string | null
  updatedAt: string | null
  /** What in the row breaks the fleet contract (`name is NULL`, `email is NULL`); empty when nothing does. */
  problems: string[]
}

/** A bigint id as a number (PostgreSQL returns bigints as strings); null when it is none. */
export function idOf(value: unknown): number | null {
  if (value === null || value === undefined) return null
  const n = Number(value)
  return Number.isSafeInteger(n) ? n : null
}

/** A `users` row as a FleetUser. */
export function toFleetUser(row: Record<string, unknown>): FleetUser {
  const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))
  const problems: string[] = []
  if (row.name === null || row.name === undefined) problems.push('name is NULL')
  if (row.email === null || row.email === undefined) problems.push('email is NULL')
  return {
    id: Number(row.id),
    tenantId: idOf(row.tenant_id),
    name: text(row.name),
    email: text(row.email),
    status: text(row.status),
    ghost: toBool(row.is_ghost),
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    problems,
  }
}

/** An address as user:find takes it: something@somewhere, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+$/

/** The email as raiops compares it (trimmed, lower-cased); bad input when it is not an address. */
export function normaliseEmail(input: string): string {
  const email = input.trim().toLowerCase()
  if (!EMAIL.test(email) || email.length > 255) throw new UserError(`"${input}" is not an email address`, {hint: 'give the full address, as ana@example.com'})
  return email
}

/**
 * Rows whose `column` equals `value` without regard to case (the value is
 * lower-cased here), whatever case the app stored it in. On MySQL/MariaDB the
 * column's case-insensitive collation (Laravel's utf8mb4_unicode_ci, which the
 * fleet's emails and tenant names have) lets `column = ?` use its index; the
 * `LOWER()` test beside it keeps the match exact (that collation also equates
 * é and e). Elsewhere `LOWER(column) = ?`.
 */
export function whereCaseless(db: Knex, query: Knex.QueryBuilder, column: string, value: string): Knex.QueryBuilder {
  const lower = value.toLowerCase()
  if (db.client.config.client === 'mysql2') return query.where((q) => q.where(column, lower).andWhereRaw('LOWER(??) = ?', [column, lower]))
  return query.whereRaw('LOWER(??) = ?', [column, lower])
}

/** Rows of `users` (or the routing directory) whose email is `email`, whatever case the app stored it in: see `whereCaseless`. */
export function whereEmail(db: Knex, query: Knex.QueryBuilder, email: string): Knex.QueryBuilder {
  return whereCaseless(db, query, 'email', email)
}

/** The escape character of `likePattern`'s patterns: give it as `ESCAPE ?`. */
export const USER_LIKE_ESCAPE = '!'

/** A LIKE pattern for "contains `text`", lower-cased, with `%`, `_` and `!` taken literally. */
export function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `${USER_LIKE_ESCAPE}${c}`)}%`
}

/** One RDS's work, as `onEachRds` reports it. */
export type RdsOutcome<T> = {rds: RdsConnectionRow; ok: true; value: T; ms: number} | {rds: RdsConnectionRow; ok: false; error: string; ms: number}

/**
 * Runs `work` on each RDS's RAI database at once, each within `timeoutMs`
 * (connecting included): a server down or silent costs its deadline and is
 * reported as one line naming the cause (no secret), never thrown; the others'
 * results are kept. A server past its deadline is given up (its sockets cut).
 */
export async function onEachRds<T>(
  ctx: OpsContext,
  servers: readonly RdsConnectionRow[],
  timeoutMs: number,
  work: (db: Knex, rds: RdsConnectionRow, queryTimeoutMs: number) => Promise<T>,
): Promise<Array<RdsOutcome<T>>> {
  if (servers.some((row) => row.password_enc)) await ctx.keyring()
  const outcomes = await fanOut(
    servers,
    async (row, signal) => {
      const started = performance.now()
      try {
        const db = await ctx.fleet.get(await connectionSpecFor(ctx, row))
        return await work(db, row, Math.max(1, Math.round(timeoutMs - (performance.now() - started))))
      } catch (error) {
        throw new Error(describeDriverError(signal.aborted ? signal.reason : error, {quietMs: ctx.fleet.quietMs(Number(row.id)), rds: row.name}))
      }
    },
    {concurrency: Math.max(1, Math.min(servers.length, 64)), deadlineMs: timeoutMs},
  )
  return outcomes.map((outcome): RdsOutcome<T> => {
    if (outcome.ok) return {rds: outcome.item, ok: true, value: outcome.value, ms: outcome.ms}
    const id = Number(outcome.item.id)
    const error = outcome.timedOut ? describeDriverError(new DeadlineError(timeoutMs), {quietMs: ctx.fleet.quietMs(id)}) : outcome.error
    if (outcome.timedOut) ctx.fleet.abandon(id)
    return {rds: outcome.item, ok: false, error, ms: outcome.ms}
  })
}
