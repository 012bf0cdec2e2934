import {z} from 'zod'

import {RDS_TABLE, SYNC_RUNS_TABLE} from '../../db/tables.js'
import {toBool, toIso, toIsoRequired} from '../../db/values.js'
import type {RunKind} from '../../sync/runs.js'
import {defineRuleKind, type ActiveSample, type EvaluationContext} from '../kind.js'
import {describeAge, durationMs, durationParam, oneLine} from './params.js'

/** The syncs that record a run per RDS: the tenant and ghost-user syncs run on every active RDS, the routing sync on the master only. */
export const SYNC_RUN_KINDS = ['tenants', 'routing', 'ghost-users'] as const satisfies readonly RunKind[]
type SyncRunKind = (typeof SYNC_RUN_KINDS)[number]

const syncParam = z
  .enum(SYNC_RUN_KINDS, {errorMap: () => ({message: `sync must be one of ${SYNC_RUN_KINDS.join(', ')}`})})
  .optional()
  .describe('the sync: tenants, routing or ghost-users (every one when left out)')

interface Target {
  sync: SyncRunKind
  rdsId: number
  rds: string
  /** When the RDS was registered: one never synced is late only once maxAge has passed since. */
  registeredAt: string
}

/**
 * What each sync should have run on, from one read of the registry: every
 * active RDS for the tenant and ghost-user syncs, the active master for the
 * routing sync. `null` when no RDS is active (NoData).
 */
async function targets(ctx: EvaluationContext, syncs: readonly SyncRunKind[]): Promise<Target[] | null> {
  const rows = await ctx.db(RDS_TABLE).where({is_active: true}).orderBy('name').select('id', 'name', 'is_master', 'created_at')
  if (rows.length === 0) return null
  const list: Target[] = []
  for (const sync of syncs) {
    for (const row of rows) {
      if (sync === 'routing' && !toBool(row.is_master)) continue
      list.push({sync, rdsId: Number(row.id), rds: row.name, registeredAt: toIsoRequired(row.created_at)})
    }
  }
  return list
}

const key = (sync: string, rdsId: number) => `${sync}\u0000${rdsId}`

export const syncStale = defineRuleKind({
  kind: 'sync_stale',
  description: 'an RDS whose last successful sync of a kind is older than maxAge, or that never synced (routing: the master)',
  labelNames: ['sync', 'rds'],
  params: z
    .object({
      sync: syncParam,
      maxAge: durationParam('maxAge', '2h', 'how old the last successful sync may be'),
    })
    .strict(),
  async evaluate(ctx, params, at) {
    const syncs = params.sync ? [params.sync] : SYNC_RUN_KINDS
    const list = await targets(ctx, syncs)
    if (list === null) return {noData: true}
    if (list.length === 0) return {noData: true} // only the routing sync asked, and no master
    const maxAgeMs = durationMs(params.maxAge, 'maxAge')
    const rows = await ctx
      .db(SYNC_RUNS_TABLE)
      .select('kind', 'rds_instance_id')
      .max({at: 'finished_at'})
      .whereIn('kind', [...syncs])
      .where({status: 'ok'})
      .whereNotNull('rds_instance_id')
      .groupBy('kind', 'rds_instance_id')
    const lastOk = new Map<string, string>()
    for (const row of rows) {
      const iso = toIso(row.at)
      if (iso) lastOk.set(key(row.kind, Number(row.rds_instance_id)), iso)
    }
    const now = at.now.getTime()
    const active: ActiveSample[] = []
    for (const target of list) {
      const last = lastOk.get(key(target.sync, target.rdsId))
      const ageMs = last === undefined ? null : now - Date.parse(last)
      if (ageMs !== null && ageMs <= maxAgeMs) continue
      if (ageMs === null && now - Date.parse(target.registeredAt) <= maxAgeMs) continue
      active.push({
        labels: {sync: target.sync, rds: target.rds},
        summary:
          ageMs === null
            ? `the ${target.sync} sync of ${target.rds} never succeeded (registered ${target.registeredAt})`
            : `the ${target.sync} sync of ${target.rds} last succeeded ${describeAge(ageMs)} ago (${last}), more than ${params.maxAge}`,
        value: ageMs === null ? null : Math.round(ageMs / 1000),
      })
    }
    return {noData: false, active}
  },
})

export const syncFailing = defineRuleKind({
  kind: 'sync_failing',
  description: 'the latest finished sync of a kind on an RDS failed or was partial (routing: the master)',
  labelNames: ['sync', 'rds'],
  params: z.object({sync: syncParam}).strict(),
  async evaluate(ctx, params) {
    const syncs = params.sync ? [params.sync] : SYNC_RUN_KINDS
    const list = await targets(ctx, syncs)
    if (list === null || list.length === 0) return {noData: true}
    // The newest finished run of each (kind, RDS): a skipped run (its RDS was down) is the health rules' business.
    const latest = ctx
      .db(SYNC_RUNS_TABLE)
      .select('kind', 'rds_instance_id')
      .max({id: 'id'})
      .whereIn('kind', [...syncs])
      .whereIn('status', ['ok', 'partial', 'failed'])
      .whereNotNull('rds_instance_id')
      .groupBy('kind', 'rds_instance_id')
    const rows = await ctx
      .db(SYNC_RUNS_TABLE)
      .join(latest.as('l'), `${SYNC_RUNS_TABLE}.id`, 'l.id')
      .select(
        `${SYNC_RUNS_TABLE}.kind`,
        `${SYNC_RUNS_TABLE}.rds_instance_id`,
        `${SYNC_RUNS_TABLE}.status`,
        `${SYNC_RUNS_TABLE}.finished_at`,
        `${SYNC_RUNS_TABLE}.error`,
      )
    const runs = new Map(rows.map((row) => [key(row.kind, Number(row.rds_instance_id)), row]))
    const active: ActiveSample[] = []
    for (const target of list) {
      const run = runs.get(key(target.sync, target.rdsId))
      if (run === undefined || run.status === 'ok') continue
      const error = oneLine(run.error)
      active.push({
        labels: {sync: target.sync, rds: target.rds},
        summary: `the ${target.sync} sync of ${target.rds} ${run.status === 'failed' ? 'failed' : 'was partial'} at ${toIso(run.finished_at) ?? 'an unknown time'}${error ? `: ${error}` : ''}`,
      })
    }
    return {noData: false, active}
  },
})
