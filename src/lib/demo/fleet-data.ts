import bcrypt from 'bcryptjs'

import {ADJECTIVES, CITIES, FIRST_NAMES, LAST_NAMES, NOUNS, asciiLetters, businessName, domainOf, pick, rng} from './names.js'

/**
 * The rows of RAI databases (the fleet contract, DESIGN.md §2), generated from a
 * seed: every row is a pure function of the plan and its ids, so two runs with
 * the same plan write the same data. One generator serves the demo, the tests'
 * fixtures and the benchmarks, on every engine (see `fleet-load.ts`).
 */

export const FLEET_TABLES = ['tenants', 'users', 'locations', 'user_email_routing'] as const
export type FleetTable = (typeof FLEET_TABLES)[number]

export type FleetRow = Record<string, string | number | boolean | null>

/** The plaintext of every generated password hash (the demo's users sign in with it). */
export const FLEET_USER_PASSWORD = 'rai-Test-passw0rd'

/** A user who belongs to a tenant besides its own staff: an accountant or consultant serving several tenants, with one email. */
export interface FleetMember {
  name: string
  email: string
  /**
   * Which of the generated hashes of FLEET_USER_PASSWORD their user row holds:
   * the same on every tenant keeps the person's password in step across tenants
   * (as password:sync leaves it); absent, each row gets one by the seed.
   */
  passwordVariant?: number
}

/** What one RAI database holds. */
export interface RaiDataPlan {
  seed: number
  /** Timestamps are spread over the year before this second (Unix seconds). */
  nowS: number
  tenants: number
  /** Regular users per tenant; with `usersPerTenantMax`, the least a tenant has. */
  usersPerTenant: number
  /** When set, each tenant has between `usersPerTenant` and this many regular users, chosen by the seed. */
  usersPerTenantMax?: number
  /** Ghost users (is_ghost = true, never routed) of each tenant that has them. */
  ghostsPerTenant: number
  /** Only every n-th tenant has ghost users (default 1: every tenant). */
  ghostTenantEvery?: number
  locationsPerTenant: number
  /** Explicit names for the first tenants. */
  tenantNames: readonly string[]
  /**
   * 'numbered' (the default): "Bright Dental 7", emails at t7.example.com.
   * 'business': names such as "Harbor Bakery of Salem", unique across a fleet
   * (see `nameOffset`), and emails at a domain made from the name.
   */
  nameStyle?: 'numbered' | 'business'
  /** The fleet-wide number of this database's first tenant, so business names stay unique across databases. */
  nameOffset?: number
  /** Users appended to a tenant's staff (by tenant id): the shared emails of a fleet. */
  members?: ReadonlyMap<number, readonly FleetMember[]>
  /** The bcrypt cost of the generated hashes (default 4: cheap; the hashes are still real). */
  bcryptCost?: number
}

const HASH_VARIANTS = 6
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const DAY_S = 86_400
const YEAR_S = 365 * DAY_S

/** A bcrypt hash as Laravel writes it (`$2y$`). */
export function laravelHash(plain: string, salt?: string, cost = 4): string {
  return bcrypt.hashSync(plain, salt ?? bcrypt.genSaltSync(cost)).replace(/^\$2b\$/, '$2y$')
}

const hashesByCost = new Map<number, string[]>()

/** A handful of hashes of FLEET_USER_PASSWORD with deterministic salts, computed once per cost. */
function passwordHashes(cost: number): string[] {
  let hashes = hashesByCost.get(cost)
  if (!hashes) {
    hashes = []
    for (let i = 0; i < HASH_VARIANTS; i++) {
      const random = rng(0x5a17, i)
      let salt = `$2b$${String(cost).padStart(2, '0')}$`
      for (let c = 0; c < 22; c++) salt += BCRYPT_ALPHABET[Math.floor(random() * 64)]
      hashes.push(laravelHash(FLEET_USER_PASSWORD, salt))
    }
    hashesByCost.set(cost, hashes)
  }
  return hashes
}

/** 'YYYY-MM-DD HH:MM:SS' in UTC, as Laravel writes timestamps. */
export function sqlTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

/** Checks a plan's numbers once, so a bad one is an error and not a strange database. */
export function assertPlan(plan: RaiDataPlan): void {
  const counts: Array<[string, number | undefined]> = [
    ['seed', plan.seed],
    ['tenants', plan.tenants],
    ['usersPerTenant', plan.usersPerTenant],
    ['usersPerTenantMax', plan.usersPerTenantMax],
    ['ghostsPerTenant', plan.ghostsPerTenant],
    ['ghostTenantEvery', plan.ghostTenantEvery],
    ['locationsPerTenant', plan.locationsPerTenant],
    ['nameOffset', plan.nameOffset],
    ['bcryptCost', plan.bcryptCost],
  ]
  for (const [name, value] of counts) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new RangeError(`fleet data: ${name} must be a non-negative integer, got ${value}`)
  }
  if (plan.usersPerTenantMax !== undefined && plan.usersPerTenantMax < plan.usersPerTenant)
    throw new RangeError('fleet data: usersPerTenantMax is below usersPerTenant')
  if (plan.ghostTenantEvery === 0) throw new RangeError('fleet data: ghostTenantEvery must be at least 1')
  if (plan.tenantNames.length > plan.tenants) throw new RangeError(`fleet data: ${plan.tenantNames.length} tenantNames for ${plan.tenants} tenants`)
  if (plan.bcryptCost !== undefined && (plan.bcryptCost < 4 || plan.bcryptCost > 31)) throw new RangeError('fleet data: bcryptCost must be 4 to 31')
}

// ---------------------------------------------------------------------------
// One tenant

interface TenantTimes {
  created: number
  updated: number
  /** When the tenant's bulk import ran: about a third of its users share this exact second. */
  imported: number
}

function tenantTimes(plan: RaiDataPlan, tenantId: number): TenantTimes {
  const random = rng(plan.seed, 1, tenantId)
  const created = plan.nowS - Math.floor(random() * YEAR_S)
  const age = plan.nowS - created
  return {
    created,
    updated: created + Math.floor(random() * age),
    imported: Math.min(plan.nowS, created + Math.floor(random() * Math.min(age, 7 * DAY_S))),
  }
}

function tenantName(plan: RaiDataPlan, tenantId: number, random: () => number): string {
  const given = plan.tenantNames[tenantId - 1]
  if (given !== undefined) return given
  if (plan.nameStyle === 'business') return businessName((plan.nameOffset ?? 0) + tenantId - 1)
  return `${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} ${tenantId}`
}

function tenantDomain(plan: RaiDataPlan, tenantId: number, name: string): string {
  return plan.nameStyle === 'business' ? domainOf(name) : `t${tenantId}.example.com`
}

function tenantRow(plan: RaiDataPlan, tenantId: number): FleetRow {
  const random = rng(plan.seed, 2, tenantId)
  const times = tenantTimes(plan, tenantId)
  const roll = random()
  const contactFirst = pick(random, FIRST_NAMES)
  const contactLast = pick(random, LAST_NAMES)
  const name = tenantName(plan, tenantId, random)
  return {
    id: tenantId,
    name,
    primary_contact_name: `${contactFirst} ${contactLast}`,
    primary_contact_email: `owner@${tenantDomain(plan, tenantId, name)}`,
    status: roll < 0.85 ? 'active' : roll < 0.95 ? 'suspended' : 'cancelled',
    created_at: sqlTime(times.created),
    updated_at: sqlTime(times.updated),
  }
}

/** How many regular (own) users a tenant has. */
function staffCount(plan: RaiDataPlan, tenantId: number): number {
  const max = plan.usersPerTenantMax
  if (max === undefined || max === plan.usersPerTenant) return plan.usersPerTenant
  return plan.usersPerTenant + Math.floor(rng(plan.seed, 5, tenantId)() * (max - plan.usersPerTenant + 1))
}

function ghostCount(plan: RaiDataPlan, tenantId: number): number {
  return tenantId % (plan.ghostTenantEvery ?? 1) === 0 ? plan.ghostsPerTenant : 0
}

interface UserSlot {
  plan: RaiDataPlan
  tenantId: number
  /** The tenant's domain, for its users' emails. */
  domain: string
  times: TenantTimes
  id: number
  /** 0-based position among the tenant's users. */
  slot: number
  /** Fleet-wide number of a regular user: keeps generated emails unique. */
  ordinal: number
}

function staffRow(u: UserSlot): FleetRow {
  const {plan, times} = u
  const random = rng(plan.seed, 3, u.id)
  const hash = pick(random, passwordHashes(plan.bcryptCost ?? 4))
  const first = pick(random, FIRST_NAMES)
  const last = pick(random, LAST_NAMES)
  // A few users typed their address with capitals, and the app stored it as typed.
  const email =
    u.ordinal % 25 === 7
      ? `${asciiLetters(first)}.${asciiLetters(last)}.${u.ordinal}@${u.domain.replace(/^[a-z0-9]/, (c) => c.toUpperCase()).replace('.example.', '.Example.')}`
      : `${asciiLetters(first).toLowerCase()}.${asciiLetters(last).toLowerCase()}.${u.ordinal}@${u.domain}`
  let created: number
  let updated: number
  if (u.slot % 3 === 1) {
    created = times.imported
    updated = times.imported
  } else {
    created = times.created + Math.floor(random() * (plan.nowS - times.created))
    updated = random() < 0.5 ? created : created + Math.floor(random() * (plan.nowS - created))
  }
  return {
    id: u.id,
    tenant_id: u.tenantId,
    name: `${first} ${last}`,
    email,
    password: hash,
    status: random() < 0.9 ? 'active' : 'inactive',
    is_ghost: false,
    created_at: sqlTime(created),
    updated_at: sqlTime(updated),
  }
}

function memberHash(plan: RaiDataPlan, member: FleetMember, random: () => number): string {
  const hashes = passwordHashes(plan.bcryptCost ?? 4)
  return member.passwordVariant === undefined ? pick(random, hashes) : hashes[member.passwordVariant % hashes.length]
}

function memberRow(u: UserSlot, member: FleetMember): FleetRow {
  const random = rng(u.plan.seed, 6, u.id)
  const created = u.times.created + Math.floor(random() * (u.plan.nowS - u.times.created))
  return {
    id: u.id,
    tenant_id: u.tenantId,
    name: member.name,
    email: member.email,
    password: memberHash(u.plan, member, random),
    status: 'active',
    is_ghost: false,
    created_at: sqlTime(created),
    updated_at: sqlTime(created),
  }
}

function ghostRow(u: UserSlot, ghost: number): FleetRow {
  const random = rng(u.plan.seed, 3, u.id)
  return {
    id: u.id,
    tenant_id: u.tenantId,
    name: 'RAI Support',
    email: `support+t${u.tenantId}-${ghost}@ghost.example.com`,
    password: pick(random, passwordHashes(u.plan.bcryptCost ?? 4)),
    status: 'active',
    is_ghost: true,
    created_at: sqlTime(u.times.created),
    updated_at: sqlTime(u.times.created),
  }
}

// ---------------------------------------------------------------------------
// The tables

export function* tenantRows(plan: RaiDataPlan): Generator<FleetRow> {
  for (let t = 1; t <= plan.tenants; t++) yield tenantRow(plan, t)
}

/**
 * Every user of every tenant, in id order: a tenant's own staff, then its
 * members (shared emails), then its ghost users. Ids are contiguous per tenant.
 */
export function* userRows(plan: RaiDataPlan): Generator<FleetRow> {
  let id = 0
  let ordinal = 0
  for (let t = 1; t <= plan.tenants; t++) {
    const times = tenantTimes(plan, t)
    const domain = tenantDomain(plan, t, tenantName(plan, t, rng(plan.seed, 2, t)))
    const staff = staffCount(plan, t)
    let slot = 0
    const next = (): UserSlot => ({plan, tenantId: t, domain, times, id: ++id, slot: slot++, ordinal})
    for (let s = 0; s < staff; s++) {
      ordinal++
      yield staffRow(next())
    }
    for (const member of plan.members?.get(t) ?? []) yield memberRow(next(), member)
    const ghosts = ghostCount(plan, t)
    for (let g = 1; g <= ghosts; g++) yield ghostRow(next(), g)
  }
}

export function* locationRows(plan: RaiDataPlan): Generator<FleetRow> {
  for (let t = 1; t <= plan.tenants; t++) {
    const times = tenantTimes(plan, t)
    for (let k = 1; k <= plan.locationsPerTenant; k++) {
      const id = (t - 1) * plan.locationsPerTenant + k
      const random = rng(plan.seed, 4, id)
      const created = times.created + Math.floor(random() * (plan.nowS - times.created))
      yield {
        id,
        tenant_id: t,
        name: `${pick(random, CITIES)} #${k}`,
        created_at: sqlTime(created),
        updated_at: sqlTime(created + Math.floor(random() * (plan.nowS - created))),
      }
    }
  }
}

/** Which database's users a master's routing directory lists, and under which RDS id. */
export interface RoutedDatabase {
  plan: RaiDataPlan
  rdsInstanceId: number
}

/** The routing directory: one row per regular user of each routed database, mirroring it (email as stored, hash, status, timestamps). */
export function* routingRows(databases: readonly RoutedDatabase[]): Generator<FleetRow> {
  let id = 0
  for (const {plan, rdsInstanceId} of databases) {
    for (const user of userRows(plan)) {
      if (user.is_ghost) continue
      yield {
        id: ++id,
        email: user.email,
        tenant_id: user.tenant_id,
        rds_instance_id: rdsInstanceId,
        user_id: user.id,
        password_hash: user.password,
        status: user.status,
        created_at: user.created_at,
        updated_at: user.updated_at,
      }
    }
  }
}

/** The number of rows each table of `plan` gets (without routing). */
export function planCounts(plan: RaiDataPlan): {tenants: number; users: number; ghostUsers: number; locations: number} {
  let users = 0
  let ghostUsers = 0
  for (let t = 1; t <= plan.tenants; t++) {
    users += staffCount(plan, t) + (plan.members?.get(t)?.length ?? 0)
    ghostUsers += ghostCount(plan, t)
  }
  return {tenants: plan.tenants, users, ghostUsers, locations: plan.tenants * plan.locationsPerTenant}
}
