import bcrypt from 'bcryptjs'
import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'

import {
  FLEET_USER_PASSWORD,
  locationRows,
  planCounts,
  routingRows,
  tenantRows,
  userRows,
  type FleetRow,
  type RaiDataPlan,
} from '../../src/lib/demo/fleet-data.js'
import {demoFleet, type DemoFleet} from '../../src/lib/demo/fleet.js'

/** Registry ids the routing rows are written with (any fixed numbers do). */
const IDS = [11, 12, 13, 14, 15]

function digest(rows: Iterable<FleetRow>): string {
  const hash = createHash('sha256')
  let count = 0
  for (const row of rows) {
    hash.update(`${JSON.stringify(row)}\n`)
    count++
  }
  return `${count}:${hash.digest('hex')}`
}

function routes(fleet: DemoFleet) {
  return fleet.rds.map((server, index) => ({plan: server.plan, rdsInstanceId: IDS[index]}))
}

/** One digest per table of every RDS of the fleet, and of the master's routing directory. */
function fleetDigests(fleet: DemoFleet): Record<string, string> {
  const digests: Record<string, string> = {}
  for (const server of fleet.rds) {
    digests[`${server.name}.tenants`] = digest(tenantRows(server.plan))
    digests[`${server.name}.users`] = digest(userRows(server.plan))
    digests[`${server.name}.locations`] = digest(locationRows(server.plan))
  }
  digests.routing = digest(routingRows(routes(fleet)))
  return digests
}

function usersOf(plan: RaiDataPlan): FleetRow[] {
  return [...userRows(plan)]
}

describe('the demo fleet generator', () => {
  const fleet = demoFleet('small')

  it('gives the same rows for the same plan, every time', () => {
    const again = demoFleet('small')
    expect(again.sharedEmails).toEqual(fleet.sharedEmails)
    expect(again.supportTenant).toBe(fleet.supportTenant)
    const first = fleetDigests(fleet)
    expect(Object.keys(first)).toHaveLength(16)
    expect(fleetDigests(again)).toEqual(first)
  })

  it('gives other rows for another seed', () => {
    const server = fleet.rds[1]
    const reseeded: RaiDataPlan = {...server.plan, seed: server.plan.seed + 1000}
    expect(digest(userRows(reseeded))).not.toBe(digest(userRows(server.plan)))
    expect(digest(tenantRows(reseeded))).not.toBe(digest(tenantRows(server.plan)))
    expect(digest(locationRows(reseeded))).not.toBe(digest(locationRows(server.plan)))
  })

  it('is five RDS with a few hundred tenants: one master, us-east-1 draining, us-west-2 missing, ap-southeast-2 back from an outage, locked', () => {
    expect(fleet.rds.map((r) => r.name)).toEqual(['eu-central-1', 'eu-west-1', 'us-east-1', 'us-west-2', 'ap-southeast-2'])
    expect(fleet.rds.filter((r) => r.outage).map((r) => [r.name, r.state])).toEqual([['ap-southeast-2', 'locked']])
    expect(fleet.rds.filter((r) => r.master).map((r) => r.name)).toEqual(['eu-central-1'])
    expect(fleet.rds.filter((r) => r.state === 'draining').map((r) => r.name)).toEqual(['us-east-1'])
    expect(fleet.rds.filter((r) => r.missing).map((r) => r.name)).toEqual(['us-west-2'])
    const tenants = fleet.rds.reduce((sum, r) => sum + r.plan.tenants, 0)
    expect(tenants).toBeGreaterThanOrEqual(200)
    expect(tenants).toBeLessThan(1000)
  })

  it('counts what it generates', () => {
    for (const server of fleet.rds) {
      const users = usersOf(server.plan)
      expect(planCounts(server.plan)).toEqual({
        tenants: [...tenantRows(server.plan)].length,
        users: users.filter((u) => !u.is_ghost).length,
        ghostUsers: users.filter((u) => u.is_ghost).length,
        locations: [...locationRows(server.plan)].length,
      })
    }
  })

  it('routes every regular user of every RDS, under its RDS id, and no ghost user', () => {
    const routing = [...routingRows(routes(fleet))]
    for (const [index, server] of fleet.rds.entries()) {
      const users = usersOf(server.plan)
      const ghosts = users.filter((u) => u.is_ghost)
      expect(ghosts.length).toBeGreaterThan(0)
      const routed = routing.filter((r) => r.rds_instance_id === IDS[index])
      const key = (r: FleetRow) => `${r.tenant_id}/${r.email}`
      expect(routed.map((r) => `${r.tenant_id}/${r.user_id}/${r.email}/${r.password_hash}`).sort()).toEqual(
        users
          .filter((u) => !u.is_ghost)
          .map((u) => `${u.tenant_id}/${u.id}/${u.email}/${u.password}`)
          .sort(),
      )
      const routedKeys = new Set(routed.map(key))
      for (const ghost of ghosts) expect(routedKeys.has(key(ghost))).toBe(false)
    }
  })

  it('has shared emails, each a user of several tenants on at least two RDS', () => {
    expect(fleet.sharedEmails.length).toBeGreaterThan(1)
    const rdsOf = new Map<string, Set<string>>()
    for (const server of fleet.rds) {
      for (const user of usersOf(server.plan).filter((u) => !u.is_ghost)) {
        const names = rdsOf.get(String(user.email)) ?? new Set<string>()
        names.add(server.name)
        rdsOf.set(String(user.email), names)
      }
    }
    for (const email of fleet.sharedEmails) expect(rdsOf.get(email)?.size ?? 0, email).toBeGreaterThanOrEqual(2)
    // Staff emails are unique across the fleet: of the regular users, only the shared ones are on several RDS.
    const spread = [...rdsOf].filter(([, names]) => names.size > 1).map(([email]) => email)
    expect(spread.sort()).toEqual([...fleet.sharedEmails].sort())
  })

  it('stores Laravel bcrypt hashes ($2y$) of FLEET_USER_PASSWORD', async () => {
    const users = usersOf(fleet.rds[0].plan)
    for (const user of users) expect(String(user.password)).toMatch(/^\$2y\$10\$[./A-Za-z0-9]{53}$/)
    const regular = users.find((u) => !u.is_ghost)!
    const ghost = users.find((u) => u.is_ghost)!
    expect(await bcrypt.compare(FLEET_USER_PASSWORD, String(regular.password))).toBe(true)
    expect(await bcrypt.compare(FLEET_USER_PASSWORD, String(ghost.password))).toBe(true)
    expect(await bcrypt.compare(`${FLEET_USER_PASSWORD}x`, String(regular.password))).toBe(false)
  })
})
