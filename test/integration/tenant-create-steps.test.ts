import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UserError} from '../../src/lib/errors/index.js'
import {verifyPassword} from '../../src/lib/password/bcrypt.js'
import {NoPlacementError} from '../../src/lib/placement/placement.js'
import type {TenantCreateInput} from '../../src/lib/provisioning/input.js'
import {tenantCreateKind} from '../../src/lib/provisioning/kind.js'
import {TenantMismatchError} from '../../src/lib/provisioning/verify.js'
import {buildProvisioningFleet, OWNER_PASSWORD, prepared, tenantRows, type ProvisioningFleet} from '../support/provisioning.js'
import type {FixtureEngine} from '../support/rai-fixture.js'
import {stepHarness} from '../support/step-harness.js'

const STEPS = tenantCreateKind.steps.map((s) => s.name)
const OWNER = 'hana@harbor.example'

/** A promise's outcome as a value, so a refusal is asserted without a rejected promise left unhandled. */
async function settle<T>(work: Promise<T>): Promise<{ok: true; value: T} | {ok: false; error: unknown}> {
  try {
    return {ok: true, value: await work}
  } catch (error) {
    return {ok: false, error}
  }
}

describe.each<FixtureEngine>(['sqlite', 'mysql'])('tenant creation steps on a %s fleet', (engine) => {
  let fleet: ProvisioningFleet
  let jobId = 1000
  beforeAll(async () => {
    fleet = await buildProvisioningFleet(engine)
  }, 60_000)
  afterAll(async () => {
    await fleet?.close()
  })

  const job = async (name: string, overrides: Parameters<typeof prepared>[1] = {}) => {
    const {input} = await prepared(fleet.ctx, {name, ...overrides})
    return {id: ++jobId, input}
  }
  const harness = (j: {id: number; input: TenantCreateInput}) => stepHarness(tenantCreateKind, fleet.ctx, j)

  it('writes one tenant, its owner ($2y$, the prepared hash), locations, routing entry, registry row, subscription and ghosts, and verifies them', async () => {
    const j = await job('Harbor Bakery')
    const h = harness(j)
    await h.runAll()
    const rows = await tenantRows(fleet, 'Harbor Bakery', OWNER)
    // Placement: the least loaded server; every fixture RDS has 3 tenants, so the lowest id, east, ties first.
    expect(h.outputs.place).toMatchObject({rdsName: 'east'})
    expect(rows.tenants).toEqual([{rds: 'east', id: h.outputs.tenant.tenantId}])
    expect(rows.owners).toHaveLength(1)
    expect(rows.owners[0].password).toMatch(/^\$2y\$04\$/)
    expect(await verifyPassword(OWNER_PASSWORD, rows.owners[0].password)).toBe(true)
    expect(rows.ghosts).toBe(fleet.ghostOperators)
    expect(rows.users).toBe(1 + fleet.ghostOperators)
    expect(rows.locations.sort()).toEqual(['Location 1', 'Location 2'])
    expect(rows.routing).toEqual([
      {id: h.outputs.routing.routingId, tenantId: h.outputs.tenant.tenantId, userId: rows.owners[0].id, passwordHash: rows.owners[0].password},
    ])
    expect(rows.registry).toEqual([{id: h.outputs.register.tenantMasterId, rdsId: fleet.rdsIds.east, remoteTenantId: h.outputs.tenant.tenantId}])
    expect(rows.billingEvents).toBe(1)
    expect(rows.reservations).toEqual([{rdsId: fleet.rdsIds.east, open: false, released: false}])
    expect(h.outputs.verify).toMatchObject({ghosts: fleet.ghostOperators})
    // No step output carries the hash or the password.
    expect(JSON.stringify(h.outputs)).not.toMatch(/\$2y\$|correct horse/)
    expect(JSON.stringify(j.input)).not.toMatch(/\$2y\$|correct horse/)
    expect(await fleet.issues()).toEqual([])
  })

  it.each(STEPS)('interrupted after %s wrote but before its output was recorded, a re-run finds what it wrote: one of everything', async (step) => {
    const name = `Unrecorded ${step}`
    const email = `owner.${step}@example.com`
    const j = await job(name, {owner: {name: 'Owner', email, password: null}, plan: undefined})
    const h = harness(j)
    for (const before of STEPS.slice(0, STEPS.indexOf(step))) await h.run(before)
    await h.run(step, {unrecorded: true})
    await h.runAll()
    const rows = await tenantRows(fleet, name, email)
    expect(rows.tenants).toHaveLength(1)
    expect(rows.owners).toHaveLength(1)
    // No password given: an unusable value, no bcrypt hash anyone could match.
    expect(rows.owners[0].password).toMatch(/^!/)
    expect(rows.locations).toHaveLength(2)
    expect(rows.routing).toHaveLength(1)
    expect(rows.registry).toHaveLength(1)
    expect(rows.ghosts).toBe(fleet.ghostOperators)
    expect(await fleet.issues()).toEqual([])
  })

  it.each(STEPS.slice(0, -1))('canceled after %s (its output unrecorded), the compensations remove every row the job wrote and free the slot', async (step) => {
    const name = `Canceled ${step}`
    const j = await job(name, {owner: {name: 'Owner', email: `c.${step}@example.com`, password: 'a password of some length'}})
    const h = harness(j)
    for (const before of STEPS.slice(0, STEPS.indexOf(step))) await h.run(before)
    await h.run(step, {unrecorded: true})
    await h.compensateAll()
    // Twice: compensations are idempotent.
    await h.compensateAll()
    const rows = await tenantRows(fleet, name, `c.${step}@example.com`)
    expect(rows).toMatchObject({tenants: [], users: 0, locations: [], routing: [], registry: [], billingEvents: 0})
    expect(rows.reservations).toEqual([{rdsId: expect.any(Number), open: false, released: true}])
    expect(await fleet.issues()).toEqual([])
  })

  it('a tenant name already on the chosen server fails the tenant step; the cancel leaves nothing', async () => {
    // Given a tenant of that name on east, the server placement chooses.
    const j = await job('Duplicate Co', {rds: 'east'})
    await fleet.on('east', (db) => db('tenants').insert({name: 'duplicate co', status: 'active'}))
    const h = harness(j)
    await h.run('place')
    const outcome = await settle(h.run('tenant'))
    expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
    expect((outcome as {error: Error}).error.message).toMatch(/RDS east already has a tenant named "Duplicate Co"/)
    await h.compensateAll()
    const rows = await tenantRows(fleet, 'duplicate co', OWNER)
    expect(rows.tenants).toHaveLength(1)
    expect(rows.reservations).toEqual([])
    await fleet.on('east', (db) => db('tenants').whereRaw('LOWER(name) = ?', ['duplicate co']).delete())
  })

  it("a second creation of a tenant, placed in the second the first one was, neither takes the first one's rows as its own nor removes them when canceled", async () => {
    const a = harness(await job('Same Second Co', {rds: 'east', plan: undefined}))
    await a.runAll()
    const b = harness(await job('Same Second Co', {rds: 'east', plan: undefined}))
    await b.run('place')
    // Its rows would carry the same created_at (the fleet's datetimes have no fraction of a second) and the same contact.
    b.outputs.place = {...b.outputs.place, reservedAt: a.outputs.place.reservedAt}
    const outcome = await settle(b.run('tenant'))
    expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
    expect((outcome as {error: Error}).error.message).toMatch(/RDS east already has a tenant named "Same Second Co"/)
    await b.compensateAll()
    const rows = await tenantRows(fleet, 'Same Second Co', OWNER)
    expect(rows.tenants).toEqual([{rds: 'east', id: a.outputs.tenant.tenantId}])
    expect(rows.owners).toHaveLength(1)
    expect(rows.registry).toHaveLength(1)
    await a.compensateAll()
    expect(await fleet.issues()).toEqual([])
  })

  it('an owner email that already has a user on the tenant fails the owner step without touching that user', async () => {
    const j = await job('Owner Clash')
    const h = harness(j)
    await h.run('place')
    await h.run('tenant')
    const tenantId = Number(h.outputs.tenant.tenantId)
    const rdsName = String(h.outputs.place.rdsName) as 'east' | 'west' | 'north'
    await fleet.on(rdsName, (db) => db('users').insert({tenant_id: tenantId, name: 'Someone', email: OWNER, password: '!x', status: 'active', is_ghost: false}))
    const outcome = await settle(h.run('owner'))
    expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
    expect((outcome as {error: Error}).error.message).toMatch(/already has a user/)
    // The cancel removes the job's tenant and what hangs from it.
    await h.compensateAll()
    expect((await tenantRows(fleet, 'Owner Clash', OWNER)).tenants).toEqual([])
    expect(await fleet.issues()).toEqual([])
  })

  it('a step that writes to a locked RDS fails before touching it, naming rds:online; once online again, it runs', async () => {
    const j = await job('Locked Out', {rds: 'east'})
    const h = harness(j)
    await h.run('place')
    await fleet.ctx.db('rds_instances').where({name: 'east'}).update({state: 'locked'})
    try {
      const outcome = await settle(h.run('tenant'))
      expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
      expect((outcome as {error: Error}).error.message).toBe('RDS east is locked, and takes no change until `raiops rds:online east`')
      expect((await tenantRows(fleet, 'Locked Out', OWNER)).tenants).toEqual([])
    } finally {
      await fleet.ctx.db('rds_instances').where({name: 'east'}).update({state: 'online'})
    }
    await h.run('tenant')
    expect((await tenantRows(fleet, 'Locked Out', OWNER)).tenants).toHaveLength(1)
    await h.compensateAll()
    expect((await tenantRows(fleet, 'Locked Out', OWNER)).tenants).toEqual([])
    expect(await fleet.issues()).toEqual([])
  })

  it('verify reads everything back and names what differs', async () => {
    const j = await job('Drifted')
    const h = harness(j)
    for (const step of STEPS.slice(0, STEPS.indexOf('verify'))) await h.run(step)
    const rdsName = String(h.outputs.place.rdsName) as 'east' | 'west' | 'north'
    await fleet.on(rdsName, (db) =>
      db('locations')
        .where({tenant_id: Number(h.outputs.tenant.tenantId), name: 'Location 2'})
        .update({name: 'Renamed'}),
    )
    const outcome = await settle(h.run('verify'))
    const error = (outcome as {error: TenantMismatchError}).error
    expect(error).toBeInstanceOf(TenantMismatchError)
    expect(error.differences).toEqual([{where: 'rds:locations', what: 'names', expected: '["Location 1","Location 2"]', actual: '["Location 1","Renamed"]'}])
    await h.compensateAll()
    expect(await fleet.issues()).toEqual([])
  })

  it('with every server draining, locked or down, nothing can be prepared', async () => {
    await fleet.ctx.db('rds_instances').where({name: 'east'}).update({state: 'draining'})
    await fleet.ctx.db('rds_instances').where({name: 'west'}).update({state: 'locked'})
    await fleet.ctx.db('rds_instances').where({name: 'north'}).update({health_status: 'down'})
    try {
      const outcome = await settle(prepared(fleet.ctx, {name: 'Nowhere'}))
      expect((outcome as {error: Error}).error).toBeInstanceOf(NoPlacementError)
    } finally {
      await fleet.ctx.db('rds_instances').update({state: 'online', health_status: 'unknown'})
    }
  })
})
