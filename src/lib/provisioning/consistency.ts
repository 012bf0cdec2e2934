import type {Knex} from 'knex'

import {RESERVATIONS_TABLE, TENANT_MASTER_TABLE} from '../db/tables.js'
import {messageOf} from '../errors/index.js'
import {listRdsRows} from '../rds/repository.js'
import {masterConnection, rdsConnection, type FleetContext} from './fleet.js'

/**
 * What tenant creation promises whatever happens, checked across every server:
 * no duplicate (a tenant name twice on one RDS, a user twice on a tenant, a
 * location twice, a routing entry twice, a registry row twice) and no orphan
 * (a tenant row neither the registry nor an open job knows, users or locations
 * of no tenant, a routing entry to no tenant or user, a registry row whose
 * tenant is gone). Read only.
 */

export interface ConsistencyIssue {
  kind: 'duplicate' | 'orphan' | 'unreachable'
  where: string
  detail: string
}

export interface ConsistencyReport {
  rds: number
  tenants: number
  issues: ConsistencyIssue[]
}

type Row = Record<string, unknown>

const count = (value: unknown): number => Number(value ?? 0)

/** Tenants, users and locations of one RDS checked against the registry and the open reservations. */
async function checkRds(
  db: Knex,
  rds: {id: number; name: string},
  known: Set<number>,
  reservedNames: Set<string>,
  issues: ConsistencyIssue[],
): Promise<Set<number>> {
  const where = `rds ${rds.name}`
  const tenants = (await db('tenants').select('id', 'name')) as Row[]
  const ids = new Set(tenants.map((t) => Number(t.id)))
  const byName = new Map<string, number[]>()
  for (const t of tenants) {
    const key = String(t.name).trim().toLowerCase()
    byName.set(key, [...(byName.get(key) ?? []), Number(t.id)])
  }
  for (const [name, list] of byName) if (list.length > 1) issues.push({kind: 'duplicate', where, detail: `tenant name "${name}": ids ${list.join(', ')}`})
  for (const t of tenants)
    if (!known.has(Number(t.id)) && !reservedNames.has(String(t.name).trim().toLowerCase()))
      issues.push({kind: 'orphan', where, detail: `tenant ${t.id} "${t.name}" is neither registered nor being created by a job`})
  for (const [table, key] of [
    ['users', 'email'],
    ['locations', 'name'],
  ] as const) {
    const dups = (await db(table)
      .select('tenant_id', db.raw(`LOWER(??) AS k`, [key]), db.raw('COUNT(*) AS n'))
      .groupBy('tenant_id', db.raw(`LOWER(??)`, [key]))
      .havingRaw('COUNT(*) > 1')) as Row[]
    for (const d of dups) issues.push({kind: 'duplicate', where, detail: `${table} ${key} "${d.k}" of tenant ${d.tenant_id}: ${count(d.n)} rows`})
    const orphans = (await db(`${table} as x`)
      .leftJoin('tenants as t', 't.id', 'x.tenant_id')
      .whereNull('t.id')
      .select('x.tenant_id', db.raw('COUNT(*) AS n'))
      .groupBy('x.tenant_id')) as Row[]
    for (const o of orphans) issues.push({kind: 'orphan', where, detail: `${count(o.n)} ${table} of tenant ${o.tenant_id}, which does not exist`})
  }
  return ids
}

/** Checks every active RDS, the master's routing directory and the registry. */
export async function checkConsistency(ctx: FleetContext): Promise<ConsistencyReport> {
  const issues: ConsistencyIssue[] = []
  const rows = await listRdsRows(ctx.db, {activeOnly: true})
  const registry = (await ctx.db(TENANT_MASTER_TABLE).whereNull('remote_missing_at').select('id', 'rds_instance_id', 'remote_tenant_id')) as Row[]
  const open = (await ctx.db(RESERVATIONS_TABLE).whereNull('tenant_master_id').whereNull('released_at').select('rds_instance_id', 'tenant_name')) as Row[]
  const tenantsOf = new Map<number, Set<number>>()
  let tenants = 0
  for (const row of rows) {
    const rds = {id: Number(row.id), name: row.name}
    const known = new Set(registry.filter((r) => Number(r.rds_instance_id) === rds.id).map((r) => Number(r.remote_tenant_id)))
    const reserved = new Set(open.filter((r) => Number(r.rds_instance_id) === rds.id).map((r) => String(r.tenant_name).trim().toLowerCase()))
    try {
      const {db} = await rdsConnection(ctx, rds.id)
      const ids = await checkRds(db, rds, known, reserved, issues)
      tenants += ids.size
      tenantsOf.set(rds.id, ids)
      for (const id of known)
        if (!ids.has(id)) issues.push({kind: 'orphan', where: 'control tenant_master', detail: `${rds.name}:${id} is registered but not on its RDS`})
    } catch (error) {
      issues.push({kind: 'unreachable', where: `rds ${rds.name}`, detail: messageOf(error)})
    }
  }
  const seen = new Set<string>()
  for (const r of registry) {
    const key = `${r.rds_instance_id}:${r.remote_tenant_id}`
    if (seen.has(key)) issues.push({kind: 'duplicate', where: 'control tenant_master', detail: `${key} registered twice`})
    seen.add(key)
  }
  try {
    const {db: master, rds} = await masterConnection(ctx)
    const dups = (await master('user_email_routing')
      .select(master.raw('LOWER(email) AS e'), 'tenant_id', 'rds_instance_id', master.raw('COUNT(*) AS n'))
      .groupBy(master.raw('LOWER(email)'), 'tenant_id', 'rds_instance_id')
      .havingRaw('COUNT(*) > 1')) as Row[]
    for (const d of dups)
      issues.push({kind: 'duplicate', where: `master ${rds.name}`, detail: `routing ${d.e} → ${d.rds_instance_id}:${d.tenant_id}: ${count(d.n)} entries`})
    const entries = (await master('user_email_routing').select('id', 'tenant_id', 'rds_instance_id')) as Row[]
    for (const e of entries) {
      const ids = tenantsOf.get(Number(e.rds_instance_id))
      if (ids && !ids.has(Number(e.tenant_id)))
        issues.push({
          kind: 'orphan',
          where: `master ${rds.name}`,
          detail: `routing entry ${e.id} → ${e.rds_instance_id}:${e.tenant_id}, a tenant that does not exist`,
        })
    }
  } catch (error) {
    issues.push({kind: 'unreachable', where: 'master', detail: messageOf(error)})
  }
  return {rds: rows.length, tenants, issues}
}
