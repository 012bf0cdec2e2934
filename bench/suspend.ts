// tenant:suspend and tenant:reactivate (the services the commands call) on a tenant
// with 50,000 users: its RDS and the master are two MariaDB databases, the control
// database a third, on the local server. Against floors measured in the same run:
//   - suspend: the three set-based UPDATEs any implementation needs, on direct
//     connections (the tenant row; every routing entry of the tenant not yet
//     suspended; their copies in the routing cache);
//   - reactivate: the users' statuses read from the RDS, then per status one UPDATE
//     of the routing entries and one of the cache copies, each with the status's
//     user ids in a single IN list.
// Also counts the statements each server received from the service (constant in the
// number of users but for the batches of 1,000 ids). Prints one JSON document on stdout.
// Usage: npm run bench:suspend [-- --runs 3] [--users 50000]
import mysql from 'mysql2/promise'

import {getRds} from '../src/lib/rds/repository.js'
import {addRds, connectionSpecFor} from '../src/lib/rds/service.js'
import {runRoutingSync, runTenantSync} from '../src/lib/sync/index.js'
import type {StatusChange} from '../src/lib/tenant/status-change.js'
import {reactivateTenant, suspendTenant} from '../src/lib/tenant/suspend.js'
import {createRaiFixture} from '../test/support/rai-fixture.js'
import {mysqlServer} from '../test/support/servers.js'
import {benchLog, cleanup, cleanUpOnSignals, cleanups, median, ms1, numberArgument, ratio, timed, benchControlDb, mysqlRdsFields} from './support.js'

const runs = numberArgument('--runs', 3)
const USERS = numberArgument('--users', 50_000)
const log = benchLog('suspend')
cleanUpOnSignals(log)

const connect = (database: string): Promise<mysql.Connection> =>
  mysql.createConnection({host: mysqlServer.host, port: mysqlServer.port, user: mysqlServer.user, password: mysqlServer.password, database, charset: 'utf8mb4'})

try {
  log(`fixtures: a master RDS, and an RDS with one tenant of ${USERS} users`)
  const [master, eu] = await Promise.all([
    createRaiFixture({engine: 'mysql', master: true, tenants: 1, usersPerTenant: 2, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
    createRaiFixture({engine: 'mysql', tenants: 1, usersPerTenant: USERS, ghostUsersPerTenant: 0, locationsPerTenant: 0}),
  ])
  cleanups.push(
    () => master.drop(),
    () => eu.drop(),
  )
  const {controlDb, db, ctx} = await benchControlDb('raiops_bench_suspend', 120_000)

  const mainId = (await addRds(ctx, {...mysqlRdsFields('main', master.database, true)})).rds.id
  const euId = (await addRds(ctx, {...mysqlRdsFields('eu', eu.database, false)})).rds.id

  log('routing entries for every user on the master')
  const masterConn = await connect(master.database)
  const euConn = await connect(eu.database)
  const controlConn = await connect(controlDb.name)
  cleanups.push(
    () => masterConn.end(),
    () => euConn.end(),
    () => controlConn.end(),
  )
  await euConn.query("UPDATE tenants SET status = 'active'")
  await masterConn.query(`UPDATE user_email_routing SET rds_instance_id = ?`, [mainId])
  await masterConn.query(
    `INSERT INTO user_email_routing (email, tenant_id, rds_instance_id, user_id, password_hash, status, created_at, updated_at)
     SELECT email, tenant_id, ?, id, password, status, created_at, updated_at FROM ${mysql.escapeId(eu.database)}.users`,
    [euId],
  )
  await runTenantSync(ctx, {maxAgeMs: 0, concurrency: 2, deadlineMs: 600_000, force: true})
  await runRoutingSync(ctx, {mode: 'full'})

  // Statements per server, counted as knex sends them.
  const counts = {rds: 0, master: 0, control: 0}
  ;(await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(db, euId)))).on('query', () => counts.rds++)
  ;(await ctx.fleet.get(await connectionSpecFor(ctx, await getRds(db, mainId)))).on('query', () => counts.master++)
  db.on('query', () => counts.control++)
  const input = {tenant: `eu:1`, reason: 'benchmark of a tenant suspension', timeoutMs: 600_000}

  const floorSuspend = () =>
    timed(async () => {
      await euConn.query("UPDATE tenants SET status = 'suspended', updated_at = NOW() WHERE id = 1")
      await masterConn.query(
        "UPDATE user_email_routing SET status = 'suspended', updated_at = NOW() WHERE rds_instance_id = ? AND tenant_id = 1 AND status <> 'suspended'",
        [euId],
      )
      await controlConn.query(
        "UPDATE user_email_routing_cache SET status = 'suspended' WHERE rds_instance_id = ? AND remote_tenant_id = 1 AND status <> 'suspended'",
        [euId],
      )
    })
  const floorReactivate = () =>
    timed(async () => {
      await euConn.query("UPDATE tenants SET status = 'active', updated_at = NOW() WHERE id = 1")
      const [users] = (await euConn.query('SELECT id, status FROM users WHERE tenant_id = 1')) as unknown as [Array<{id: number; status: string}>]
      const byStatus = new Map<string, number[]>()
      for (const u of users) {
        const ids = byStatus.get(u.status)
        if (ids) ids.push(u.id)
        else byStatus.set(u.status, [u.id])
      }
      for (const [status, ids] of byStatus) {
        await masterConn.query('UPDATE user_email_routing SET status = ?, updated_at = NOW() WHERE rds_instance_id = ? AND tenant_id = 1 AND user_id IN (?)', [
          status,
          euId,
          ids,
        ])
        await controlConn.query('UPDATE user_email_routing_cache SET status = ? WHERE rds_instance_id = ? AND remote_tenant_id = 1 AND remote_user_id IN (?)', [
          status,
          euId,
          ids,
        ])
      }
    })

  const samples = {suspend: [] as number[], reactivate: [] as number[], floorSuspend: [] as number[], floorReactivate: [] as number[]}
  const statements = {suspend: {...counts}, reactivate: {...counts}}
  const rows = {suspend: 0, reactivate: 0}
  /** One service call, timed, with the statements each server received and the routing rows written. */
  const measure = async (kind: 'suspend' | 'reactivate') => {
    Object.assign(counts, {rds: 0, master: 0, control: 0})
    let result: StatusChange | undefined
    const ms = await timed(async () => {
      result = await (kind === 'suspend' ? suspendTenant : reactivateTenant)(ctx, input)
    })
    if (!result?.complete) throw new Error(`${kind}: ${JSON.stringify(result?.sides)}`)
    statements[kind] = {...counts}
    rows[kind] = result.targets[0].sides.master.rows
    samples[kind].push(ms)
  }
  // A first pair, not counted, opens the pools.
  await suspendTenant(ctx, input)
  await reactivateTenant(ctx, input)
  for (let run = 0; run < runs; run++) {
    log(`run ${run + 1}/${runs}`)
    await measure('suspend')
    await measure('reactivate')
    samples.floorSuspend.push(await floorSuspend())
    samples.floorReactivate.push(await floorReactivate())
  }
  if (rows.suspend !== USERS) throw new Error(`suspend wrote ${rows.suspend} routing rows, not ${USERS}`)
  const figure = {suspend: median(samples.suspend), reactivate: median(samples.reactivate)}
  const floor = {suspend: median(samples.floorSuspend), reactivate: median(samples.floorReactivate)}
  console.log(
    JSON.stringify(
      {
        benchmark: 'suspend',
        what: `tenant:suspend then tenant:reactivate of a tenant with ${USERS} users (its RDS, the master and the control database on MariaDB)`,
        runs,
        figure: {suspendMs: ms1(figure.suspend), reactivateMs: ms1(figure.reactivate)},
        floor: {
          suspendMs: ms1(floor.suspend),
          reactivateMs: ms1(floor.reactivate),
          what: 'the set-based UPDATEs on direct connections (see the header of bench/suspend.ts)',
        },
        ratio: {suspend: ratio(figure.suspend / floor.suspend), reactivate: ratio(figure.reactivate / floor.reactivate)},
        routingRowsWritten: rows,
        statementsPerServer: statements,
      },
      null,
      2,
    ),
  )
} finally {
  await cleanup(log)
}
