import type {Knex} from 'knex'

import {appendAudit, appendAudits, lockForChange, type AuditEntry} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {retryOnDeadlock} from '../db/retry.js'
import {RDS_TABLE, ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {messageOf, NotFoundError, NotPermittedError, UserError} from '../errors/index.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {rememberSecret} from '../redact/index.js'
import {getTenant} from '../tenant/reference.js'
import {fleetTime, onServer, validReason, type SideStatus} from '../tenant/status-change.js'
import {requireMaster} from '../tenant/suspend.js'
import {normaliseEmail, whereEmail} from '../user/fleet-users.js'
import {asLaravelHash, costOf, fleetCost, hashPassword, MAX_COST, passwordProblem, usableCost, verifyPassword} from './bcrypt.js'

/**
 * password:sync: one bcrypt hash written to every user row of a person (by
 * email) across the fleet's RDS and to every routing entry of theirs on the
 * master. Like the status changes (lib/tenant/status-change.ts): a plan read
 * from the servers first, then each RDS's rows (concurrently, one statement
 * each), then the master's, then the audit entries; every UPDATE is conditional
 * on the hash the plan read. A row that already holds the hash being written is
 * done; with a new password, a hash of the person's that already verifies it is
 * the one written everywhere, so a run after a partial one writes only what is
 * left and the person ends with one hash. Neither a password nor a hash is ever
 * in the result, an error or an audit value.
 */

export type PasswordSyncMode =
  /** The person's current password must match one of their hashes first. */
  | {kind: 'current'; current: string; password: string}
  /** An operator sets a new password. */
  | {kind: 'reset'; password: string}
  /** The hash of the person's user on this tenant (a reference as getTenant takes it) is copied everywhere. */
  | {kind: 'from-tenant'; tenant: string}

export interface PasswordSyncInput {
  email: string
  mode: PasswordSyncMode
  reason: string
  dryRun?: boolean
  /** Each server's reads and writes, ms. */
  timeoutMs: number
  /** Shown the plan before anything is written; false: nothing is written (UserError). */
  confirm?: (plan: PasswordSync) => Promise<boolean>
}

export const PASSWORD_SYNC_ACTION = 'user.password-sync'

export interface PasswordTenant {
  rdsId: number
  rdsName: string
  remoteTenantId: number
  /** raiops' tenant_master id and name; null when raiops' registry does not know it. */
  id: number | null
  name: string | null
}

export type RowOutcome = 'planned' | 'written' | 'unchanged' | 'failed' | 'changed since the plan'

/** One row holding a hash of the person's: which server, table and row, and whether its hash differs from the one written. */
export interface PasswordRow {
  server: {id: number; name: string}
  table: 'users' | 'user_email_routing'
  id: number
  tenant: PasswordTenant
  hash: 'differs' | 'same'
  outcome: RowOutcome
}

/** What was read from and written to one server. */
export interface PasswordServer {
  server: {id: number; name: string}
  table: 'users' | 'user_email_routing'
  status: SideStatus
  rows: number
  error: string | null
}

export interface PasswordSync {
  action: typeof PASSWORD_SYNC_ACTION
  email: string
  mode: PasswordSyncMode['kind']
  reason: string
  dryRun: boolean
  /** The cost of the hash written (the person's most common one, else 12). */
  cost: number | null
  /** --from-tenant: the tenant whose hash is copied. */
  source: PasswordTenant | null
  master: {id: number; name: string}
  rows: PasswordRow[]
  servers: PasswordServer[]
  /** The tenants where a row still holds another hash (a server down, a row changed since the plan), and which tables. */
  pending: Array<{tenant: PasswordTenant; tables: Array<PasswordRow['table']>}>
  control: {status: SideStatus; error: string | null; auditIds: number[]}
  notes: string[]
  auditIds: number[]
  /** False when a row is left with another hash or a side failed: the command exits 3. */
  complete: boolean
}

/** A row as read, with its hash (kept here, never in the result). */
interface Held {
  row: PasswordRow
  hash: string | null
  rds: RdsInstanceRow | null
}

interface Target {
  rdsId: number
  remoteTenantId: number
  userId: number
}

const ref = (rds: RdsInstanceRow) => ({id: Number(rds.id), name: rds.name})
const key = (rdsId: number, tenantId: number) => `${rdsId}:${tenantId}`

function checkedMode(mode: PasswordSyncMode): PasswordSyncMode {
  if (mode.kind === 'from-tenant') return mode
  const problem = passwordProblem(mode.password)
  if (problem) throw new UserError(problem, {hint: 'nothing was changed'})
  rememberSecret(mode.password)
  if (mode.kind === 'current') {
    if (mode.current === '') throw new UserError('the current password is empty', {hint: 'give the password the person uses now'})
    rememberSecret(mode.current)
  }
  return mode
}

/** The person's routing entries on the master: the tenants to reach and the entries' hashes; null when the master cannot be read. */
async function readRouting(ctx: OpsContext, master: RdsInstanceRow, email: string, timeoutMs: number) {
  return onServer(ctx, master, timeoutMs, async (db) => {
    const rows = (await db('user_email_routing')
      .select('id', 'tenant_id', 'rds_instance_id', 'user_id', 'password_hash')
      .whereRaw('LOWER(email) = ?', [email])
      .orderBy('id')) as Array<Record<string, unknown>>
    return rows.map((r) => ({
      id: Number(r.id),
      target: {rdsId: Number(r.rds_instance_id), remoteTenantId: Number(r.tenant_id), userId: Number(r.user_id)},
      hash: (r.password_hash as string | null) ?? null,
    }))
  })
}

/** Conditional UPDATE of `rows` to `hash`, one statement (its own transaction): each row only while it holds the hash the plan read. Returns the ids written. */
async function writeRows(db: Knex, table: PasswordRow['table'], rows: Held[], hash: string, updatedAt: string): Promise<Set<number>> {
  const column = table === 'users' ? 'password' : 'password_hash'
  const byOld = new Map<string | null, number[]>()
  for (const h of rows) byOld.set(h.hash, [...(byOld.get(h.hash) ?? []), h.row.id])
  const ids = rows.map((h) => h.row.id)
  const written = Number(
    await db(table)
      .where((all) => {
        for (const [old, group] of byOld) all.orWhere((q) => (old === null ? q.whereNull(column) : q.where(column, old)).whereIn('id', group))
      })
      .update({[column]: hash, updated_at: updatedAt}),
  )
  if (written === ids.length) return new Set(ids)
  const now = (await db(table).select('id', column).whereIn('id', ids)) as Array<Record<string, unknown>>
  return new Set(now.filter((r) => r[column] === hash).map((r) => Number(r.id)))
}

/**
 * Writes one bcrypt hash (`$2y$`, computed once at the fleet's cost, or copied
 * from a tenant) to every user row and routing entry of the person with this
 * email; see the module's comment. Bad input, an unknown email or a tenant not
 * the person's is exit 2 with nothing written; a current password that matches
 * none of the person's hashes is audited and refused (exit 5).
 */
export async function syncPassword(ctx: OpsContext, input: PasswordSyncInput): Promise<PasswordSync> {
  const email = normaliseEmail(input.email)
  const reason = validReason(input.reason, "why the person's password is synced")
  const mode = checkedMode(input.mode)
  const master = await requireMaster(ctx)
  const result: PasswordSync = {
    action: PASSWORD_SYNC_ACTION,
    email,
    mode: mode.kind,
    reason,
    dryRun: input.dryRun ?? false,
    cost: null,
    source: null,
    master: ref(master),
    rows: [],
    servers: [],
    pending: [],
    control: {status: 'skipped', error: null, auditIds: []},
    notes: [],
    auditIds: [],
    complete: false,
  }
  const registry = (await ctx.db(RDS_TABLE).select()) as RdsInstanceRow[]
  if (registry.some((r) => r.password_enc)) await ctx.keyring()
  const rdsById = new Map(registry.map((r) => [Number(r.id), r]))

  // (1) The plan: the person's routing entries (the cache's tenants when the master cannot be read), then each RDS's user rows.
  const routing = await readRouting(ctx, master, email, input.timeoutMs)
  let targets: Target[]
  if (routing.ok) targets = routing.value.map((r) => r.target)
  else {
    const cached = (await ctx.db(ROUTING_CACHE_TABLE).select('rds_instance_id', 'remote_tenant_id', 'remote_user_id').where({email})) as Array<
      Record<string, unknown>
    >
    targets = cached.map((r) => ({rdsId: Number(r.rds_instance_id), remoteTenantId: Number(r.remote_tenant_id), userId: Number(r.remote_user_id)}))
    result.notes.push(`the master RDS "${master.name}" could not be read (${routing.error}): the tenants were taken from raiops' routing cache`)
    result.servers.push({server: ref(master), table: 'user_email_routing', status: 'failed', rows: 0, error: routing.error})
  }
  if (targets.length === 0)
    throw new NotFoundError(`no tenant has a user with the email ${email}`, {hint: 'check the address; `raiops user:find EMAIL` searches the fleet'})
  // With a new password, its hash is started now, at the routing entries' cost, and computed while the rest of the plan is read.
  const early = mode.kind !== 'from-tenant' && routing.ok ? startHash(mode.password, fleetCost(routing.value.map((r) => r.hash))) : null

  const names = new Map<string, {id: number; name: string}>()
  for (const t of (await ctx
    .db(TENANT_MASTER_TABLE)
    .select('id', 'name', 'rds_instance_id', 'remote_tenant_id')
    .whereIn('rds_instance_id', [...new Set(targets.map((t) => t.rdsId))])) as Array<Record<string, unknown>>)
    names.set(key(Number(t.rds_instance_id), Number(t.remote_tenant_id)), {id: Number(t.id), name: String(t.name)})
  const tenantOf = (rdsId: number, remoteTenantId: number): PasswordTenant => {
    const known = names.get(key(rdsId, remoteTenantId))
    return {rdsId, rdsName: rdsById.get(rdsId)?.name ?? `#${rdsId}`, remoteTenantId, id: known?.id ?? null, name: known?.name ?? null}
  }

  if (mode.kind === 'from-tenant') {
    const tenant = await getTenant(ctx.db, mode.tenant)
    if (!targets.some((t) => t.rdsId === tenant.rdsInstanceId && t.remoteTenantId === tenant.remoteTenantId))
      throw new UserError(`tenant ${tenant.remoteTenantId} ("${tenant.name}") is not one of the tenants ${email} has a user in`, {
        hint: '`raiops user:find EMAIL` lists them',
      })
    result.source = tenantOf(tenant.rdsInstanceId, tenant.remoteTenantId)
  }

  const held: Held[] = []
  if (routing.ok)
    for (const r of routing.value)
      held.push({
        row: {
          server: ref(master),
          table: 'user_email_routing',
          id: r.id,
          tenant: tenantOf(r.target.rdsId, r.target.remoteTenantId),
          hash: 'differs',
          outcome: 'planned',
        },
        hash: r.hash,
        rds: master,
      })
  const byRds = new Map<number, Target[]>()
  for (const t of targets) byRds.set(t.rdsId, [...(byRds.get(t.rdsId) ?? []), t])
  const failedRds = new Set<number>()
  /** Tenants whose rows on a server could not even be read: left as they are. */
  const unread: Array<{tenant: PasswordTenant; table: PasswordRow['table']}> = []
  if (!routing.ok) for (const t of targets) unread.push({tenant: tenantOf(t.rdsId, t.remoteTenantId), table: 'user_email_routing'})
  await Promise.all(
    [...byRds].map(async ([rdsId, group]) => {
      const rds = rdsById.get(rdsId)
      const tenants = [...new Set(group.map((t) => t.remoteTenantId))]
      if (!rds) {
        result.notes.push(`RDS #${rdsId} of the routing entries is not in raiops' registry: its tenants are left as they are`)
        failedRds.add(rdsId)
        unread.push(...tenants.map((t) => ({tenant: tenantOf(rdsId, t), table: 'users' as const})))
        return
      }
      const read = await onServer(ctx, rds, input.timeoutMs, async (db) => {
        const query = db('users').select('id', 'tenant_id', 'password').whereIn('tenant_id', tenants)
        return (await whereEmail(db, query, email).orderBy('id')) as Array<Record<string, unknown>>
      })
      if (!read.ok) {
        failedRds.add(rdsId)
        unread.push(...tenants.map((t) => ({tenant: tenantOf(rdsId, t), table: 'users' as const})))
        result.servers.push({server: ref(rds), table: 'users', status: 'failed', rows: 0, error: read.error})
        return
      }
      for (const u of read.value)
        held.push({
          row: {server: ref(rds), table: 'users', id: Number(u.id), tenant: tenantOf(rdsId, Number(u.tenant_id)), hash: 'differs', outcome: 'planned'},
          hash: (u.password as string | null) ?? null,
          rds,
        })
      for (const t of tenants)
        if (!read.value.some((u) => Number(u.tenant_id) === t))
          result.notes.push(`tenant ${t} on RDS "${rds.name}" has no user with the email ${email} (its routing entry names one): nothing to write there`)
    }),
  )
  held.sort((a, b) => a.row.table.localeCompare(b.row.table) || a.row.server.id - b.row.server.id || a.row.id - b.row.id)
  result.rows = held.map((h) => h.row)

  // (2) The hash written: copied from the source tenant, or a hash of the person's that already verifies the new password, or a new one.
  let target: string
  if (mode.kind === 'from-tenant') {
    const source = result.source as PasswordTenant
    if (failedRds.has(source.rdsId)) {
      result.notes.push(`the source tenant's RDS "${source.rdsName}" could not be read: nothing was written`)
      return finish(result, unread)
    }
    const row = held.find((h) => h.row.table === 'users' && h.row.tenant.rdsId === source.rdsId && h.row.tenant.remoteTenantId === source.remoteTenantId)
    if (!row) throw new UserError(`the source tenant has no user with the email ${email}`, {hint: 'choose another tenant with --from-tenant'})
    if (costOf(row.hash) === null)
      throw new UserError(`the password of ${email} on the source tenant is not a bcrypt hash: there is nothing to copy`, {
        hint: 'choose another tenant, or set a new password with --reset',
      })
    if (usableCost(row.hash) === null)
      throw new UserError(
        `the password hash of ${email} on the source tenant claims cost ${costOf(row.hash)}, more than ${MAX_COST}: it is damaged, and copied it would make every login of the person hang`,
        {hint: 'choose another tenant, or set a new password with --reset'},
      )
    // A `$2b$` source is written as `$2y$` (the same hash), the source's row included: Laravel refuses `$2b$`.
    target = asLaravelHash(row.hash as string)
  } else {
    target = await chooseHash(ctx, result, mode, held, early)
  }
  result.cost = costOf(target)
  for (const h of held) {
    h.row.hash = h.hash === target ? 'same' : 'differs'
    h.row.outcome = h.row.hash === 'same' ? 'unchanged' : 'planned'
  }
  if (result.dryRun) return finish(result, unread)
  const differing = held.filter((h) => h.row.hash === 'differs')
  if (differing.length > 0 && input.confirm && !(await input.confirm(finish(result, unread)))) throw new UserError('cancelled: nothing was changed')

  // (3) Each RDS's user rows, concurrently; then (4) the routing entries of the tenants whose user rows are done.
  const now = ctx.now()
  const updatedAt = fleetTime(now)
  const write = async (rds: RdsInstanceRow, table: PasswordRow['table'], rows: Held[]) => {
    if (rows.length === 0) return
    const done = await onServer(ctx, rds, input.timeoutMs, (db) => writeRows(db, table, rows, target, updatedAt))
    for (const h of rows) h.row.outcome = !done.ok ? 'failed' : done.value.has(h.row.id) ? 'written' : 'changed since the plan'
    const written = rows.filter((h) => h.row.outcome === 'written').length
    result.servers.push({
      server: ref(rds),
      table,
      status: !done.ok ? 'failed' : written > 0 ? 'changed' : 'unchanged',
      rows: written,
      error: done.ok ? (written < rows.length ? `${rows.length - written} row(s) changed since the plan: run again` : null) : done.error,
    })
  }
  const users = differing.filter((h) => h.row.table === 'users')
  await Promise.all(
    [...new Set(users.map((h) => h.rds as RdsInstanceRow))].map((rds) =>
      write(
        rds,
        'users',
        users.filter((h) => h.rds === rds),
      ),
    ),
  )
  const inStep = (t: PasswordTenant) =>
    !failedRds.has(t.rdsId) &&
    held.every((h) => h.row.table !== 'users' || h.row.tenant.rdsId !== t.rdsId || h.row.tenant.remoteTenantId !== t.remoteTenantId || isDone(h.row))
  const routed = differing.filter((h) => h.row.table === 'user_email_routing')
  for (const h of routed) if (!inStep(h.row.tenant)) h.row.outcome = 'failed'
  await write(
    master,
    'user_email_routing',
    routed.filter((h) => h.row.outcome === 'planned'),
  )
  if (routed.some((h) => h.row.outcome === 'failed'))
    result.notes.push('the routing entries of tenants whose user rows are not written were left as they are: run again once their RDS is back')

  // (5) The audit entries, one per server changed, in one control-database transaction.
  const changed = result.servers.filter((s) => s.status === 'changed')
  if (changed.length > 0) {
    try {
      result.control = {status: 'changed', error: null, auditIds: await retryOnDeadlock(() => audit(ctx, result, held, now))}
    } catch (error) {
      result.control = {status: 'failed', error: `${messageOf(error)}: the rows above were changed but not audited`, auditIds: []}
    }
  }
  return finish(result, unread)
}

const isDone = (row: PasswordRow) => row.outcome === 'written' || row.outcome === 'unchanged'

/** A new hash started as soon as the routing entries tell the cost, so it is computed while the RDS are read. */
interface Early {
  cost: number
  hash: Promise<string>
}

function startHash(password: string, cost: number): Early {
  const hash = hashPassword(password, cost)
  hash.catch(() => undefined)
  return {cost, hash}
}

/**
 * The hash a new password gets: one of the person's hashes that verifies it
 * already (what a run left partial wrote), at the fleet's cost, on the most
 * rows; else a new one. A bcrypt check costs as much as a hash, so a hash is
 * checked only when it may be the new password's: with --reset, only when the
 * rows hold several hashes (a partial run always leaves several; one hash
 * everywhere is the state before or after a complete run, and is simply
 * replaced); with a current password, a hash that verifies the current one is
 * not also checked against the new one. With a current password, one of the
 * hashes must verify it (or the new one) first, else the refusal is audited
 * and thrown.
 */
async function chooseHash(
  ctx: OpsContext,
  result: PasswordSync,
  mode: Exclude<PasswordSyncMode, {kind: 'from-tenant'}>,
  held: Held[],
  early: Early | null,
): Promise<string> {
  const rowsOf = new Map<string, number>()
  for (const h of held) if (h.hash !== null) rowsOf.set(h.hash, (rowsOf.get(h.hash) ?? 0) + 1)
  const distinct = [...rowsOf.keys()]
  const cost = fleetCost(held.map((h) => h.hash))
  const verifiesNew: string[] = []
  const verifiesCurrent: string[] = []
  for (const hash of distinct) {
    if (mode.kind === 'current' && mode.current !== mode.password && (await verifyPassword(mode.current, hash))) {
      verifiesCurrent.push(hash)
      continue
    }
    if ((mode.kind === 'current' || distinct.length > 1) && (await verifyPassword(mode.password, hash))) verifiesNew.push(hash)
  }
  if (mode.kind === 'current' && verifiesCurrent.length === 0 && verifiesNew.length === 0) {
    await refuse(ctx, result, distinct.length)
    throw new NotPermittedError(`the current password matches none of ${result.email}'s ${distinct.length} password hash(es): nothing was changed`, {
      hint: 'ask the person for the password they use now, or set one with --reset (needs user.password-reset)',
    })
  }
  const reuse = verifiesNew
    .filter((h) => h.startsWith('$2y$') && costOf(h) === cost)
    .sort((a, b) => (rowsOf.get(b) ?? 0) - (rowsOf.get(a) ?? 0) || (a < b ? -1 : 1))[0]
  if (reuse) {
    result.notes.push('one of the hashes already verifies the new password: it is the one written to the other rows')
    return reuse
  }
  return early && early.cost === cost ? early.hash : hashPassword(mode.password, cost)
}

/** The audit entry of a refused current password: who, which email, how many hashes were checked; never a password or a hash. */
async function refuse(ctx: OpsContext, result: PasswordSync, hashes: number): Promise<void> {
  const now = ctx.now()
  await retryOnDeadlock(() =>
    ctx.db.transaction(async (tx) => {
      await lockForChange(tx)
      await appendAudit(
        tx,
        ctx.audit,
        {
          action: `${PASSWORD_SYNC_ACTION}.refused`,
          targetType: 'user',
          targetId: result.email,
          newValues: {mode: result.mode, outcome: 'the current password matched none of the hashes', hashesChecked: hashes, reason: result.reason},
        },
        now,
      )
    }),
  )
}

const IDS_AUDITED = 100

/** The audit entries of a sync, one per server changed, appended together (appendAudits claims the chain's head first). */
async function audit(ctx: OpsContext, result: PasswordSync, held: Held[], now: Date): Promise<number[]> {
  const entries: AuditEntry[] = result.servers
    .filter((s) => s.status === 'changed')
    .map((side) => {
      const rows = held.filter((h) => h.row.outcome === 'written' && h.row.table === side.table && h.row.server.id === side.server.id).map((h) => h.row)
      const tenants = [...new Map(rows.map((r) => [key(r.tenant.rdsId, r.tenant.remoteTenantId), r.tenant])).values()]
      return {
        action: side.table === 'users' ? PASSWORD_SYNC_ACTION : `${PASSWORD_SYNC_ACTION}.routing`,
        targetType: 'user',
        targetId: result.email,
        rdsInstanceId: side.server.id,
        tenantMasterId: tenants.length === 1 ? tenants[0].id : null,
        oldValues: {server: side.server.name, table: side.table, password: 'another hash', rows: rows.length},
        newValues: {
          server: side.server.name,
          table: side.table,
          mode: result.mode,
          ...(result.source ? {source: {rds: result.source.rdsName, tenant: result.source.remoteTenantId}} : {}),
          cost: result.cost,
          rows: rows.length,
          ids: rows.map((r) => r.id).slice(0, IDS_AUDITED),
          tenants: tenants.map((t) => ({rds: t.rdsName, tenant: t.remoteTenantId, id: t.id})).slice(0, IDS_AUDITED),
          reason: result.reason,
        },
      }
    })
  return ctx.db.transaction(async (tx) => (await appendAudits(tx, ctx.audit, entries, now)).map((entry) => entry.id))
}

function finish(result: PasswordSync, unread: Array<{tenant: PasswordTenant; table: PasswordRow['table']}>): PasswordSync {
  const pending = new Map<string, {tenant: PasswordTenant; tables: Array<PasswordRow['table']>}>()
  const open = (tenant: PasswordTenant, table: PasswordRow['table']) => {
    const k = key(tenant.rdsId, tenant.remoteTenantId)
    const entry = pending.get(k) ?? {tenant, tables: []}
    if (!entry.tables.includes(table)) entry.tables.push(table)
    pending.set(k, entry)
  }
  for (const row of result.rows) if (!isDone(row)) open(row.tenant, row.table)
  // Tenants on a server that could not be read: their user rows are not even in the plan.
  for (const {tenant, table} of unread) open(tenant, table)
  result.pending = [...pending.values()].map((p) => ({...p, tables: p.tables.sort((a, b) => (a === 'users' ? -1 : b === 'users' ? 1 : 0))}))
  result.auditIds = [...result.control.auditIds]
  result.complete = !result.dryRun
    ? result.pending.length === 0 && result.servers.every((s) => s.status !== 'failed') && result.control.status !== 'failed'
    : result.servers.every((s) => s.status !== 'failed')
  return result
}
