import {z} from 'zod'

import {RDS_TABLE, type HealthStatus} from '../../db/tables.js'
import {toIso} from '../../db/values.js'
import {defineRuleKind, type EvaluationContext, type Evaluation} from '../kind.js'
import {oneLine} from './params.js'

/**
 * The active RDS whose last health check (`rds:health`, which writes
 * rds_instances.health_status) found them `status`: one query, whatever the
 * number of RDS. An RDS never probed is `unknown`, not down. No active RDS: NoData.
 */
async function rdsWithHealth(ctx: EvaluationContext, status: Extract<HealthStatus, 'down' | 'degraded'>): Promise<Evaluation> {
  const rows = await ctx.db(RDS_TABLE).where({is_active: true}).orderBy('name').select('name', 'health_status', 'health_checked_at', 'health_error')
  if (rows.length === 0) return {noData: true}
  return {
    noData: false,
    active: rows
      .filter((row) => row.health_status === status)
      .map((row) => {
        const why = oneLine(row.health_error)
        return {
          labels: {rds: row.name},
          summary: `${row.name} was ${status} at its last health check (${toIso(row.health_checked_at) ?? 'time unknown'})${why ? `: ${why}` : ''}`,
        }
      }),
  }
}

export const rdsDown = defineRuleKind({
  kind: 'rds_down',
  description: 'an active RDS whose last health check (rds:health) found it down',
  labelNames: ['rds'],
  params: z.object({}).strict(),
  evaluate: (ctx) => rdsWithHealth(ctx, 'down'),
})

export const rdsDegraded = defineRuleKind({
  kind: 'rds_degraded',
  description: 'an active RDS whose last health check (rds:health) found it degraded (slow, a check failed, connections nearly used up)',
  labelNames: ['rds'],
  params: z.object({}).strict(),
  evaluate: (ctx) => rdsWithHealth(ctx, 'degraded'),
})
