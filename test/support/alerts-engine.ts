import type {Knex} from 'knex'
import {z} from 'zod'

import type {FixtureEngine} from '../../src/lib/alerts/fixtures.js'
import {defineRuleKind} from '../../src/lib/alerts/kind.js'
import type {RuleKindRegistry} from '../../src/lib/alerts/kinds/index.js'
import {fingerprint} from '../../src/lib/alerts/labels.js'
import {insertReturningId} from '../../src/lib/db/control-db.js'

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

/**
 * The smallest evaluation the fixture runner can be tested with, apart from
 * the engine: pending → firing after `for`, firing → resolved when no longer
 * active, one outbox row per rule and kind. No gaps, policies, silences or
 * subscriptions: those are the engine's, tested with it.
 */
export const testEngine: FixtureEngine = {
  async evaluateAlerts(ctx, options: {now: Date; kinds?: RuleKindRegistry; runId?: number | null}) {
    const db: Knex = ctx.db
    const now = options.now
    const rules = await db('alert_rules').where({enabled: true})
    for (const rule of rules) {
      const kind = options.kinds?.get(rule.kind)
      if (!kind) continue
      const evaluation = await kind.evaluate({db}, JSON.parse(rule.params), {now, previousRunAt: null})
      const active = evaluation.noData ? [] : evaluation.active
      const told: Record<'firing' | 'resolved', number> = {firing: 0, resolved: 0}
      const seen = new Set<string>()
      for (const sample of active) {
        const labels = {...JSON.parse(rule.labels), ...sample.labels, alertname: rule.name, severity: rule.severity}
        const fp = fingerprint(labels)
        seen.add(fp)
        const row = await db('alert_instances').where({rule_id: rule.id, fingerprint: fp}).first()
        if (row === undefined || row.state === 'resolved' || row.state === 'inactive') {
          const firing = Number(rule.for_ms) === 0
          const values = {
            state: firing ? 'firing' : 'pending',
            active_at: now,
            fired_at: firing ? now : null,
            last_true_at: now,
            last_eval_at: now,
            updated_at: now,
          } as const
          if (row === undefined)
            await insertReturningId(db, 'alert_instances', {
              rule_id: rule.id,
              fingerprint: fp,
              labels: JSON.stringify(labels),
              summary: sample.summary,
              created_at: now,
              ...values,
            })
          else await db('alert_instances').where({id: row.id}).update(values)
          if (firing) told.firing++
        } else if (row.state === 'pending' && now.getTime() - new Date(row.active_at as Date).getTime() >= Number(rule.for_ms)) {
          await db('alert_instances').where({id: row.id}).update({state: 'firing', fired_at: now, last_true_at: now, last_eval_at: now})
          told.firing++
        }
      }
      for (const row of await db('alert_instances').where({rule_id: rule.id}).whereIn('state', ['pending', 'firing'])) {
        if (seen.has(row.fingerprint)) continue
        await db('alert_instances')
          .where({id: row.id})
          .update({state: row.state === 'firing' ? 'resolved' : 'inactive', resolved_at: now, last_eval_at: now})
        if (row.state === 'firing') told.resolved++
      }
      for (const kindOf of ['firing', 'resolved'] as const) {
        if (told[kindOf] === 0) continue
        await db('alert_notifications').insert({
          key: `${kindOf}:${rule.id}:${now.toISOString()}`,
          channel: 'webhook',
          target: 'http://127.0.0.1:9/',
          rule_id: rule.id,
          run_id: options.runId ?? null,
          kind: kindOf,
          payload: JSON.stringify({alerts: Array.from({length: told[kindOf]}, () => ({}))}),
          state: 'pending',
          attempts: 0,
          created_at: now,
          next_attempt_at: now,
        })
      }
    }
    return {}
  },
}
