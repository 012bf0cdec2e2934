import type {Knex} from 'knex'

import type {OpsContext} from '../context.js'
import {RDS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {NotFoundError, UserError} from '../errors/index.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {onServer} from '../tenant/status-change.js'
import {requireMaster} from '../tenant/suspend.js'
import {idOf, normaliseEmail, onEachRds, whereEmail} from '../user/fleet-users.js'
import {costOf} from './bcrypt.js'
import {HashGroups, hashOf} from './hashes.js'

/**
 * password:check: whether the hashes of a person's user rows (one per tenant,
 * on each tenant's RDS) and of their routing rows (on the master) agree. The
 * hashes are read into memory to be compared and never returned: a result
 * names groups (`A`, `B`…) and bcrypt costs only.
 */

/**
 * One tenant's verdict:
 * - `in step`: the user row's hash is the routing row's;
 * - `differs`: both have a hash, not the same one;
 * - `no password`: the routing row's or the user row's hash is NULL or empty;
 * - `no user row`: the routing row points at a user id its RDS does not have;
 * - `RDS unavailable`: the RDS could not be read (or is not registered).
 */
export type PasswordState = 'in step' | 'differs' | 'no password' | 'no user row' | 'RDS unavailable'

export interface PasswordCheckTenant {
  /** The tenant as RDS:REMOTE_TENANT_ID. */
  tenant: string
  tenantName: string | null
  rdsId: number | null
  rdsName: string | null
  remoteTenantId: number | null
  userId: number | null
  /** The routing row's status. */
  routingStatus: string | null
  state: PasswordState
  /** The group of the routing row's hash (A, B…), null without one. */
  routingPassword: string | null
  /** The group of the user row's hash, null without one (or no row read). */
  userPassword: string | null
  /** bcrypt costs ($2y$12$ → 12); null when the hash is none or not bcrypt. */
  routingCost: number | null
  userCost: number | null
  /** What else in the rows breaks the fleet contract, or why the RDS could not be read. */
  problems: string[]
}

/** How a server answered. */
export interface ServerRead {
  id: number
  name: string
  ok: boolean
  /** Why it could not be read (no secret). */
  error: string | null
  ms: number
}

export interface EmailPasswordCheck {
  kind: 'email'
  email: string
  master: ServerRead
  /** Each tenant RDS read (one query each). */
  servers: ServerRead[]
  tenants: PasswordCheckTenant[]
  /** How many distinct hashes the rows hold (groups A, B…). */
  passwords: number
  /** Every row in step, one password, nothing broken. */
  inStep: boolean
  /** Tenants whose RDS could not be read; with the master down, every tenant is unknown. */
  unavailable: number
}

/** One multi-tenant email out of sync, with --all. */
export interface PasswordDrift {
  email: string
  tenants: number
  /** Distinct hashes among its routing rows and user rows. */
  passwords: number
  /** The RDS holding its rows that are out of step (or unreadable). */
  servers: string[]
  /** What is out of sync: `routing rows hold 2 passwords`, `user row differs on west:3`, … */
  reasons: string[]
}

export interface FleetPasswordCheck {
  kind: 'fleet'
  master: ServerRead
  servers: ServerRead[]
  /** Emails with routing rows on more than one tenant. */
  multiTenantEmails: number
  /** Routing rows of those emails. */
  routingRows: number
  outOfSync: number
  /** Emails with a row on an RDS that could not be read and nothing else wrong: not known to be in step. */
  unchecked: number
  /** Out-of-sync emails per RDS, by name (the master's routing rows count under the RDS they route to). */
  byServer: Array<{name: string; outOfSync: number}>
  /** Routing rows with a NULL email (they route nobody). */
  nullEmailRows: number
  /** The out-of-sync emails, sorted, at most `limit`. */
  drifted: PasswordDrift[]
  limit: number
  unavailable: number
}

export type PasswordCheck = EmailPasswordCheck | FleetPasswordCheck

export interface PasswordCheckInput {
  /** One person's email, or every multi-tenant email with `all`. */
  email?: string
  all?: boolean
  /** Per server, ms, connecting included. */
  timeoutMs: number
  /** --all: how many out-of-sync emails to list. */
  limit?: number
}

/** Routing rows as the master holds them. */
interface RoutingRow {
  id: number
  email: string | null
  tenantId: number | null
  rdsId: number | null
  userId: number | null
  status: string | null
  hash: string | null
}

/** A user row as compared. */
interface UserRow {
  tenantId: number | null
  email: string | null
  hash: string | null
}

/** User ids per IN list: the lists are integers written into the statement, so no engine's bind-parameter limit applies. */
const IDS_PER_QUERY = 100_000

export async function checkPasswords(ctx: OpsContext, input: PasswordCheckInput): Promise<PasswordCheck> {
  if (input.all && input.email !== undefined) throw new UserError('give an email or --all, not both', {hint: 'password:check EMAIL, or password:check --all'})
  if (!input.all && input.email === undefined)
    throw new UserError('give an email, or --all for every multi-tenant email', {hint: 'password:check ana@example.com'})
  return input.all ? checkFleet(ctx, input) : checkEmail(ctx, {...input, email: input.email as string})
}

const toRouting = (r: Record<string, unknown>): RoutingRow => ({
  id: Number(r.id),
  email: r.email === null || r.email === undefined ? null : String(r.email).toLowerCase(),
  tenantId: idOf(r.tenant_id),
  rdsId: idOf(r.rds_instance_id),
  userId: idOf(r.user_id),
  status: r.status === null || r.status === undefined ? null : String(r.status),
  hash: hashOf(r.password_hash),
})

const read = (rds: {id: number | string; name: string}, ok: boolean, error: string | null, ms: number): ServerRead => ({
  id: Number(rds.id),
  name: rds.name,
  ok,
  error,
  ms: Math.round(ms),
})

/** The master's routing rows read by `work` (given the statement time limit), with how the master answered. */
async function readMaster(ctx: OpsContext, timeoutMs: number, work: (db: Knex, queryTimeoutMs: number) => Promise<Array<Record<string, unknown>>>) {
  const master = await requireMaster(ctx)
  const started = performance.now()
  const outcome = await onServer(ctx, master, timeoutMs, async (db) => (await work(db, timeoutMs)).map(toRouting))
  const answer = read(master, outcome.ok, outcome.ok ? null : outcome.error, performance.now() - started)
  return {master: answer, rows: outcome.ok ? outcome.value : null}
}

const ROUTING_COLUMNS = ['id', 'email', 'tenant_id', 'rds_instance_id', 'user_id', 'status', 'password_hash'] as const

/** Multi-tenant emails per IN list on MySQL/MariaDB. */
const EMAILS_PER_QUERY = 50_000

/**
 * The routing rows of every email routed to more than one tenant, and those
 * with a NULL email. MySQL/MariaDB: the emails grouped (the one GROUP BY),
 * then their rows through the email index (its case-insensitive collation
 * finds every case; the exact lower-cased match is kept here), as a join on
 * the grouped emails runs as a nested loop there. Elsewhere one statement, the
 * grouped emails as a semi-join.
 */
async function multiTenantRouting(db: Knex, queryTimeoutMs: number): Promise<Array<Record<string, unknown>>> {
  const grouped = () => db('user_email_routing').select(db.raw('LOWER(email) AS e')).whereNotNull('email').groupByRaw('LOWER(email)').havingRaw('COUNT(*) > 1')
  const nullEmail = (await db('user_email_routing')
    .select(...ROUTING_COLUMNS)
    .whereNull('email')
    .timeout(queryTimeoutMs)) as Array<Record<string, unknown>>
  if (db.client.config.client !== 'mysql2') {
    const rows = (await db('user_email_routing')
      .select(...ROUTING_COLUMNS)
      .whereIn(db.raw('LOWER(email)') as unknown as string, grouped())
      .timeout(queryTimeoutMs)) as Array<Record<string, unknown>>
    return [...rows, ...nullEmail]
  }
  // COUNT(DISTINCT …) beside it makes MariaDB group by sorting, as the drift query does, not through a temporary table keyed by the email (several times slower on a million rows).
  const emails = (
    (await db('user_email_routing')
      .select(db.raw('LOWER(email) AS e'), db.raw('COUNT(DISTINCT password_hash) AS h'))
      .groupByRaw('LOWER(email)')
      .havingRaw('COUNT(*) > 1')
      .timeout(queryTimeoutMs)) as Array<{e: unknown}>
  )
    .filter((r) => r.e !== null && r.e !== undefined)
    .map((r) => String(r.e))
  const wanted = new Set(emails)
  const rows: Array<Record<string, unknown>> = []
  for (let i = 0; i < emails.length; i += EMAILS_PER_QUERY) {
    const found = (await db('user_email_routing')
      .select(...ROUTING_COLUMNS)
      .whereIn('email', emails.slice(i, i + EMAILS_PER_QUERY))
      .timeout(queryTimeoutMs)) as Array<Record<string, unknown>>
    for (const r of found) if (wanted.has(String(r.email).toLowerCase())) rows.push(r)
  }
  return [...rows, ...nullEmail]
}

/** Every registered RDS by id. */
async function registeredRds(ctx: OpsContext): Promise<Map<number, RdsInstanceRow>> {
  return new Map(((await ctx.db(RDS_TABLE).select('*')) as RdsInstanceRow[]).map((r) => [Number(r.id), r]))
}

/** User rows by id of each RDS, one query per IN list of ids (one for up to IDS_PER_QUERY users). */
async function readUsers(ctx: OpsContext, rows: RoutingRow[], registry: Map<number, RdsInstanceRow>, timeoutMs: number) {
  const idsByRds = new Map<number, Set<number>>()
  for (const r of rows) {
    if (r.rdsId === null || r.userId === null || !registry.has(r.rdsId)) continue
    let ids = idsByRds.get(r.rdsId)
    if (!ids) idsByRds.set(r.rdsId, (ids = new Set()))
    ids.add(r.userId)
  }
  const servers = [...idsByRds.keys()].map((id) => registry.get(id) as RdsInstanceRow)
  const outcomes = await onEachRds(ctx, servers, timeoutMs, async (db, rds, queryTimeoutMs) => {
    const ids = [...(idsByRds.get(Number(rds.id)) as Set<number>)].sort((a, b) => a - b)
    const users = new Map<number, UserRow>()
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const chunk = ids.slice(i, i + IDS_PER_QUERY)
      const found = (await db('users')
        .select('id', 'tenant_id', 'email', 'password')
        .whereRaw(`id IN (${chunk.join(',')})`)
        .timeout(queryTimeoutMs)) as Array<Record<string, unknown>>
      for (const u of found)
        users.set(Number(u.id), {
          tenantId: idOf(u.tenant_id),
          email: u.email === null || u.email === undefined ? null : String(u.email),
          hash: hashOf(u.password),
        })
    }
    return users
  })
  return {
    servers: outcomes.map((o) => read(o.rds, o.ok, o.ok ? null : o.error, o.ms)),
    users: new Map(outcomes.map((o) => [Number(o.rds.id), o.ok ? o.value : o.error])),
  }
}

/** How one routing row compares with its user row; `groups` labels the hashes. */
function compareRow(
  r: RoutingRow,
  registry: Map<number, RdsInstanceRow>,
  users: Map<number, Map<number, UserRow> | string>,
  groups: HashGroups,
): Pick<PasswordCheckTenant, 'state' | 'routingPassword' | 'userPassword' | 'routingCost' | 'userCost' | 'problems'> {
  const problems: string[] = []
  const routing = {routingPassword: groups.of(r.hash), routingCost: costOf(r.hash)}
  if (r.hash === null) problems.push('routing password_hash is NULL or empty')
  else if (routing.routingCost === null) problems.push('routing password_hash is not a bcrypt hash')
  const onRds = r.rdsId === null ? undefined : users.get(r.rdsId)
  if (r.rdsId === null || r.userId === null || !registry.has(r.rdsId) || onRds === undefined || typeof onRds === 'string') {
    const why =
      r.rdsId === null
        ? 'the routing row names no RDS'
        : !registry.has(r.rdsId)
          ? `RDS ${r.rdsId} is not registered`
          : r.userId === null
            ? 'the routing row names no user'
            : String(onRds)
    const noUser = r.rdsId !== null && registry.has(r.rdsId) && r.userId === null
    return {state: noUser ? 'no user row' : 'RDS unavailable', ...routing, userPassword: null, userCost: null, problems: [...problems, why]}
  }
  const user = onRds.get(r.userId)
  if (!user) return {state: 'no user row', ...routing, userPassword: null, userCost: null, problems: [...problems, `no user ${r.userId} on its RDS`]}
  const userSide = {userPassword: groups.of(user.hash), userCost: costOf(user.hash)}
  if (user.hash === null) problems.push('user password is NULL or empty')
  else if (userSide.userCost === null) problems.push('user password is not a bcrypt hash')
  if (user.tenantId !== r.tenantId) problems.push(`user ${r.userId} belongs to tenant ${user.tenantId ?? 'NULL'}, not ${r.tenantId ?? 'NULL'}`)
  if (user.email === null) problems.push('user email is NULL')
  else if (r.email !== null && user.email.toLowerCase() !== r.email) problems.push(`user ${r.userId} has another email`)
  const state: PasswordState = r.hash === null || user.hash === null ? 'no password' : r.hash === user.hash ? 'in step' : 'differs'
  return {state, ...routing, ...userSide, problems}
}

async function checkEmail(ctx: OpsContext, input: PasswordCheckInput & {email: string}): Promise<EmailPasswordCheck> {
  const email = normaliseEmail(input.email)
  const {master, rows} = await readMaster(ctx, input.timeoutMs, async (db, queryTimeoutMs) =>
    whereEmail(db, db('user_email_routing').select(...ROUTING_COLUMNS), email)
      .orderBy('id')
      .timeout(queryTimeoutMs),
  )
  if (rows === null) return {kind: 'email', email, master, servers: [], tenants: [], passwords: 0, inStep: false, unavailable: 0}
  if (rows.length === 0)
    throw new NotFoundError(`no routing entry for ${email} on the master RDS ${master.name}`, {
      hint: `\`raiops user:find ${email} --live\` shows where users with it exist`,
    })
  const registry = await registeredRds(ctx)
  const {servers, users} = await readUsers(ctx, rows, registry, input.timeoutMs)
  const names = await tenantNames(ctx, rows)
  const groups = new HashGroups()
  const tenants = rows.map((r): PasswordCheckTenant => {
    const rdsName = r.rdsId === null ? null : (registry.get(r.rdsId)?.name ?? null)
    return {
      tenant: `${rdsName ?? r.rdsId ?? '?'}:${r.tenantId ?? '?'}`,
      tenantName: names.get(`${r.rdsId}:${r.tenantId}`) ?? null,
      rdsId: r.rdsId,
      rdsName,
      remoteTenantId: r.tenantId,
      userId: r.userId,
      routingStatus: r.status,
      ...compareRow(r, registry, users, groups),
    }
  })
  const unavailable = tenants.filter((t) => t.state === 'RDS unavailable').length
  const inStep = groups.size === 1 && tenants.every((t) => t.state === 'in step' && t.problems.length === 0)
  return {kind: 'email', email, master, servers, tenants, passwords: groups.size, inStep, unavailable}
}

/** Tenant names from the registry, by RDS:REMOTE_TENANT_ID. */
async function tenantNames(ctx: OpsContext, rows: RoutingRow[]): Promise<Map<string, string>> {
  const remote = [...new Set(rows.map((r) => r.tenantId).filter((id): id is number => id !== null))]
  if (remote.length === 0) return new Map()
  const found = await ctx.db(TENANT_MASTER_TABLE).select('name', 'rds_instance_id', 'remote_tenant_id').whereIn('remote_tenant_id', remote)
  return new Map(found.map((t) => [`${Number(t.rds_instance_id)}:${Number(t.remote_tenant_id)}`, String(t.name)]))
}

/**
 * --all: on the master, the routing rows of every email routed to more than
 * one tenant (multiTenantRouting: a constant number of statements, one more
 * per 50,000 such emails on MySQL), on each RDS the user rows they name, by
 * id (one statement per 100,000), compared in memory.
 */
async function checkFleet(ctx: OpsContext, input: PasswordCheckInput): Promise<FleetPasswordCheck> {
  const limit = input.limit ?? 50
  const {master, rows} = await readMaster(ctx, input.timeoutMs, multiTenantRouting)
  const empty = {kind: 'fleet', master, multiTenantEmails: 0, routingRows: 0, outOfSync: 0, unchecked: 0, nullEmailRows: 0, limit} as const
  if (rows === null) return {...empty, servers: [], byServer: [], drifted: [], unavailable: 0}
  const registry = await registeredRds(ctx)
  const routed = rows.filter((r) => r.email !== null)
  const {servers, users} = await readUsers(ctx, routed, registry, input.timeoutMs)
  const byEmail = new Map<string, RoutingRow[]>()
  for (const r of routed) {
    const list = byEmail.get(r.email as string)
    if (list) list.push(r)
    else byEmail.set(r.email as string, [r])
  }
  const drifted: PasswordDrift[] = []
  const perServer = new Map<string, number>()
  let unchecked = 0
  for (const [email, list] of byEmail) {
    list.sort((a, b) => a.id - b.id)
    const groups = new HashGroups()
    const routingGroups = new Set(list.map((r) => groups.of(r.hash)))
    const reasons: string[] = []
    const where = new Set<string>()
    if (routingGroups.size > 1) reasons.push(`routing rows hold ${routingGroups.size} passwords`)
    let unknown = false
    for (const r of list) {
      const compared = compareRow(r, registry, users, groups)
      const rdsName = r.rdsId === null ? '?' : (registry.get(r.rdsId)?.name ?? String(r.rdsId))
      const tenant = `${rdsName}:${r.tenantId ?? '?'}`
      if (compared.state === 'RDS unavailable') unknown = true
      else if (compared.state !== 'in step') reasons.push(`${compared.state === 'differs' ? 'user row differs' : compared.state} on ${tenant}`)
      else if (compared.problems.length > 0) reasons.push(`${compared.problems.join(', ')} on ${tenant}`)
      else continue
      where.add(rdsName)
    }
    if (routingGroups.size > 1) for (const r of list) where.add(r.rdsId === null ? '?' : (registry.get(r.rdsId)?.name ?? String(r.rdsId)))
    if (reasons.length === 0) {
      if (unknown) unchecked++
      continue
    }
    const names = [...where].sort()
    for (const name of names) perServer.set(name, (perServer.get(name) ?? 0) + 1)
    drifted.push({email, tenants: list.length, passwords: groups.size, servers: names, reasons})
  }
  drifted.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0))
  return {
    ...empty,
    servers,
    multiTenantEmails: byEmail.size,
    routingRows: routed.length,
    outOfSync: drifted.length,
    unchecked,
    byServer: [...perServer].map(([name, outOfSync]) => ({name, outOfSync})).sort((a, b) => a.name.localeCompare(b.name)),
    nullEmailRows: rows.length - routed.length,
    drifted: drifted.slice(0, limit),
    unavailable: servers.filter((s) => !s.ok).length,
  }
}
