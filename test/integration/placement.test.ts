import type {Knex} from 'knex'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openControlDb} from '../../src/lib/db/control-db.js'
import {RDS_TABLE, RESERVATIONS_TABLE, TENANT_MASTER_TABLE, type HealthStatus, type RdsState} from '../../src/lib/db/tables.js'
import {UserError} from '../../src/lib/errors/index.js'
import {
  attachReservation,
  choosePlacement,
  explainPlacement,
  NoPlacementError,
  releaseReservation,
  reserveSlot,
  type Reservation,
} from '../../src/lib/placement/placement.js'
import {changeContext} from '../support/context.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

const T0 = new Date('2026-11-28T10:00:00.000Z')

interface RdsSpec {
  name: string
  state?: RdsState
  active?: boolean
  health?: HealthStatus
  latencyMs?: number | null
  tenants?: number
}

/** Registry rows as the placement reads them: no server behind them is needed, placement never connects. */
async function registry(db: Knex, specs: RdsSpec[]): Promise<Record<string, number>> {
  const ids: Record<string, number> = {}
  await db(RESERVATIONS_TABLE).delete()
  await db(TENANT_MASTER_TABLE).delete()
  await db(RDS_TABLE).delete()
  for (const spec of specs) {
    await db(RDS_TABLE).insert({
      name: spec.name,
      engine: 'sqlite',
      rai_database: `/nonexistent/${spec.name}.sqlite`,
      is_master: false,
      is_active: spec.active ?? true,
      state: spec.state ?? 'online',
      health_status: spec.health ?? 'healthy',
      health_latency_ms: spec.latencyMs ?? null,
      created_at: T0,
      updated_at: T0,
    })
    const row = await db(RDS_TABLE).where({name: spec.name}).first('id')
    ids[spec.name] = Number(row!.id)
    for (let i = 1; i <= (spec.tenants ?? 0); i++)
      await db(TENANT_MASTER_TABLE).insert({
        rds_instance_id: ids[spec.name],
        remote_tenant_id: i,
        name: `${spec.name} tenant ${i}`,
        cached_location_count: 2,
        created_at: T0,
        updated_at: T0,
      })
  }
  return ids
}

/** A promise's outcome as a value, so a refusal is asserted without a rejected promise left unhandled. */
async function settle<T>(work: Promise<T>): Promise<{ok: true; value: T} | {ok: false; error: unknown}> {
  try {
    return {ok: true, value: await work}
  } catch (error) {
    return {ok: false, error}
  }
}

describe.each(CONTROL_ENGINES)('placement on a %s control database', (engine) => {
  let control: TestControlDb
  beforeAll(async () => {
    control = await createControlDb(engine)
  })
  afterAll(async () => {
    await control?.drop()
  })
  const ctx = () => changeContext(control.db, {now: T0})

  it('ranks the candidates by load, then health, then latency, and says why each other server is excluded', async () => {
    await registry(control.db, [
      {name: 'busy', tenants: 6},
      {name: 'slow', tenants: 2, latencyMs: 90},
      {name: 'fast', tenants: 2, latencyMs: 5},
      {name: 'shaky', tenants: 2, health: 'degraded', latencyMs: 1},
      {name: 'drain', state: 'draining'},
      {name: 'lock', state: 'locked'},
      {name: 'dead', health: 'down'},
      {name: 'off', active: false},
      {name: 'full', tenants: 10},
    ])
    const report = await explainPlacement(ctx(), {capacity: 10})
    expect(report.chosen?.name).toBe('fast')
    expect(report.rds.map((r) => [r.rds.name, r.rank, r.excluded?.split(':')[0] ?? null])).toEqual([
      ['fast', 1, null],
      ['slow', 2, null],
      ['shaky', 3, null],
      ['busy', 4, null],
      ['drain', null, 'draining'],
      ['lock', null, 'locked'],
      ['dead', null, 'down at its last health check'],
      ['off', null, 'inactive'],
      ['full', null, 'full'],
    ])
    expect(report.rds.find((r) => r.rds.name === 'busy')).toMatchObject({tenants: 6, reserved: 0, load: 0.6, locations: 12})
    expect(report.rds.find((r) => r.rds.name === 'slow')?.reason).toBe('same load and health, 90 ms')
  })

  it('refuses before anything is written when no server can take a tenant, naming each reason', async () => {
    await registry(control.db, [
      {name: 'a', state: 'draining'},
      {name: 'b', state: 'locked'},
      {name: 'c', health: 'down'},
    ])
    const outcome = await settle(choosePlacement(ctx(), {capacity: 10}))
    expect(outcome.ok).toBe(false)
    const error = (outcome as {error: NoPlacementError}).error
    expect(error).toBeInstanceOf(NoPlacementError)
    expect(error.exitCode).toBe(2)
    expect(error.message).toMatch(/a draining.*b locked.*c down/)
    expect(error.report.rds.every((r) => r.rank === null)).toBe(true)
    const reserved = await settle(reserveSlot(ctx(), {jobId: 1, tenantName: 'X', capacity: 10}))
    expect(reserved.ok).toBe(false)
    expect(await control.db(RESERVATIONS_TABLE).count({n: '*'})).toEqual([{n: expect.anything()}])
    expect(Number((await control.db(RESERVATIONS_TABLE).count({n: '*'}))[0].n)).toBe(0)
  })

  it('refuses a named server placement excludes', async () => {
    await registry(control.db, [{name: 'ok'}, {name: 'drain', state: 'draining'}])
    const outcome = await settle(choosePlacement(ctx(), {capacity: 10, rds: 'drain'}))
    expect(outcome.ok).toBe(false)
    expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
    expect((outcome as {error: Error}).error.message).toMatch(/drain cannot take a new tenant: draining/)
    expect(await choosePlacement(ctx(), {capacity: 10, rds: 'ok'})).toMatchObject({name: 'ok'})
  })

  it('a reservation counts against capacity until it is attached to its tenant or released, and is found again by its job', async () => {
    const ids = await registry(control.db, [{name: 'only', tenants: 1}])
    const first = await reserveSlot(ctx(), {jobId: 11, tenantName: 'Acme', capacity: 2})
    expect(first).toMatchObject({jobId: 11, rds: {id: ids.only, name: 'only'}, taken: true})
    // The same job again (a retry): the same reservation, not a second one.
    expect(await reserveSlot(ctx(), {jobId: 11, tenantName: 'Acme', capacity: 2})).toMatchObject({id: first.id, taken: false})
    expect((await explainPlacement(ctx(), {capacity: 2})).rds[0]).toMatchObject({tenants: 1, reserved: 1, excluded: 'full: 2 of 2 (1 reserved)'})
    const full = await settle(reserveSlot(ctx(), {jobId: 12, tenantName: 'Other', capacity: 2}))
    expect((full as {error: unknown}).error).toBeInstanceOf(NoPlacementError)
    // Released: the slot is free again; the released job is never placed again.
    expect(await releaseReservation(ctx(), {jobId: 11})).toBe(true)
    expect(await releaseReservation(ctx(), {jobId: 11})).toBe(false)
    expect((await explainPlacement(ctx(), {capacity: 2})).rds[0]).toMatchObject({reserved: 0, rank: 1})
    const second = await reserveSlot(ctx(), {jobId: 12, tenantName: 'Other', capacity: 2})
    // Attached: the tenant_master row counts instead.
    await control.db(TENANT_MASTER_TABLE).insert({rds_instance_id: ids.only, remote_tenant_id: 99, name: 'Other', created_at: T0, updated_at: T0})
    const tm = await control.db(TENANT_MASTER_TABLE).where({remote_tenant_id: 99}).first('id')
    await attachReservation(control.db, {jobId: second.jobId, tenantMasterId: Number(tm!.id)})
    expect((await explainPlacement(ctx(), {capacity: 3})).rds[0]).toMatchObject({tenants: 2, reserved: 0})
  })

  it('two open creations of one name on one server: the second is refused', async () => {
    await registry(control.db, [{name: 'only'}])
    await reserveSlot(ctx(), {jobId: 21, tenantName: 'Same Name', capacity: 10})
    const outcome = await settle(reserveSlot(ctx(), {jobId: 22, tenantName: 'same name', capacity: 10}))
    expect((outcome as {error: Error}).error).toBeInstanceOf(UserError)
    expect((outcome as {error: Error}).error.message).toMatch(/another job is creating a tenant named "same name" on only/)
  })

  it('creations at once spread over servers of equal load as the rule says: each place counts the ones before it', async () => {
    await registry(control.db, [{name: 'a'}, {name: 'b'}, {name: 'c'}])
    const separate = engine !== 'sqlite'
    const pools = await Promise.all([1, 2, 3, 4, 5, 6].map(() => (separate ? openControlDb(control.target) : control.db)))
    try {
      const taken = await Promise.all(
        pools.map((db, i) => reserveSlot(changeContext(db, {now: T0}), {jobId: 200 + i, tenantName: `Spread ${i}`, capacity: 100})),
      )
      const per = new Map<string, number>()
      for (const r of taken) per.set(r.rds.name, (per.get(r.rds.name) ?? 0) + 1)
      expect(Object.fromEntries(per)).toEqual({a: 2, b: 2, c: 2})
    } finally {
      if (separate) await Promise.all(pools.map((db) => db.destroy()))
    }
  })

  it('creations racing for the last free slots from separate connections: each slot is taken once', async () => {
    // Two servers at capacity − 1: two slots in all, five creations at once, each from its own connection pool (as separate
    // processes). better-sqlite3 waits for SQLite's write lock synchronously, so pools in one process would block each other
    // for the busy timeout: there the five share the process's one connection (other processes queue on BEGIN IMMEDIATE).
    const ids = await registry(control.db, [
      {name: 'left', tenants: 3},
      {name: 'right', tenants: 3},
    ])
    const separate = engine !== 'sqlite'
    const pools = await Promise.all([1, 2, 3, 4, 5].map(() => (separate ? openControlDb(control.target) : control.db)))
    try {
      const outcomes = await Promise.all(
        pools.map((db, i) => settle(reserveSlot(changeContext(db, {now: T0}), {jobId: 100 + i, tenantName: `Racer ${i}`, capacity: 4}))),
      )
      const won = outcomes.filter((o): o is {ok: true; value: Reservation} => o.ok).map((o) => o.value)
      const lost = outcomes.filter((o) => !o.ok) as Array<{ok: false; error: unknown}>
      expect(won.map((r) => r.rds.name).sort()).toEqual(['left', 'right'])
      expect(lost).toHaveLength(3)
      for (const l of lost) expect(l.error).toBeInstanceOf(NoPlacementError)
      const rows = await control.db(RESERVATIONS_TABLE).select('rds_instance_id')
      expect(rows.map((r) => Number(r.rds_instance_id)).sort()).toEqual([ids.left, ids.right].sort())
    } finally {
      if (separate) await Promise.all(pools.map((db) => db.destroy()))
    }
  })
})
