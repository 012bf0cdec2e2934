import type {Knex} from 'knex'

import {setSubscription} from '../billing/subscriptions.js'
import {inTransaction, insertRowReturningId} from '../db/control-db.js'
import {RESERVATIONS_TABLE, ROUTING_CACHE_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {UserError} from '../errors/index.js'
import type {JsonObject, StepDefinition, StepRun} from '../jobs/kind.js'
import {attachReservation, releaseReservation, reserveSlot} from '../placement/placement.js'
import {fleetTime} from '../tenant/status-change.js'
import {searchText} from '../text/search.js'
import {whereCaseless, whereEmail} from '../user/fleet-users.js'
import {ghostEmail, ghostName, ghostOperators, unusablePassword} from '../user/ghosts.js'
import {masterConnection, rdsConnection} from './fleet.js'
import {openOwnerHash, type TenantCreateInput} from './input.js'
import {verifyTenant} from './verify.js'

/**
 * The steps of a tenant creation, in order. Each writes to one server and is
 * safe to run again after any interruption, including the one between its
 * write and the runner recording it: before it writes, it can find what an
 * earlier attempt of itself wrote, by a key it fixed first (ARCHITECTURE.md,
 * "Provisioning a tenant"):
 *
 * - place: the reservation's job id (unique in placement_reservations);
 * - tenant: the name on that RDS (an open reservation keeps it to this job)
 *   with its contact, and the created_at it is written with: the instant the
 *   reservation was taken, fixed in the control database before any write
 *   (a tenant another job's registry row holds is never this job's);
 * - owner: (tenant id, email), unique on every RAI database, with that same
 *   created_at (a user found there with another one is someone else's);
 * - locations: (tenant id, name); routing: (email, tenant id, RDS id);
 *   register: (RDS id, remote tenant id), unique in tenant_master;
 * - subscription: the new tenant's billing ledger (empty unless this step wrote it);
 * - ghosts: (tenant id, ghost email), inserted only where missing.
 *
 * Compensations delete only what the job created, found from the step's output
 * or, when it was interrupted, by the same key; each is idempotent. No step
 * needs a checkpoint: every key is fixed before the job's first fleet write.
 */

type Step = StepDefinition<TenantCreateInput>
type Run = StepRun<TenantCreateInput>

/** The output of an earlier step, which the runner guarantees is there. */
function outputOf(step: Run, name: string): JsonObject {
  const output = step.outputs[name]
  if (!output) throw new Error(`step ${name} has no output: the job's steps ran out of order`)
  return output
}

const placed = (step: Run) => {
  const o = outputOf(step, 'place')
  return {rdsId: Number(o.rdsId), rdsName: String(o.rdsName), marker: fleetTime(new Date(String(o.reservedAt)))}
}
const tenantIdOf = (step: Run): number => Number(outputOf(step, 'tenant').tenantId)
const ownerIdOf = (step: Run): number => Number(outputOf(step, 'owner').userId)
const registeredIdOf = (step: Run): number => Number(outputOf(step, 'register').tenantMasterId)

const place: Step = {
  name: 'place',
  // Its reservation commits with its record.
  control: true,
  async run(step) {
    const {input} = step.job
    const reservation = await reserveSlot(step.ctx, {jobId: step.job.id, tenantName: input.name, capacity: input.capacity, rds: input.rds})
    return {rdsId: reservation.rds.id, rdsName: reservation.rds.name, reservationId: reservation.id, reservedAt: reservation.createdAt}
  },
  async compensate(step) {
    await releaseReservation(step.ctx, {jobId: step.job.id})
  },
}

/** The tenant rows of this name on the RDS (names compare without case, as MySQL's collation does). */
async function tenantsNamed(db: Knex, name: string): Promise<Array<{id: number; created_at: unknown; primary_contact_email: string | null}>> {
  return whereCaseless(db, db('tenants'), 'name', name).select('id', 'created_at', 'primary_contact_email').orderBy('id')
}

/**
 * The tenant an earlier attempt of this job inserted: its name, its contact,
 * and the reservation's instant as created_at — unless another job's
 * registry row holds that tenant (`registeredByAnotherJob`): a creation of the
 * same tenant placed in the same second (the fleet's datetimes have no
 * fraction) writes the same name, contact and created_at.
 */
async function findOwnTenant(step: Run, db: Knex, rdsId: number, marker: string): Promise<number | null> {
  const {input} = step.job
  const row = (await whereCaseless(db, db('tenants'), 'name', input.name)
    .andWhere({created_at: marker, primary_contact_email: input.contactEmail})
    .first('id')) as {id: number} | undefined
  if (!row) return null
  return (await registeredByAnotherJob(step, rdsId, Number(row.id))) ? null : Number(row.id)
}

/**
 * Whether the tenant's registry row became another job's (its reservation
 * attached to it by that job's register step). Such a job held the name on
 * this RDS from its placement to its register step (the reservation's
 * name_key), so a job placed after it finds its tenant registered so.
 */
async function registeredByAnotherJob(step: Run, rdsId: number, tenantId: number): Promise<boolean> {
  const row = (await step.ctx
    .db(`${RESERVATIONS_TABLE} as r`)
    .join(`${TENANT_MASTER_TABLE} as t`, 't.id', 'r.tenant_master_id')
    .where({'t.rds_instance_id': rdsId, 't.remote_tenant_id': tenantId})
    .whereNot('r.job_id', step.job.id)
    .first('r.job_id')) as {job_id: number} | undefined
  return row !== undefined
}

const tenant: Step = {
  name: 'tenant',
  async run(step) {
    const {input} = step.job
    const {rdsId, rdsName, marker} = placed(step)
    const {db} = await rdsConnection(step.ctx, rdsId, {change: step.job.id, memo: step.memo})
    const own = await findOwnTenant(step, db, rdsId, marker)
    if (own !== null) return {tenantId: own}
    const same = await tenantsNamed(db, input.name)
    if (same.length > 0)
      throw new UserError(`RDS ${rdsName} already has a tenant named "${input.name}" (id ${same.map((t) => t.id).join(', ')})`, {
        hint: 'choose another --name, or another server with --rds',
      })
    step.signal.throwIfAborted()
    const tenantId = await insertRowReturningId(db, 'tenants', {
      name: input.name,
      primary_contact_name: input.contactName,
      primary_contact_email: input.contactEmail,
      status: 'active',
      created_at: marker,
      updated_at: marker,
    })
    return {tenantId}
  },
  async compensate(step, output) {
    if (!step.outputs.place) return
    const {rdsId, marker} = placed(step)
    const {db} = await rdsConnection(step.ctx, rdsId, {change: step.job.id, memo: step.memo})
    const id = output ? Number(output.tenantId) : await findOwnTenant(step, db, rdsId, marker)
    // Never another job's tenant (see findOwnTenant).
    if (id === null || (await registeredByAnotherJob(step, rdsId, id))) return
    // The tenant is this job's: whatever rows hang from it (its ghosts, users a sync or the application added since) go with it.
    await db.transaction(async (tx) => {
      await tx('users').where({tenant_id: id}).delete()
      await tx('locations').where({tenant_id: id}).delete()
      await tx('tenants').where({id}).delete()
    })
  },
}

/** The owner's user on the tenant, as this job writes it: its email, dated with the reservation's instant. */
function ownOwner(db: Knex, step: Run, tenantId: number): Knex.QueryBuilder {
  return whereEmail(db, db('users').where({tenant_id: tenantId, created_at: placed(step).marker}), step.job.input.owner.email)
}

const owner: Step = {
  name: 'owner',
  async run(step) {
    const {input} = step.job
    const {rdsId, rdsName, marker} = placed(step)
    const tenantId = tenantIdOf(step)
    const {db} = await rdsConnection(step.ctx, rdsId, {change: step.job.id, memo: step.memo})
    const found = (await whereEmail(db, db('users').where({tenant_id: tenantId}), input.owner.email).first('id')) as {id: number} | undefined
    if (found) {
      // An earlier attempt of this step wrote it (dated as this job dates its rows), or someone else did: then it is not ours to take.
      const own = (await ownOwner(db, step, tenantId).first('id')) as {id: number} | undefined
      if (own) return {userId: Number(own.id)}
      throw new UserError(`${input.owner.email} already has a user (id ${found.id}) on tenant ${tenantId} of ${rdsName}`, {
        hint: 'cancel the job (`raiops job:cancel`) and create the tenant with another --owner-email',
      })
    }
    const password = openOwnerHash(await step.ctx.keyring(), input) ?? unusablePassword()
    step.signal.throwIfAborted()
    const userId = await insertRowReturningId(db, 'users', {
      tenant_id: tenantId,
      name: input.owner.name,
      email: input.owner.email,
      password,
      status: 'active',
      is_ghost: false,
      created_at: marker,
      updated_at: marker,
    })
    return {userId}
  },
  async compensate(step, output) {
    const tenantOut = step.outputs.tenant
    if (!tenantOut || !step.outputs.place) return
    const tenantId = Number(tenantOut.tenantId)
    const {db} = await rdsConnection(step.ctx, placed(step).rdsId, {change: step.job.id, memo: step.memo})
    await (output ? db('users').where({tenant_id: tenantId, id: Number(output.userId)}) : ownOwner(db, step, tenantId)).delete()
  },
}

const locations: Step = {
  name: 'locations',
  async run(step) {
    const {input} = step.job
    const tenantId = tenantIdOf(step)
    const {db} = await rdsConnection(step.ctx, placed(step).rdsId, {change: step.job.id, memo: step.memo})
    const existing = (await db('locations').where({tenant_id: tenantId}).select('id', 'name')) as Array<{id: number; name: string}>
    const have = new Set(existing.map((l) => l.name.toLowerCase()))
    const missing = input.locations.filter((name) => !have.has(name.toLowerCase()))
    if (missing.length > 0) {
      step.signal.throwIfAborted()
      const at = fleetTime(step.ctx.now())
      await db('locations').insert(missing.map((name) => ({tenant_id: tenantId, name, created_at: at, updated_at: at})))
    }
    const rows = (await db('locations').where({tenant_id: tenantId}).select('id', 'name').orderBy('id')) as Array<{id: number; name: string}>
    const wanted = new Set(input.locations.map((n) => n.toLowerCase()))
    return {locationIds: rows.filter((r) => wanted.has(r.name.toLowerCase())).map((r) => Number(r.id)), inserted: missing.length}
  },
  async compensate(step, output) {
    const tenantOut = step.outputs.tenant
    if (!tenantOut || !step.outputs.place) return
    const {db} = await rdsConnection(step.ctx, Number(step.outputs.place.rdsId), {change: step.job.id, memo: step.memo})
    const query = db('locations').where({tenant_id: Number(tenantOut.tenantId)})
    const ids = Array.isArray(output?.locationIds) ? output.locationIds.map(Number) : null
    await (ids ? query.whereIn('id', ids) : query.whereIn('name', step.job.input.locations)).delete()
  },
}

/** The routing entries of the owner for this tenant on the master. */
function routingEntries(db: Knex, step: Run, tenantId: number, rdsId: number): Knex.QueryBuilder {
  return whereEmail(db, db('user_email_routing').where({tenant_id: tenantId, rds_instance_id: rdsId}), step.job.input.owner.email)
}

const routing: Step = {
  name: 'routing',
  async run(step) {
    const {rdsId} = placed(step)
    const tenantId = tenantIdOf(step)
    const userId = ownerIdOf(step)
    const {db: master} = await masterConnection(step.ctx, {change: step.job.id, memo: step.memo})
    const found = (await routingEntries(master, step, tenantId, rdsId).orderBy('id').first('id')) as {id: number} | undefined
    if (found) return {routingId: Number(found.id)}
    // The directory holds the hash the owner's user row holds, read from the RDS, never from the job.
    const {db} = await rdsConnection(step.ctx, rdsId, {memo: step.memo})
    const user = (await db('users').where({id: userId}).first('password')) as {password: string} | undefined
    if (!user) throw new Error(`the owner's user ${userId} is gone from the tenant's RDS`)
    step.signal.throwIfAborted()
    const at = fleetTime(step.ctx.now())
    const routingId = await insertRowReturningId(master, 'user_email_routing', {
      email: step.job.input.owner.email,
      tenant_id: tenantId,
      rds_instance_id: rdsId,
      user_id: userId,
      password_hash: user.password,
      status: 'active',
      created_at: at,
      updated_at: at,
    })
    return {routingId}
  },
  async compensate(step, output) {
    const tenantOut = step.outputs.tenant
    if (!tenantOut || !step.outputs.place) return
    const {db: master} = await masterConnection(step.ctx, {change: step.job.id, memo: step.memo})
    const query = routingEntries(master, step, Number(tenantOut.tenantId), Number(step.outputs.place.rdsId))
    await (output ? query.andWhere({id: Number(output.routingId)}) : query).delete()
  },
}

const register: Step = {
  name: 'register',
  // The registry row commits with its record.
  control: true,
  async run(step) {
    const {input} = step.job
    const {rdsId} = placed(step)
    const tenantId = tenantIdOf(step)
    const now = step.ctx.now()
    const id = await inTransaction(step.ctx.db, async (tx) => {
      const found = await tx(TENANT_MASTER_TABLE).where({rds_instance_id: rdsId, remote_tenant_id: tenantId}).first('id')
      let tenantMasterId: number
      if (found) tenantMasterId = Number(found.id)
      else {
        const [inserted] = (await tx(TENANT_MASTER_TABLE).insert(
          {
            rds_instance_id: rdsId,
            remote_tenant_id: tenantId,
            name: input.name,
            primary_contact_name: input.contactName,
            primary_contact_email: input.contactEmail,
            status: 'active',
            cached_user_count: 1,
            cached_location_count: input.locations.length,
            cache_refreshed_at: now,
            search_text: searchText(input.name, input.contactName, input.contactEmail),
            created_at: now,
            updated_at: now,
          },
          ['id'],
        )) as Array<number | {id: number}>
        tenantMasterId = typeof inserted === 'object' ? Number(inserted.id) : Number(inserted)
      }
      // From now on the registry row counts against the server's capacity, not the reservation: in the same transaction.
      await attachReservation(tx, {jobId: step.job.id, tenantMasterId})
      return tenantMasterId
    })
    return {tenantMasterId: id}
  },
  async compensate(step, output) {
    const placedOut = step.outputs.place
    const tenantOut = step.outputs.tenant
    const id = output
      ? Number(output.tenantMasterId)
      : placedOut && tenantOut
        ? Number(
            (
              await step.ctx
                .db(TENANT_MASTER_TABLE)
                .where({rds_instance_id: Number(placedOut.rdsId), remote_tenant_id: Number(tenantOut.tenantId)})
                .first('id')
            )?.id ?? NaN,
          )
        : NaN
    if (Number.isNaN(id)) return
    await step.ctx.db.transaction(async (tx) => {
      await tx(ROUTING_CACHE_TABLE).where({tenant_master_id: id}).delete()
      await tx(RESERVATIONS_TABLE).where({job_id: step.job.id}).update({tenant_master_id: null})
      await tx(TENANT_MASTER_TABLE).where({id}).delete()
    })
  },
}

const subscription: Step = {
  name: 'subscription',
  async run(step): Promise<JsonObject> {
    const {input} = step.job
    if (input.plan === null) return {skipped: true}
    const tenantMasterId = registeredIdOf(step)
    // A new tenant's ledger is empty: an event on it is this step's, written by an attempt the runner did not record.
    const event = await step.ctx.db('billing_events').where({tenant_master_id: tenantMasterId}).orderBy('id').first('id')
    if (event) return {eventId: Number(event.id)}
    const plan = input.plan
    const result = await setSubscription(step.ctx, {
      tenant: String(tenantMasterId),
      plan: plan.code,
      planVersion: plan.planVersion,
      quantity: plan.quantity,
      quantityFrom: plan.quantityFrom,
      discount: plan.discount,
      discountUntil: plan.discountUntil === undefined ? undefined : new Date(plan.discountUntil),
      trialUntil: plan.trialUntil === undefined ? undefined : new Date(plan.trialUntil),
      forceCurrency: plan.forceCurrency,
      reason: `tenant:create, job ${step.job.id}`,
      graceDays: input.graceDays,
    })
    return {eventId: result.event.id, status: result.subscription.status, mrrMinor: result.subscription.mrrMinor}
  },
  async compensate(step) {
    const registered = step.outputs.register
    if (!registered) return
    const id = Number(registered.tenantMasterId)
    await step.ctx.db.transaction(async (tx) => {
      const [payments] = await tx('payments').where({tenant_master_id: id}).count({n: '*'})
      if (Number(payments.n) > 0)
        throw new UserError(`tenant ${id} has payments recorded: its subscription is not undone by a cancel`, {hint: 'refund them first'})
      await tx('tenant_billing').where({tenant_master_id: id}).delete()
      await tx('billing_events').where({tenant_master_id: id}).delete()
    })
  },
}

const ghosts: Step = {
  name: 'ghosts',
  async run(step) {
    const {input} = step.job
    const tenantId = tenantIdOf(step)
    const operators = await ghostOperators(step.ctx.db)
    if (operators.length === 0) return {operators: 0, inserted: 0}
    const {db} = await rdsConnection(step.ctx, placed(step).rdsId, {change: step.job.id, memo: step.memo})
    const emails = operators.map((o) => ghostEmail(o.id, input.ghostDomain))
    const present = new Set(
      ((await db('users').where({tenant_id: tenantId}).whereIn('email', emails).select('email')) as Array<{email: string}>).map((u) => u.email.toLowerCase()),
    )
    const at = fleetTime(step.ctx.now())
    const missing = operators
      .filter((o) => !present.has(ghostEmail(o.id, input.ghostDomain)))
      .map((o) => ({
        tenant_id: tenantId,
        name: ghostName(o.name),
        email: ghostEmail(o.id, input.ghostDomain),
        password: unusablePassword(),
        status: 'active',
        is_ghost: true,
        created_at: at,
        updated_at: at,
      }))
    step.signal.throwIfAborted()
    if (missing.length > 0) await db('users').insert(missing)
    return {operators: operators.length, inserted: missing.length}
  },
  async compensate(step) {
    const tenantOut = step.outputs.tenant
    if (!tenantOut || !step.outputs.place) return
    const {db} = await rdsConnection(step.ctx, Number(step.outputs.place.rdsId), {change: step.job.id, memo: step.memo})
    await db('users')
      .where({tenant_id: Number(tenantOut.tenantId), is_ghost: true})
      .delete()
  },
}

const verify: Step = {
  name: 'verify',
  async run(step) {
    const report = await verifyTenant(step.ctx, {
      input: step.job.input,
      rdsId: placed(step).rdsId,
      tenantId: tenantIdOf(step),
      userId: ownerIdOf(step),
      routingId: Number(outputOf(step, 'routing').routingId),
      tenantMasterId: registeredIdOf(step),
      ghosts: Number(outputOf(step, 'ghosts').operators),
      memo: step.memo,
    })
    return {rows: report.rows, ghosts: report.ghosts}
  },
}

const done: Step = {
  name: 'done',
  // The cached counts commit with the job's end.
  control: true,
  async run(step) {
    const {rdsId, rdsName} = placed(step)
    const tenantMasterId = registeredIdOf(step)
    const checked = outputOf(step, 'verify')
    const now = step.ctx.now()
    // The registry's cached counts as verify read them, so tenant:list is right before the next sync.
    await step.ctx
      .db(TENANT_MASTER_TABLE)
      .where({id: tenantMasterId})
      .update({
        cached_user_count: 1,
        cached_location_count: step.job.input.locations.length,
        active_user_count: 1,
        ghost_user_count: Number(checked.ghosts ?? 0),
        cache_refreshed_at: now,
        updated_at: now,
      })
    return {tenantMasterId, remoteTenantId: tenantIdOf(step), rds: {id: rdsId, name: rdsName}, ownerUserId: ownerIdOf(step)}
  },
}

export const TENANT_CREATE_STEPS: readonly Step[] = [place, tenant, owner, locations, routing, register, subscription, ghosts, verify, done]
