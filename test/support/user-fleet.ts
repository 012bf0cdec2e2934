/**
 * A fleet of three RDS for the user:find and user:list tests: `east` (the
 * master, its routing directory listing every RDS's users), `west` and `north`
 * (behind fault proxies on a server engine), each with generated tenants and
 * users, and one person with a user on a tenant of each RDS. The tenant
 * registry and the routing cache are filled by the real syncs.
 */
import type {Knex} from 'knex'

import {addRds} from '../../src/lib/rds/service.js'
import {runRoutingSync, runTenantSync} from '../../src/lib/sync/index.js'
import {makeContext} from './context.js'
import {createControlDb, type ControlEngineName, type TestControlDb} from './control-db.js'
import {startFaultProxy, type FaultProxy} from './fault-proxy.js'
import {createRaiFixture, type FixtureEngine, type RaiFixture} from './rai-fixture.js'

export const SHARED_EMAIL = 'pat.shared@example.com'

export type RdsName = 'east' | 'west' | 'north'

/** Where the shared person has a user: RDS, tenant there, user id there. */
export interface SharedUser {
  rds: RdsName
  remoteTenantId: number
  userId: number
  /** As stored on the RDS (one has capitals). */
  email: string
}

export interface UserFleet {
  engine: FixtureEngine
  control: {db: Knex}
  ctx: ReturnType<typeof makeContext>
  fixtures: Record<RdsName, RaiFixture>
  rdsIds: Record<RdsName, number>
  /** west and north's proxies (server engines only). */
  proxies: Partial<Record<RdsName, FaultProxy>>
  shared: SharedUser[]
  /** Runs `work` on a direct connection to an RDS. */
  on<T>(rds: RdsName, work: (db: Knex) => Promise<T>): Promise<T>
  /** The syncs again (tenants forced, routing incremental). */
  resync(): Promise<void>
  close(): Promise<void>
}

const sqlTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')

/** The fleet on `engine`, registered in a new control database on `controlEngine`, or in the one given (left open). */
export async function buildUserFleet(engine: FixtureEngine, controlEngine: ControlEngineName | {db: Knex}): Promise<UserFleet> {
  const undo: Array<() => Promise<unknown>> = []
  const close = async () => {
    for (const fn of undo.splice(0).reverse()) await fn().catch(() => undefined)
  }
  try {
    const control = typeof controlEngine === 'string' ? await createControlDb(controlEngine) : {db: controlEngine.db}
    if (typeof controlEngine === 'string') undo.push(() => (control as TestControlDb).drop())
    const ctx = makeContext(control.db, {connectTimeoutMs: 1000})
    undo.push(() => ctx.close())
    const plan = {engine, tenants: 3, usersPerTenant: 3, ghostUsersPerTenant: 1, locationsPerTenant: 1}
    const [east, west, north] = await Promise.all([
      createRaiFixture({...plan, master: true}),
      createRaiFixture({...plan, seed: 2}),
      createRaiFixture({...plan, seed: 3}),
    ])
    undo.push(() => Promise.all([east.drop(), west.drop(), north.drop()]))
    const fixtures: Record<RdsName, RaiFixture> = {east, west, north}
    const proxies: Partial<Record<RdsName, FaultProxy>> = {}
    if (engine !== 'sqlite') {
      for (const name of ['west', 'north'] as const) {
        const proxy = await startFaultProxy({targetHost: fixtures[name].host ?? '127.0.0.1', targetPort: fixtures[name].port ?? 0})
        undo.push(() => proxy.close())
        proxies[name] = proxy
      }
    }
    const rdsIds = {} as Record<RdsName, number>
    for (const name of ['east', 'west', 'north'] as const) {
      const target = fixtures[name]
      const via = proxies[name]
      const {rds} = await addRds(ctx, {
        name,
        engine: target.engine,
        host: via ? via.host : target.host,
        port: via ? via.port : target.port,
        username: target.user,
        password: target.password || null,
        raiDatabase: target.database,
        master: name === 'east',
        test: false,
      })
      rdsIds[name] = rds.id
    }
    const on = async <T>(rds: RdsName, work: (db: Knex) => Promise<T>): Promise<T> => {
      const db = await fixtures[rds].knex()
      try {
        return await work(db)
      } finally {
        await db.destroy()
      }
    }
    // The master's directory names the RDS by raiops id; the fixture wrote 1.
    await on('east', (db) => db('user_email_routing').update({rds_instance_id: rdsIds.east}))

    const now = sqlTime(Date.now() - 60_000)
    const placements: Array<Omit<SharedUser, 'userId'>> = [
      {rds: 'east', remoteTenantId: 2, email: SHARED_EMAIL},
      {rds: 'west', remoteTenantId: 1, email: 'Pat.Shared@Example.com'},
      {rds: 'north', remoteTenantId: 3, email: SHARED_EMAIL},
    ]
    const shared: SharedUser[] = []
    for (const p of placements) {
      const userId = await on(p.rds, async (db) => {
        const id = Number((await db('users').max({m: 'id'}))[0].m) + 1
        await db('users').insert({
          id,
          tenant_id: p.remoteTenantId,
          name: 'Pat Shared',
          email: p.email,
          password: '$2y$04$notarealhashnotarealhashnotarealhashnotarealhashnot',
          status: 'active',
          is_ghost: false,
          created_at: now,
          updated_at: now,
        })
        return id
      })
      shared.push({...p, userId})
    }
    await on('east', async (db) => {
      let id = Number((await db('user_email_routing').max({m: 'id'}))[0].m)
      for (const s of shared) {
        await db('user_email_routing').insert({
          id: ++id,
          email: s.email,
          tenant_id: s.remoteTenantId,
          rds_instance_id: rdsIds[s.rds],
          user_id: s.userId,
          password_hash: null,
          status: 'active',
          created_at: now,
          updated_at: now,
        })
      }
    })
    const resync = async () => {
      const tenants = await runTenantSync(ctx, {maxAgeMs: 0, force: true, concurrency: 4, deadlineMs: 30_000})
      if (tenants.status !== 'ok') throw new Error(`tenant sync: ${JSON.stringify(tenants.rds.map((r) => r.error))}`)
      const routing = await runRoutingSync(ctx, {mode: 'incremental'})
      if (routing.status !== 'ok') throw new Error(`routing sync: ${routing.error}`)
    }
    await resync()
    return {engine, control, ctx, fixtures, rdsIds, proxies, shared, on, resync, close}
  } catch (error) {
    await close()
    throw error
  }
}
