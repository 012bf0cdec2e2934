import type {OpsContext} from '../context.js'
import {inTransaction, isUniqueViolation, type Db} from '../db/control-db.js'
import {RDS_TABLE, RESERVATIONS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {toBool, toIso, toIsoRequired, toNumberOrNull} from '../db/values.js'
import {UserError} from '../errors/index.js'
import {getRds} from '../rds/repository.js'
import {rankRds, type PlacementInput, type PlacementRow} from './rules.js'

export type {PlacementRow} from './rules.js'

/**
 * Placement: which RDS takes a new tenant (./rules.ts), and the reservation of
 * its slot. A reservation is a row of placement_reservations, taken in one
 * control-database transaction that first locks the registry rows of the
 * servers that may take it (a conditional no-op UPDATE: row locks on
 * MySQL/MariaDB and PostgreSQL, the write lock on SQLite), then ranks them from
 * their tenants and open reservations as committed, and inserts at the first.
 * Creations racing for the last slot queue on those locks; each counts the
 * reservations before it and goes to the next candidate, or finds none.
 */

export interface PlacementReport {
  capacity: number
  /** The new tenant's locations, when given: shown in each server's locations after placement. */
  forLocations: number | null
  /** Where a tenant created now would go; null when no RDS can take one. */
  chosen: {id: number; name: string} | null
  rds: PlacementRow[]
}

/** What placement reads of every RDS: registry row, tenants and open reservations, in three queries. */
async function placementInputs(db: Db, capacity: number): Promise<PlacementInput[]> {
  const rows = await db(RDS_TABLE).orderBy('id')
  const tenants = (await db(TENANT_MASTER_TABLE)
    .whereNull('remote_missing_at')
    .groupBy('rds_instance_id')
    .select('rds_instance_id', db.raw('COUNT(*) AS n'), db.raw('COALESCE(SUM(cached_location_count), 0) AS locations'))) as Array<{
    rds_instance_id: number
    n: unknown
    locations: unknown
  }>
  const reserved = (await openReservations(db).groupBy('rds_instance_id').select('rds_instance_id', db.raw('COUNT(*) AS n'))) as Array<{
    rds_instance_id: number
    n: unknown
  }>
  const byRds = <T extends {rds_instance_id: number}>(list: T[]) => new Map(list.map((r) => [Number(r.rds_instance_id), r]))
  const t = byRds(tenants)
  const r = byRds(reserved)
  return rows.map((row) => ({
    id: Number(row.id),
    name: row.name,
    isActive: toBool(row.is_active),
    isMaster: toBool(row.is_master),
    state: row.state,
    health: row.health_status,
    latencyMs: toNumberOrNull(row.health_latency_ms),
    healthCheckedAt: toIso(row.health_checked_at),
    tenants: Number(t.get(Number(row.id))?.n ?? 0),
    reserved: Number(r.get(Number(row.id))?.n ?? 0),
    locations: Number(t.get(Number(row.id))?.locations ?? 0),
    capacity,
  }))
}

/** Reservations still counting against their server: not registered, not released. */
function openReservations(db: Db) {
  return db(RESERVATIONS_TABLE).whereNull('tenant_master_id').whereNull('released_at')
}

function checkCapacity(capacity: number): number {
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new UserError(`placement capacity must be a whole number of tenants, 1 or more, not ${capacity}`)
  return capacity
}

/** `placement:explain`: every RDS ranked by the placement rule, or excluded with the reason. */
export async function explainPlacement(ctx: Pick<OpsContext, 'db'>, input: {capacity: number; forLocations?: number}): Promise<PlacementReport> {
  const capacity = checkCapacity(input.capacity)
  const rows = rankRds(await placementInputs(ctx.db, capacity))
  const first = rows.find((row) => row.rank === 1)
  const forLocations = input.forLocations ?? null
  return {
    capacity,
    forLocations,
    chosen: first ? first.rds : null,
    rds: rows,
  }
}

/** No RDS can take a new tenant: bad input (exit 2), with every server's reason in the message and the ranking attached. */
export class NoPlacementError extends UserError {
  constructor(readonly report: PlacementReport) {
    super(
      `no RDS can take a new tenant: ${report.rds.length === 0 ? 'none is registered' : report.rds.map((row) => `${row.rds.name} ${row.excluded ?? 'candidate'}`).join('; ')}`,
      {
        hint:
          report.rds.length === 0
            ? 'register one with `raiops rds:add`'
            : 'see `raiops placement:explain`; bring a server online (`raiops rds:online`) or raise RAIOPS_PLACEMENT_CAPACITY',
      },
    )
  }
}

/**
 * The RDS a creation would be placed on now, checked before a job is created:
 * the named one (refused when placement excludes it) or the first candidate.
 * Throws NoPlacementError when none can take a tenant.
 */
export async function choosePlacement(ctx: Pick<OpsContext, 'db'>, input: {capacity: number; rds?: string | null}): Promise<{id: number; name: string}> {
  const report = await explainPlacement(ctx, {capacity: input.capacity})
  if (input.rds) {
    // The registry rows were just read for the ranking: the server named is looked up again only if not found among them as given.
    const ref = input.rds.trim()
    const named = report.rds.find((r) => (/^\d+$/.test(ref) ? r.rds.id === Number(ref) : r.rds.name === ref))?.rds ?? (await getRds(ctx.db, input.rds))
    const row = report.rds.find((r) => r.rds.id === Number(named.id))!
    if (row.excluded !== null)
      throw new UserError(`RDS ${named.name} cannot take a new tenant: ${row.excluded}`, {
        hint: 'choose another with --rds, or leave placement to raiops (`raiops placement:explain`)',
      })
    return row.rds
  }
  if (!report.chosen) throw new NoPlacementError(report)
  return report.chosen
}

export interface Reservation {
  id: number
  jobId: number
  rds: {id: number; name: string}
  tenantName: string
  /** When it was taken (ISO): fixed once, so the steps after it can date their rows by it and find them again. */
  createdAt: string
  /** Whether it was taken by this call (false: found, taken by an earlier attempt of the same job). */
  taken: boolean
}

export interface ReserveInput {
  jobId: number
  tenantName: string
  capacity: number
  /** Only this RDS (id or name); absent: the best candidate that still has room. */
  rds?: string | null
}

/**
 * Locks the registry rows of the servers that may take a tenant (or of the one
 * named): a conditional no-op UPDATE, a row lock on MySQL/MariaDB and
 * PostgreSQL (taken in primary-key order by every placer, so two never
 * deadlock) and the write lock on SQLite.
 */
async function lockCandidates(tx: Db, rdsId: number | null): Promise<void> {
  const query = tx(RDS_TABLE)
    .where({state: 'online'})
    .where((q) => q.where('is_active', true))
    .whereNot('health_status', 'down')
  if (rdsId !== null) query.where({id: rdsId})
  await query.update({state: tx.raw('??', ['state'])})
}

async function findReservation(db: Db, jobId: number): Promise<Reservation | null> {
  const row = await db(RESERVATIONS_TABLE).where({job_id: jobId}).first()
  if (!row) return null
  const rds = await db(RDS_TABLE).where({id: row.rds_instance_id}).first('id', 'name')
  return {
    id: Number(row.id),
    jobId,
    rds: {id: Number(row.rds_instance_id), name: rds?.name ?? String(row.rds_instance_id)},
    tenantName: row.tenant_name,
    createdAt: toIsoRequired(row.created_at),
    taken: false,
  }
}

/**
 * Takes a slot for a job's tenant: the job's existing reservation when an
 * earlier attempt took one (released ones included: a released reservation is
 * never taken again), else the first candidate in rank order, ranked under
 * the candidates' locks. Throws NoPlacementError when none has room, and a
 * UserError when another open job is creating the same name on the server.
 */
export async function reserveSlot(ctx: Pick<OpsContext, 'db' | 'now'>, input: ReserveInput): Promise<Reservation> {
  const existing = await findReservation(ctx.db, input.jobId)
  if (existing) {
    if (existing.tenantName !== input.tenantName) throw new Error(`job ${input.jobId} holds a reservation for another tenant (${existing.tenantName})`)
    return existing
  }
  const capacity = checkCapacity(input.capacity)
  const named = input.rds ? await getRds(ctx.db, input.rds) : null
  const createdAt = ctx.now()
  // In the transaction of the job step that reserves (it commits with the step's record), or in one of its own.
  const outcome = await inTransaction(ctx.db, async (tx) => {
    // Every server that may take the tenant is locked first, then ranked from what is committed: placements
    // queue here one after another, so each sees the reservations before it and the rule holds under concurrency.
    await lockCandidates(tx, named === null ? null : Number(named.id))
    // Checked again under the lock: an attempt of this job that committed meanwhile wins.
    if (await tx(RESERVATIONS_TABLE).where({job_id: input.jobId}).first('id')) return {taken: false as const}
    const ranked = rankRds(await placementInputs(tx, capacity))
    const report: PlacementReport = {capacity, forLocations: null, chosen: ranked.find((r) => r.rank === 1)?.rds ?? null, rds: ranked}
    const row = named === null ? ranked.find((r) => r.rank === 1) : ranked.find((r) => r.rds.id === Number(named.id))
    if (named !== null && row?.excluded)
      throw new UserError(`RDS ${named.name} cannot take a new tenant: ${row.excluded}`, {hint: 'see `raiops placement:explain`'})
    if (!row) throw new NoPlacementError(report)
    try {
      await tx(RESERVATIONS_TABLE).insert({
        job_id: input.jobId,
        rds_instance_id: row.rds.id,
        tenant_name: input.tenantName,
        name_key: nameKey(input.tenantName),
        created_at: createdAt,
      })
    } catch (error) {
      if (isUniqueViolation(error))
        throw new UserError(`another job is creating a tenant named "${input.tenantName}" on ${row.rds.name}`, {
          hint: 'see `raiops job:list`; choose another --name or wait for that job',
        })
      throw error
    }
    return {taken: true as const}
  })
  // Read back, as a re-run reads it: the instant is the one the database holds, on every engine.
  return {...(await findReservation(ctx.db, input.jobId))!, taken: outcome.taken}
}

/** The key two open creations of one name on one server collide on. */
export const nameKey = (name: string): string => name.trim().toLowerCase().slice(0, 255)

/** The reservation now counts as the tenant_master row it became; idempotent. */
export async function attachReservation(db: Db, input: {jobId: number; tenantMasterId: number}): Promise<void> {
  await db(RESERVATIONS_TABLE).where({job_id: input.jobId}).update({tenant_master_id: input.tenantMasterId, name_key: null})
}

/** Gives the slot back (the job was canceled); idempotent. */
export async function releaseReservation(ctx: Pick<OpsContext, 'db' | 'now'>, input: {jobId: number}): Promise<boolean> {
  const released = await ctx.db(RESERVATIONS_TABLE).where({job_id: input.jobId}).whereNull('released_at').update({released_at: ctx.now(), name_key: null})
  return Number(released) > 0
}
