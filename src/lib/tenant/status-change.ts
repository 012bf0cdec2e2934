import type {Knex} from 'knex'

import {appendAudit, lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {describeDriverError} from '../db/driver-errors.js'
import {retryOnDeadlock} from '../db/retry.js'
import {ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {DeadlineError, withDeadline} from '../deadline.js'
import {messageOf, NotFoundError, UserError} from '../errors/index.js'
import {connectionSpecFor} from '../rds/service.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {reasonSchema} from '../text/reason.js'
import type {TenantRef} from './reference.js'

/**
 * Suspending or reactivating a tenant or a user across the servers that hold
 * its rows: the tenant's RDS (tenants or users), the master RDS
 * (user_email_routing) and raiops' control database (tenant_master,
 * user_email_routing_cache, the audit trail). The servers cannot share a
 * transaction, so each is written in its own, in that order, and every write is
 * computed from what the server holds then: a run after a partial one changes
 * only what is still out of step, and audits only that.
 */

export type StatusChangeAction = 'user.suspend' | 'user.reactivate' | 'tenant.suspend' | 'tenant.reactivate'
export type TargetStatus = 'suspended' | 'active'
export type SideStatus = 'changed' | 'unchanged' | 'failed' | 'skipped'

/** Rows of one table whose status column moves from one value to another. */
export interface StatusMove {
  from: string | null
  to: string
  /** The rows' ids on that server. */
  ids: number[]
}

/** What one server's table gets: its moves (none: already as it should be). */
export interface PlannedWrite {
  server: {id: number; name: string}
  table: 'tenants' | 'users' | 'user_email_routing'
  column: 'status'
  moves: StatusMove[]
}

/** What happened on one side (a server) of the change. */
export interface SideOutcome {
  status: SideStatus
  /** Rows written. */
  rows: number
  error: string | null
}

/** One tenant the change reaches, with the plan for its RDS and for its routing entries on the master, and what happened. */
export interface StatusChangeTarget {
  tenant: {id: number; remoteTenantId: number; name: string}
  rds: {id: number; name: string}
  /** User commands: the email compared (lower-cased) and the ids of its users in this tenant. */
  user: {email: string; ids: number[]} | null
  plan: {rds: PlannedWrite | null; routing: PlannedWrite | null}
  /** Why a plan could not be read (its server down, the rows gone): then nothing is written for this tenant. */
  planError: {rds: string | null; routing: string | null}
  sides: {rds: SideOutcome; master: SideOutcome}
  /** The audit entries written for this tenant: its RDS rows, its routing entries. */
  auditIds: number[]
}

export interface StatusChange {
  action: StatusChangeAction
  status: TargetStatus
  reason: string
  dryRun: boolean
  master: {id: number; name: string}
  targets: StatusChangeTarget[]
  /** raiops' own copies (tenant_master, the routing cache) and the audit entries, in one transaction. */
  control: SideOutcome & {auditIds: number[]}
  /** Every side, all targets together: failed when one failed, changed when one changed. */
  sides: {rds: SideOutcome; master: SideOutcome; control: SideOutcome}
  notes: string[]
  auditIds: number[]
  /** False when some side failed or a plan could not be read: the command exits 3. */
  /** The person's tenants that could not be reached at all (unknown to raiops' registry): a change that leaves them out is not complete. */
  unreached: number
  complete: boolean
}

/** What a service hands the machinery: the tenants to reach and what to do to them. */
export interface StatusChangeRequest {
  action: StatusChangeAction
  to: TargetStatus
  reason: string
  master: RdsInstanceRow
  targets: Array<{tenant: TenantRef; rds: RdsInstanceRow; email: string | null}>
  /** An email not in a target tenant, or a tenant gone from its RDS, is NotFoundError (exit 2); else that tenant is skipped with a note. */
  strict: boolean
  notes: string[]
  /** Tenants of the person left out before the plan (see StatusChange.unreached). */
  unreached?: number
  /** Each server's reads and writes, ms. */
  timeoutMs: number
  dryRun: boolean
  /** Shown the plan before anything is written; false: nothing is written (UserError). */
  confirm?: (plan: StatusChange) => Promise<boolean>
}

/** Ids per UPDATE … WHERE id IN (…): well within every engine's bound-parameter limit. */
const BATCH = 1000

/** The reason of a change, checked as every `--reason` is (one line, 10 to 500 characters); else bad input. */
export function validReason(reason: string, purpose: string): string {
  const parsed = reasonSchema(purpose).safeParse(reason)
  if (parsed.success) return parsed.data
  throw new UserError(parsed.error.issues[0].message, {hint: 'say in a sentence why, as --reason "customer asked to pause the account"'})
}

const skipped = (): SideOutcome => ({status: 'skipped', rows: 0, error: null})

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as Laravel writes timestamps, on every engine. */
export function fleetTime(now: Date): string {
  return now.toISOString().slice(0, 19).replace('T', ' ')
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH))
  return out
}

/** Moves grouped by (from, to), in a stable order. */
function movesOf(rows: Iterable<{id: number; from: string | null; to: string}>): StatusMove[] {
  const groups = new Map<string, StatusMove>()
  for (const row of rows) {
    if (row.from === row.to) continue
    const key = `${row.from ?? '\u0000'}→${row.to}`
    let move = groups.get(key)
    if (!move) groups.set(key, (move = {from: row.from, to: row.to, ids: []}))
    move.ids.push(row.id)
  }
  return [...groups.values()]
    .map((m) => ({...m, ids: m.ids.sort((a, b) => a - b)}))
    .sort((a, b) => String(a.from).localeCompare(String(b.from)) || a.to.localeCompare(b.to))
}

export const movedRows = (write: PlannedWrite | null): number => (write ? write.moves.reduce((sum, m) => sum + m.ids.length, 0) : 0)

type Outcome<T> = {ok: true; value: T} | {ok: false; error: string}

/**
 * `work` on one RDS within `timeoutMs`: past it, the RDS's connections are cut
 * (an open transaction is rolled back by the server) and the outcome says so.
 * A failure is an outcome, never thrown.
 */
export async function onServer<T>(ctx: OpsContext, rds: RdsInstanceRow, timeoutMs: number, work: (db: Knex) => Promise<T>): Promise<Outcome<T>> {
  const id = Number(rds.id)
  let timedOut = false
  const failed = (error: unknown): Outcome<T> => ({ok: false, error: describeDriverError(error, {quietMs: ctx.fleet.quietMs(id), rds: rds.name})})
  return withDeadline<Outcome<T>>(
    async () => {
      try {
        const db = await ctx.fleet.get(await connectionSpecFor(ctx, rds))
        return {ok: true, value: await work(db)}
      } catch (error) {
        if (timedOut) return {ok: false, error: 'timed out'}
        return failed(error)
      }
    },
    {
      deadlineMs: timeoutMs,
      onDeadline: () => {
        timedOut = true
        const outcome = failed(new DeadlineError(timeoutMs))
        ctx.fleet.abandon(id)
        return outcome
      },
    },
  )
}

const isSqlite = (db: Knex): boolean => /sqlite/.test(String(db.client.config.client))

// ---------------------------------------------------------------------------
// Reading: what the tenant's RDS holds, and what the master's routing entries hold

interface RdsState {
  /** The tenant's status; undefined: no such tenant on the RDS. */
  tenantStatus: string | null | undefined
  /** The users whose routing entries are in scope (all of the tenant's, or the email's), with their status. */
  users: Map<number, string | null>
  /** User commands: the email's users in the tenant. */
  matched: number[]
}

async function readRdsState(db: Knex, remoteTenantId: number, email: string | null): Promise<RdsState> {
  const tenant = (await db('tenants').where({id: remoteTenantId}).first('status')) as {status: string | null} | undefined
  const query = db('users').select('id', 'status').where({tenant_id: remoteTenantId})
  if (email !== null) query.whereRaw('LOWER(email) = ?', [email])
  const rows = (await query.orderBy('id')) as Array<{id: unknown; status: string | null}>
  const users = new Map(rows.map((r) => [Number(r.id), r.status ?? null]))
  return {tenantStatus: tenant ? (tenant.status ?? null) : undefined, users, matched: email === null ? [] : [...users.keys()]}
}

/** The tenant's and users' statuses once the change is made. */
function afterChange(state: RdsState, kind: 'tenant' | 'user', to: TargetStatus): {tenant: string | null; user: (id: number) => string | null | undefined} {
  const tenant = kind === 'tenant' ? to : (state.tenantStatus ?? null)
  const matched = new Set(state.matched)
  return {tenant, user: (id) => (kind === 'user' && matched.has(id) ? to : state.users.get(id))}
}

/** A routing entry's status as it should be: suspended with its tenant, else its user's own (undefined: its user is not on the RDS). */
function desiredRouting(after: ReturnType<typeof afterChange>, userId: number): string | null | undefined {
  if (after.tenant === 'suspended') return 'suspended'
  return after.user(userId)
}

interface RoutingRow {
  id: number
  userId: number
  status: string | null
}

async function readRouting(db: Knex, rdsId: number, remoteTenantId: number, userIds: number[] | null, lock: boolean): Promise<RoutingRow[]> {
  const query = db('user_email_routing').select('id', 'user_id', 'status').where({rds_instance_id: rdsId, tenant_id: remoteTenantId})
  if (userIds !== null) query.whereIn('user_id', userIds.length > 0 ? userIds : [-1])
  if (lock && !isSqlite(db)) query.forUpdate()
  const rows = (await query.orderBy('id')) as Array<{id: unknown; user_id: unknown; status: string | null}>
  return rows.map((r) => ({id: Number(r.id), userId: Number(r.user_id), status: r.status ?? null}))
}

function routingMoves(rows: RoutingRow[], after: ReturnType<typeof afterChange>): StatusMove[] {
  return movesOf(
    rows.flatMap((r) => {
      const to = desiredRouting(after, r.userId)
      return to === undefined || to === null ? [] : [{id: r.id, from: r.status, to}]
    }),
  )
}

// ---------------------------------------------------------------------------
// Writing

/** Conditional UPDATEs of one table: each group only where the rows still hold the old value; the rows written. */
async function applyMoves(
  tx: Knex.Transaction,
  table: PlannedWrite['table'],
  moves: StatusMove[],
  scope: Record<string, number>,
  updatedAt: string,
): Promise<number> {
  let written = 0
  for (const move of moves) {
    for (const ids of chunks(move.ids)) {
      const query = tx(table).where(scope).whereIn('id', ids)
      if (move.from === null) query.whereNull('status')
      else query.where('status', move.from)
      written += Number(await query.update({status: move.to, updated_at: updatedAt}))
    }
  }
  return written
}

interface Working {
  input: StatusChangeRequest['targets'][number]
  target: StatusChangeTarget
  state: RdsState | null
  /** The routing entries as the master holds them after its write (for the cache). */
  routingAfter: Array<{id: number; status: string}> | null
  tenantAfter: string | null
}

function toTarget(input: StatusChangeRequest['targets'][number]): StatusChangeTarget {
  return {
    tenant: {id: input.tenant.id, remoteTenantId: input.tenant.remoteTenantId, name: input.tenant.name},
    rds: {id: Number(input.rds.id), name: input.rds.name},
    user: input.email === null ? null : {email: input.email, ids: []},
    plan: {rds: null, routing: null},
    planError: {rds: null, routing: null},
    sides: {rds: skipped(), master: skipped()},
    auditIds: [],
  }
}

/** The sides of all targets as one: failed when any failed, changed when any changed, unchanged when all were, else skipped. */
function summarise(outcomes: SideOutcome[]): SideOutcome {
  const rows = outcomes.reduce((sum, o) => sum + o.rows, 0)
  const failures = outcomes.filter((o) => o.status === 'failed')
  if (failures.length > 0) return {status: 'failed', rows, error: failures.map((f) => f.error).join('; ')}
  if (outcomes.some((o) => o.status === 'changed')) return {status: 'changed', rows, error: null}
  if (outcomes.length > 0 && outcomes.every((o) => o.status === 'unchanged')) return {status: 'unchanged', rows, error: null}
  return {status: outcomes.some((o) => o.status === 'unchanged') ? 'unchanged' : 'skipped', rows, error: null}
}

function finish(result: StatusChange): StatusChange {
  result.sides = {
    rds: summarise(result.targets.map((t) => t.sides.rds)),
    master: summarise(result.targets.map((t) => t.sides.master)),
    control: result.control,
  }
  result.auditIds = [...result.control.auditIds]
  const planOk = result.targets.every((t) => t.planError.rds === null && (result.dryRun ? t.planError.routing === null : true))
  result.complete = planOk && result.unreached === 0 && [result.sides.rds, result.sides.master, result.sides.control].every((s) => s.status !== 'failed')
  return result
}

/**
 * (1) Plans the change from what the servers hold and shows the plan
 * (`confirm`); unless it is a dry run, writes (2) each RDS in one transaction,
 * (3) the master's routing entries in one transaction, (4) raiops' copies and
 * the audit entries in one control-database transaction. A tenant whose RDS
 * failed gets nothing further; a master that failed leaves the routing entries
 * (and their cache) as they were, while what did change is still audited. A
 * run after a partial one changes, and audits, only what is still out of step.
 */
export async function runStatusChange(ctx: OpsContext, request: StatusChangeRequest): Promise<StatusChange> {
  const kind = request.action.startsWith('user.') ? 'user' : 'tenant'
  const master = request.master
  const masterRef = {id: Number(master.id), name: master.name}
  const result: StatusChange = {
    action: request.action,
    status: request.to,
    reason: request.reason,
    dryRun: request.dryRun,
    master: masterRef,
    targets: [],
    control: {...skipped(), auditIds: []},
    sides: {rds: skipped(), master: skipped(), control: skipped()},
    notes: [...request.notes],
    unreached: request.unreached ?? 0,
    auditIds: [],
    complete: false,
  }
  if ([...request.targets, {rds: master}].some((t) => t.rds.password_enc)) await ctx.keyring()
  const work: Working[] = request.targets.map((input) => ({input, target: toTarget(input), state: null, routingAfter: null, tenantAfter: null}))
  result.targets = work.map((w) => w.target)

  // (1) The plan: each RDS read once (concurrently), then the master.
  const byRds = groupByRds(work)
  await Promise.all(
    [...byRds.values()].map(async (group) => {
      const read = await onServer(ctx, group[0].input.rds, request.timeoutMs, async (db) => {
        const states: RdsState[] = []
        for (const w of group) states.push(await readRdsState(db, w.target.tenant.remoteTenantId, w.input.email))
        return states
      })
      group.forEach((w, i) => {
        if (!read.ok) {
          w.target.planError.rds = read.error
          w.target.sides.rds = {status: 'failed', rows: 0, error: read.error}
          return
        }
        w.state = read.value[i]
      })
    }),
  )
  for (const w of work) {
    if (!w.state) continue
    const missing = cannotChange(w, kind)
    if (missing) {
      if (request.strict)
        throw missing.unchangeable ? new UserError(missing.message, {hint: missing.hint}) : new NotFoundError(missing.message, {hint: missing.hint})
      result.notes.push(`${missing.message}: nothing done there`)
      w.target.planError.rds = missing.message
      w.state = null
      continue
    }
    const state = w.state
    if (w.target.user) w.target.user.ids = state.matched
    w.target.plan.rds = {
      server: w.target.rds,
      table: kind === 'tenant' ? 'tenants' : 'users',
      column: 'status',
      moves:
        kind === 'tenant'
          ? movesOf([{id: w.target.tenant.remoteTenantId, from: state.tenantStatus ?? null, to: request.to}])
          : movesOf(state.matched.map((id) => ({id, from: state.users.get(id) ?? null, to: request.to}))),
    }
  }
  const planned = work.filter((w) => w.state !== null)
  if (planned.length > 0) {
    const read = await onServer(ctx, master, request.timeoutMs, async (db) => {
      const all: RoutingRow[][] = []
      for (const w of planned)
        all.push(await readRouting(db, w.target.rds.id, w.target.tenant.remoteTenantId, kind === 'user' ? (w.target.user?.ids ?? []) : null, false))
      return all
    })
    planned.forEach((w, i) => {
      if (!read.ok) {
        w.target.planError.routing = read.error
        return
      }
      w.target.plan.routing = {
        server: masterRef,
        table: 'user_email_routing',
        column: 'status',
        moves: routingMoves(read.value[i], afterChange(w.state as RdsState, kind, request.to)),
      }
    })
    if (!read.ok) result.notes.push(`the master RDS "${master.name}" could not be read (${read.error}): its routing entries are checked again when written`)
  }

  if (request.dryRun) return finish(result)
  const nothingToDo = planned.every((w) => movedRows(w.target.plan.rds) === 0 && w.target.plan.routing !== null && movedRows(w.target.plan.routing) === 0)
  if (!nothingToDo && request.confirm && !(await request.confirm(finish(result)))) throw new UserError('cancelled: nothing was changed')

  const now = ctx.now()
  const updatedAt = fleetTime(now)

  // (2) Each RDS: one transaction with every target it holds. What the routing
  // entries should be is taken from the RDS as it is then, read again in the
  // same transaction: a tenant or user changed since the plan (the confirmation
  // may take minutes) is not routed from the plan's stale copy.
  await Promise.all(
    [...groupByRds(planned).values()].map(async (group) => {
      const written = await onServer(ctx, group[0].input.rds, request.timeoutMs, (db) =>
        db.transaction(async (tx) => {
          const counts: number[] = []
          const states: RdsState[] = []
          for (const w of group) {
            const plan = w.target.plan.rds as PlannedWrite
            const scope: Record<string, number> = kind === 'tenant' ? {} : {tenant_id: w.target.tenant.remoteTenantId}
            const rows = await applyMoves(tx, plan.table, plan.moves, scope, updatedAt)
            if (rows !== movedRows(plan))
              throw new Error(
                `${plan.table} of tenant ${w.target.tenant.remoteTenantId} changed on the RDS since they were read; nothing was written there: run the command again`,
              )
            counts.push(rows)
            const now = await readRdsState(tx, w.target.tenant.remoteTenantId, w.input.email)
            // The users this command changed are the plan's (a user given the email since is not one of them).
            states.push({...now, matched: (w.state as RdsState).matched})
          }
          return {counts, states}
        }),
      )
      group.forEach((w, i) => {
        w.target.sides.rds = written.ok
          ? {status: written.value.counts[i] > 0 ? 'changed' : 'unchanged', rows: written.value.counts[i], error: null}
          : {status: 'failed', rows: 0, error: written.error}
        if (!written.ok) return
        w.state = written.value.states[i]
        w.tenantAfter = kind === 'tenant' ? request.to : (w.state.tenantStatus ?? null)
      })
    }),
  )

  // (3) The master: the routing entries of every tenant whose RDS is as it should be, in one transaction.
  const inStep = planned.filter((w) => w.target.sides.rds.status !== 'failed')
  if (inStep.length > 0) {
    const written = await onServer(ctx, master, request.timeoutMs, (db) =>
      db.transaction(async (tx) => {
        const outcomes: Array<{rows: number; moves: StatusMove[]; after: Array<{id: number; status: string}>}> = []
        for (const w of inStep) {
          const after = afterChange(w.state as RdsState, kind, request.to)
          const rows = await readRouting(tx, w.target.rds.id, w.target.tenant.remoteTenantId, kind === 'user' ? (w.target.user?.ids ?? []) : null, true)
          const moves = routingMoves(rows, after)
          const count = await applyMoves(
            tx,
            'user_email_routing',
            moves,
            {rds_instance_id: w.target.rds.id, tenant_id: w.target.tenant.remoteTenantId},
            updatedAt,
          )
          const moved = new Map(moves.flatMap((m) => m.ids.map((id) => [id, m.to] as const)))
          const settled = rows.flatMap((r) => {
            const status = moved.get(r.id) ?? r.status
            return status === null ? [] : [{id: r.id, status}]
          })
          outcomes.push({rows: count, moves, after: settled})
        }
        return outcomes
      }),
    )
    inStep.forEach((w, i) => {
      if (!written.ok) {
        w.target.sides.master = {status: 'failed', rows: 0, error: written.error}
        return
      }
      const outcome = written.value[i]
      w.target.plan.routing = {server: masterRef, table: 'user_email_routing', column: 'status', moves: outcome.moves}
      w.target.sides.master = {status: outcome.rows > 0 ? 'changed' : 'unchanged', rows: outcome.rows, error: null}
      w.routingAfter = outcome.after
    })
  }

  // (4) raiops' own copies and the audit entries, in one control-database transaction.
  if (inStep.length === 0) return finish(result)
  try {
    const control = await retryOnDeadlock(() => writeControl(ctx, request, kind, inStep, now))
    result.control = {
      status: control.rows > 0 || control.auditIds.length > 0 ? 'changed' : 'unchanged',
      rows: control.rows,
      error: null,
      auditIds: control.auditIds,
    }
    for (const w of inStep) w.target.auditIds = control.byTarget.get(w) ?? []
  } catch (error) {
    const changed = inStep.some((w) => w.target.sides.rds.status === 'changed' || w.target.sides.master.status === 'changed')
    result.control = {
      status: 'failed',
      rows: 0,
      error: `${messageOf(error)}${changed ? ': the fleet rows above were changed but neither audited nor copied to raiops' : ''}`,
      auditIds: [],
    }
  }
  return finish(result)
}

function groupByRds(work: Working[]): Map<number, Working[]> {
  const groups = new Map<number, Working[]>()
  for (const w of work) {
    const group = groups.get(w.target.rds.id) ?? []
    group.push(w)
    groups.set(w.target.rds.id, group)
  }
  return groups
}

function cannotChange(w: Working, kind: 'tenant' | 'user'): {message: string; hint: string; unchangeable?: boolean} | null {
  const state = w.state as RdsState
  const where = `tenant ${w.target.tenant.remoteTenantId} ("${w.target.tenant.name}") on RDS "${w.target.rds.name}"`
  if (state.tenantStatus === undefined)
    return {message: `${where} is not there any more`, hint: `\`raiops sync:tenants --rds ${w.target.rds.name}\` marks it missing`}
  if (kind === 'user' && state.matched.length === 0)
    return {message: `${where} has no user with the email ${w.target.user?.email}`, hint: '`raiops user:find EMAIL` lists the tenants the email has a user in'}
  // Suspending and reactivating move between active and suspended only: a cancelled tenant or an inactive user is not brought back by reactivate.
  const other =
    kind === 'tenant'
      ? [state.tenantStatus].filter((status) => !CHANGEABLE.has(status ?? 'active'))
      : state.matched.map((id) => state.users.get(id)).filter((status) => !CHANGEABLE.has(status ?? 'active'))
  if (other.length > 0)
    return {
      message: `${kind === 'tenant' ? where : `the user ${w.target.user?.email} of ${where}`} is ${String(other[0])}, neither active nor suspended`,
      hint: 'suspend and reactivate move only between those two; change it in the RAI application',
      unchangeable: true,
    }
  return null
}

/** The statuses suspend and reactivate move between (NULL, a broken row, counts as active). */
const CHANGEABLE = new Set<string>(['active', 'suspended'])

const IDS_AUDITED = 100

/** A move as an audit entry keeps it: the ids up to a bound, always the count. */
const auditMove = (m: StatusMove) => ({from: m.from, to: m.to, rows: m.ids.length, ids: m.ids.slice(0, IDS_AUDITED)})

async function writeControl(
  ctx: OpsContext,
  request: StatusChangeRequest,
  kind: 'tenant' | 'user',
  inStep: Working[],
  now: Date,
): Promise<{rows: number; auditIds: number[]; byTarget: Map<Working, number[]>}> {
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    let rows = 0
    const auditIds: number[] = []
    const byTarget = new Map<Working, number[]>()
    for (const w of inStep) {
      const ids: number[] = []
      const target = w.target
      if (kind === 'tenant' && w.tenantAfter !== null) {
        rows += Number(
          await tx(TENANT_MASTER_TABLE)
            .where({id: target.tenant.id})
            .where((q) => q.whereNot({status: w.tenantAfter}).orWhereNull('status'))
            .update({status: w.tenantAfter, updated_at: now}),
        )
      }
      if (w.routingAfter) {
        const byStatus = new Map<string, number[]>()
        for (const entry of w.routingAfter) {
          const ids = byStatus.get(entry.status)
          if (ids) ids.push(entry.id)
          else byStatus.set(entry.status, [entry.id])
        }
        for (const [status, sourceIds] of byStatus) {
          for (const batch of chunks(sourceIds)) {
            rows += Number(
              await tx(ROUTING_CACHE_TABLE)
                .whereIn('source_id', batch)
                .where((q) => q.whereNot({status}).orWhereNull('status'))
                .update({status, source_updated_at: new Date(Math.floor(now.getTime() / 1000) * 1000)}),
            )
          }
        }
      }
      const targetId = target.user ? target.user.email : target.tenant.id
      const targetType = target.user ? 'user' : 'tenant'
      const rdsPlan = target.plan.rds
      if (target.sides.rds.status === 'changed' && rdsPlan) {
        const entry = await appendAudit(
          tx,
          ctx.audit,
          {
            action: request.action,
            targetType,
            targetId,
            rdsInstanceId: target.rds.id,
            tenantMasterId: target.tenant.id,
            oldValues: {server: target.rds.name, table: rdsPlan.table, rows: rdsPlan.moves.flatMap((m) => m.ids.map((id) => ({id, status: m.from})))},
            newValues: {
              server: target.rds.name,
              table: rdsPlan.table,
              rows: rdsPlan.moves.flatMap((m) => m.ids.map((id) => ({id, status: m.to}))),
              reason: request.reason,
            },
          },
          now,
        )
        ids.push(entry.id)
      }
      const routing = target.plan.routing
      if (target.sides.master.status === 'changed' && routing) {
        const entry = await appendAudit(
          tx,
          ctx.audit,
          {
            action: `${request.action}.routing`,
            targetType,
            targetId,
            rdsInstanceId: routing.server.id,
            tenantMasterId: target.tenant.id,
            oldValues: {
              server: routing.server.name,
              table: 'user_email_routing',
              tenantRds: target.rds.name,
              moves: routing.moves.map(auditMove).map(({to: _to, ...m}) => m),
            },
            newValues: {
              server: routing.server.name,
              table: 'user_email_routing',
              tenantRds: target.rds.name,
              moves: routing.moves.map(auditMove),
              reason: request.reason,
            },
          },
          now,
        )
        ids.push(entry.id)
      }
      byTarget.set(w, ids)
      auditIds.push(...ids)
    }
    return {rows, auditIds, byTarget}
  })
}
