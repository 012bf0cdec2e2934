import type {CreatePlanInput} from '../billing/plan-changes.js'
import {type FleetMember, type RaiDataPlan} from './fleet-data.js'
import {rng} from './names.js'

/**
 * The demo's fleet: five RAI databases in SQLite files, one of them the master
 * holding the routing directory, one draining, one whose file is gone (a
 * server that is down), and one that came back after an outage, locked, with a
 * tenant creation that failed on it waiting; with accountants and consultants
 * whose one email is a user in several tenants on different servers.
 */

export const DEMO_SIZES = ['small', 'large'] as const
export type DemoSize = (typeof DEMO_SIZES)[number]

/** The seed of the demo's data: the same seed, the same fleet, on every machine. */
export const DEMO_SEED = 2026
/** The demo's data is dated up to this second, so that two builds are the same byte for byte. */
export const DEMO_NOW = new Date('2026-11-01T00:00:00Z')
/** Laravel's default bcrypt cost, so the demo's hashes look like production ones. */
const DEMO_BCRYPT_COST = 10

export interface DemoRds {
  name: string
  /** The SQLite file of its RAI database, relative to the demo's fleet directory. */
  file: string
  master: boolean
  state: 'online' | 'draining' | 'locked'
  /** Registered, but its file is not there: health says down, syncs are partial. */
  missing: boolean
  /**
   * The server that came back: its file is written only after a tenant
   * creation sent to it failed (it was down then), and an operator locked it
   * during the outage, so the job waits for `rds:online` and `job:retry`.
   */
  outage: boolean
  appUrl: string
  plan: RaiDataPlan
}

export interface DemoFleet {
  size: DemoSize
  rds: DemoRds[]
  /** The emails that are users of several tenants, each on at least two RDS. */
  sharedEmails: string[]
  /** A tenant to open for support, as RDS:REMOTE_ID: one that the first shared email belongs to, on the master. */
  supportTenant: string
}

interface SizeSpec {
  tenants: [number, number, number, number, number]
  users: [number, number]
  locations: number
  sharedPeople: number
}

const SIZES: Record<DemoSize, SizeSpec> = {
  // A few hundred tenants, a few thousand users.
  small: {tenants: [120, 100, 90, 60, 8], users: [2, 14], locations: 2, sharedPeople: 8},
  // Tens of thousands of tenants and about a million users, all in the routing directory.
  large: {tenants: [12_000, 10_000, 10_000, 8_000, 800], users: [10, 40], locations: 3, sharedPeople: 200},
}

const SERVERS = [
  {name: 'eu-central-1', master: true, state: 'online', missing: false, outage: false, appUrl: 'https://eu.rai.example.com'},
  {name: 'eu-west-1', master: false, state: 'online', missing: false, outage: false, appUrl: 'https://eu.rai.example.com'},
  {name: 'us-east-1', master: false, state: 'draining', missing: false, outage: false, appUrl: 'https://us.rai.example.com'},
  {name: 'us-west-2', master: false, state: 'online', missing: true, outage: false, appUrl: 'https://us.rai.example.com'},
  {name: 'ap-southeast-2', master: false, state: 'locked', missing: false, outage: true, appUrl: 'https://ap.rai.example.com'},
] as const

/** The servers shared people have users on: all but the one that came back (last), which takes no change in the tour. */
const SHARING_SERVERS = SERVERS.length - 1

/**
 * The demo's subscription plans: a restaurant SaaS priced per location by the
 * month in USD, the same by the year, and a plan in EUR for Europe.
 */
export const DEMO_PLANS: readonly CreatePlanInput[] = [
  {
    code: 'starter',
    name: 'Starter',
    currency: 'USD',
    interval: 'month',
    price: '49.00',
    unit: 'location',
    unitPrice: '19.00',
    includedUnits: 1,
    trialDays: 14,
    features: ['pos', 'online-orders', 'reports'],
  },
  {
    code: 'pro-yearly',
    name: 'Pro yearly',
    currency: 'USD',
    interval: 'year',
    price: '990.00',
    unit: 'location',
    unitPrice: '190.00',
    includedUnits: 2,
    trialDays: 30,
    features: ['pos', 'online-orders', 'reports', 'loyalty', 'inventory'],
  },
  {code: 'eu-team', name: 'Team (EU)', currency: 'EUR', interval: 'quarter', price: '129.00', features: ['pos', 'reports', 'sepa-invoices']},
]

const SHARED_FIRST = ['Jordan', 'Alex', 'Sam', 'Robin', 'Taylor', 'Morgan', 'Casey', 'Jamie', 'Avery', 'Riley'] as const
const SHARED_LAST = ['Lee', 'Morgan', 'Okafor', 'Lindqvist', 'Haddad', 'Moreau', 'Costa', 'Yamamoto', 'Brennan', 'Ivanova'] as const
const SHARED_FIRMS = ['ledgerline-accounting', 'northwind-consulting', 'brightbooks', 'taxwise-partners', 'clearpath-advisors'] as const

/** Which tenants each shared person belongs to: 3 to 5 tenants, on servers taken in turn, so always at least two. */
function sharedMemberships(spec: SizeSpec): {
  emails: string[]
  byRds: Array<Map<number, FleetMember[]>>
  first: {rds: number; tenant: number}
} {
  const byRds = SERVERS.map(() => new Map<number, FleetMember[]>())
  const emails: string[] = []
  let first = {rds: 0, tenant: 1}
  for (let k = 0; k < spec.sharedPeople; k++) {
    const random = rng(DEMO_SEED, 7, k)
    const given = SHARED_FIRST[k % SHARED_FIRST.length]
    // Every pair of names once (for the first 100), and neighbours with different family names.
    const family = SHARED_LAST[(7 * k + Math.floor(k / SHARED_FIRST.length)) % SHARED_LAST.length]
    const round = Math.floor(k / (SHARED_FIRST.length * SHARED_LAST.length))
    const email = `${given}.${family}${round > 0 ? round + 1 : ''}@${SHARED_FIRMS[k % SHARED_FIRMS.length]}.example.com`.toLowerCase()
    emails.push(email)
    const count = 3 + Math.floor(random() * 3)
    const taken = new Set<string>()
    for (let j = 0; j < count; j++) {
      const rds = (k + j) % SHARING_SERVERS
      let tenant = 1 + Math.floor(random() * spec.tenants[rds])
      while (taken.has(`${rds}:${tenant}`)) tenant = (tenant % spec.tenants[rds]) + 1
      taken.add(`${rds}:${tenant}`)
      if (k === 0 && j === 0) first = {rds, tenant}
      const members = byRds[rds].get(tenant) ?? []
      // One password everywhere, as password:sync leaves it; but the first person's differs on their second tenant: the drift the tour finds and fixes.
      members.push({name: `${given} ${family}`, email, passwordVariant: k === 0 && j === 1 ? 3 : k % 6})
      byRds[rds].set(tenant, members)
    }
  }
  return {emails, byRds, first}
}

export function demoFleet(size: DemoSize): DemoFleet {
  const spec = SIZES[size]
  const shared = sharedMemberships(spec)
  let nameOffset = 0
  const rds = SERVERS.map((server, index): DemoRds => {
    const plan: RaiDataPlan = {
      seed: DEMO_SEED + index,
      nowS: Math.floor(DEMO_NOW.getTime() / 1000),
      tenants: spec.tenants[index],
      usersPerTenant: spec.users[0],
      usersPerTenantMax: spec.users[1],
      ghostsPerTenant: 1,
      ghostTenantEvery: 8,
      locationsPerTenant: spec.locations,
      tenantNames: [],
      nameStyle: 'business',
      nameOffset,
      members: shared.byRds[index],
      bcryptCost: DEMO_BCRYPT_COST,
    }
    nameOffset += spec.tenants[index]
    return {...server, file: `${server.name}.sqlite`, plan}
  })
  return {size, rds, sharedEmails: shared.emails, supportTenant: `${SERVERS[shared.first.rds].name}:${shared.first.tenant}`}
}
