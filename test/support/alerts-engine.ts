import {z} from 'zod'

import {defineRuleKind} from '../../src/lib/alerts/kind.js'

/** A kind for the fixture runner's own tests: an active RDS whose stored health is `down`. */
export const testDownKind = defineRuleKind({
  kind: 'test_down',
  description: 'an RDS whose last health check found it down (for tests)',
  labelNames: ['rds'],
  params: z.object({}).strict(),
  async evaluate(ctx) {
    const rows = await ctx.db('rds_instances').where({health_status: 'down', is_active: true}).select('name')
    return {noData: false, active: rows.map((r) => ({labels: {rds: r.name}, summary: `${r.name} is down`}))}
  },
})
