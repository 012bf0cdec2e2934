import {z} from 'zod'

import {JOB_STEPS_TABLE, JOBS_TABLE} from '../../db/tables.js'
import {toIso, toIsoRequired} from '../../db/values.js'
import {defineRuleKind} from '../kind.js'
import {describeAge, durationMs, durationParam, oneLine} from './params.js'

export const jobsFailed = defineRuleKind({
  kind: 'jobs_failed',
  description: 'a job that failed and was neither retried nor canceled (job:retry or job:cancel clears it)',
  labelNames: ['job', 'kind'],
  params: z.object({}).strict(),
  async evaluate(ctx) {
    const rows = await ctx.db(JOBS_TABLE).where({state: 'failed'}).orderBy('id').select('id', 'kind', 'tenant_name', 'error', 'updated_at')
    return {
      noData: false,
      active: rows.map((row) => {
        const error = oneLine(row.error)
        const tenant = row.tenant_name ? `, tenant ${row.tenant_name}` : ''
        return {
          labels: {job: String(row.id), kind: row.kind},
          summary: `job ${row.id} (${row.kind}${tenant}) failed at ${toIsoRequired(row.updated_at)}${error ? `: ${error}` : ''}`,
        }
      }),
    }
  },
})

/**
 * A job queued or running that has not moved for longer than `after`: queued,
 * due (run_after) that long ago and not picked up (no worker runs); running,
 * neither the job nor any of its steps changed for that long (a step that
 * hangs; the lease's heartbeat is not progress). One query: the steps' latest
 * change is a grouped subquery.
 */
export const jobsStuck = defineRuleKind({
  kind: 'jobs_stuck',
  description: 'a job queued (due and not picked up) or running (no step progress) for longer than after',
  labelNames: ['job', 'kind'],
  params: z.object({after: durationParam('after', '30m', 'how long without progress before a job is stuck')}).strict(),
  async evaluate(ctx, params, at) {
    const now = at.now.getTime()
    const before = new Date(now - durationMs(params.after, 'after'))
    const steps = ctx
      .db(JOB_STEPS_TABLE)
      .select('job_id')
      .max({progress: 'updated_at'})
      .whereIn('job_id', ctx.db(JOBS_TABLE).select('id').where({state: 'running'}))
      .groupBy('job_id')
    const rows = await ctx
      .db(JOBS_TABLE)
      .leftJoin(steps.as('s'), 's.job_id', `${JOBS_TABLE}.id`)
      .where((stuck) => {
        void stuck
          .where((queued) => void queued.where(`${JOBS_TABLE}.state`, 'queued').andWhere(`${JOBS_TABLE}.run_after`, '<', before))
          .orWhere(
            (running) =>
              void running
                .where(`${JOBS_TABLE}.state`, 'running')
                .andWhere(`${JOBS_TABLE}.updated_at`, '<', before)
                .andWhere((step) => void step.whereNull('s.progress').orWhere('s.progress', '<', before)),
          )
      })
      .orderBy(`${JOBS_TABLE}.id`)
      .select(
        `${JOBS_TABLE}.id`,
        `${JOBS_TABLE}.kind`,
        `${JOBS_TABLE}.state`,
        `${JOBS_TABLE}.tenant_name`,
        `${JOBS_TABLE}.run_after`,
        `${JOBS_TABLE}.updated_at`,
        's.progress',
      )
    return {
      noData: false,
      active: rows.map((row) => {
        const since =
          row.state === 'queued'
            ? toIsoRequired(row.run_after)
            : [toIsoRequired(row.updated_at), toIso(row.progress)]
                .filter((t): t is string => t !== null)
                .sort()
                .at(-1)!
        const idle = now - Date.parse(since)
        const tenant = row.tenant_name ? `, tenant ${oneLine(row.tenant_name, 80)}` : ''
        return {
          labels: {job: String(row.id), kind: row.kind},
          summary:
            row.state === 'queued'
              ? `job ${row.id} (${row.kind}${tenant}) has waited ${describeAge(idle)} for a worker since it was due (${since}): is job:work running?`
              : `job ${row.id} (${row.kind}${tenant}) has been running without progress for ${describeAge(idle)} (since ${since})`,
          value: Math.round(idle / 1000),
        }
      }),
    }
  },
})
