/**
 * What tenant-creation tests share: a fleet with operators and a plan, the
 * input of a creation prepared as tenant:create prepares it, every row a
 * creation wrote on every server, and the checker that finds duplicates and
 * orphans anywhere (lib/provisioning/consistency.ts) against a baseline.
 */
import type {Knex} from 'knex'

import {seedRoles} from '../../src/lib/auth/seed.js'
import {addOperator} from '../../src/lib/operator/service.js'
import {checkConsistency, type ConsistencyIssue} from '../../src/lib/provisioning/consistency.js'
import type {FleetContext} from '../../src/lib/provisioning/fleet.js'
import {prepareTenantCreate, type TenantCreateRequest} from '../../src/lib/provisioning/prepare.js'
import {addPlan} from './billing.js'
import type {FixtureEngine} from './rai-fixture.js'
import {buildUserFleet, type RdsName, type UserFleet} from './user-fleet.js'

export const PLAN_CODE = 'starter'
export const GHOST_DOMAIN = 'ghosts.invalid'
export const OWNER_PASSWORD = 'correct horse battery staple'

export interface ProvisioningFleet extends UserFleet {
  /** The operators whose ghosts every tenant gets. */
  ghostOperators: number
  /** The issues the checker finds before any creation (the generated fleet's own), left out of `issues()`. */
  baseline: string[]
  /** Issues the checker finds that were not there before. */
  issues(): Promise<ConsistencyIssue[]>
}

export async function buildProvisioningFleet(engine: FixtureEngine): Promise<ProvisioningFleet> {
  const fleet = await buildUserFleet(engine, 'sqlite')
  try {
    const {ctx} = fleet
    await seedRoles(ctx.db, new Date())
    await addOperator(ctx, {email: 'ana@example.com', name: 'Ana Support', role: 'system_admin', password: 'operator-password-1'})
    await addOperator(ctx, {email: 'bo@example.com', name: 'Bo Support', role: 'support_admin', password: 'operator-password-2'})
    await addOperator(ctx, {email: 'cy@example.com', name: 'Cy Reader', role: 'read_only', password: 'operator-password-3'})
    await addPlan(ctx.db, {code: PLAN_CODE, name: 'Starter', currency: 'USD', interval: 'month', price: '49.00'}, new Date(Date.now() - 86_400_000))
    const key = (i: ConsistencyIssue) => `${i.kind} ${i.where} ${i.detail}`
    const baseline = (await checkConsistency(ctx)).issues.map(key)
    return {
      ...fleet,
      ghostOperators: 2,
      baseline,
      issues: async () => (await checkConsistency(ctx)).issues.filter((i) => !baseline.includes(key(i))),
    }
  } catch (error) {
    await fleet.close()
    throw error
  }
}

/** A creation's input as tenant:create prepares it, at bcrypt cost 4. */
export async function prepared(ctx: FleetContext & {now(): Date}, overrides: Partial<TenantCreateRequest> = {}) {
  return prepareTenantCreate(ctx, {
    name: 'Harbor Bakery',
    owner: {name: 'Hana Owner', email: 'Hana@Harbor.example', password: OWNER_PASSWORD},
    locations: '2',
    plan: {code: PLAN_CODE, quantity: 2},
    capacity: 100,
    ghostDomain: GHOST_DOMAIN,
    graceDays: 7,
    bcryptCost: 4,
    ...overrides,
  })
}

/** Every row named like the tenant on every server of the fleet. */
export interface TenantRows {
  tenants: Array<{rds: string; id: number}>
  users: number
  owners: Array<{id: number; password: string}>
  ghosts: number
  locations: string[]
  routing: Array<{id: number; tenantId: number; userId: number; passwordHash: string | null}>
  registry: Array<{id: number; rdsId: number; remoteTenantId: number}>
  billingEvents: number
  reservations: Array<{rdsId: number; open: boolean; released: boolean}>
}

/** Where the rows are read: each RDS by name, which of them is the master, and the control database. */
export interface RowSource {
  names: readonly string[]
  master: string
  on<T>(rds: string, work: (db: Knex) => Promise<T>): Promise<T>
  db: Knex
}

/** A UserFleet as a RowSource. */
export const userFleetRows = (fleet: UserFleet): RowSource => ({
  names: ['east', 'west', 'north'],
  master: 'east',
  on: (rds, work) => fleet.on(rds as RdsName, work),
  db: fleet.ctx.db,
})

export async function tenantRows(source: UserFleet | RowSource, name: string, ownerEmail: string): Promise<TenantRows> {
  const fleet = 'names' in source ? source : userFleetRows(source)
  const rows: TenantRows = {tenants: [], users: 0, owners: [], ghosts: 0, locations: [], routing: [], registry: [], billingEvents: 0, reservations: []}
  for (const rds of fleet.names) {
    await fleet.on(rds, async (db: Knex) => {
      const tenants = (await db('tenants').whereRaw('LOWER(name) = ?', [name.toLowerCase()]).select('id')) as Array<{id: number}>
      for (const t of tenants) {
        rows.tenants.push({rds, id: Number(t.id)})
        const users = (await db('users').where({tenant_id: t.id}).select('id', 'email', 'password', 'is_ghost')) as Array<Record<string, unknown>>
        rows.users += users.length
        rows.ghosts += users.filter((u) => Boolean(Number(u.is_ghost))).length
        for (const u of users)
          if (String(u.email).toLowerCase() === ownerEmail.toLowerCase()) rows.owners.push({id: Number(u.id), password: String(u.password)})
        rows.locations.push(...((await db('locations').where({tenant_id: t.id}).pluck('name')) as string[]))
      }
    })
  }
  await fleet.on(fleet.master, async (db: Knex) => {
    const entries = (await db('user_email_routing')
      .whereRaw('LOWER(email) = ?', [ownerEmail.toLowerCase()])
      .select('id', 'tenant_id', 'user_id', 'password_hash')) as Array<Record<string, unknown>>
    rows.routing = entries.map((e) => ({
      id: Number(e.id),
      tenantId: Number(e.tenant_id),
      userId: Number(e.user_id),
      passwordHash: (e.password_hash as string | null) ?? null,
    }))
  })
  const db = fleet.db
  const registry = (await db('tenant_master').where({name}).select('id', 'rds_instance_id', 'remote_tenant_id')) as Array<Record<string, unknown>>
  rows.registry = registry.map((r) => ({id: Number(r.id), rdsId: Number(r.rds_instance_id), remoteTenantId: Number(r.remote_tenant_id)}))
  rows.billingEvents = Number(
    (
      await db('billing_events')
        .whereIn(
          'tenant_master_id',
          rows.registry.map((r) => r.id),
        )
        .count({n: '*'})
    )[0].n,
  )
  const reservations = (await db('placement_reservations').where({tenant_name: name}).select('rds_instance_id', 'tenant_master_id', 'released_at')) as Array<
    Record<string, unknown>
  >
  rows.reservations = reservations.map((r) => ({
    rdsId: Number(r.rds_instance_id),
    open: r.tenant_master_id === null && r.released_at === null,
    released: r.released_at !== null,
  }))
  return rows
}
