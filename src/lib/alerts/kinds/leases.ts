import {z} from 'zod'

import {JOBS_TABLE, LOCKS_TABLE} from '../../db/tables.js'
import {toIsoRequired} from '../../db/values.js'
import {defineRuleKind, type ActiveSample} from '../kind.js'
import {describeAge, durationMs, durationParam} from './params.js'

/** `host:pid` of a holder (`host:pid:id[:process]`): where to look for the process. */
function holderPlace(holder: string | null): string {
  return (holder ?? '').split(':').slice(0, 2).join(':') || 'an unknown holder'
}

export const leaseOverdue = defineRuleKind({
  kind: 'lease_overdue',
  description: 'a lease (locks) held past its expiry by more than grace: its holder died without releasing it; also a running job whose worker lease expired',
  labelNames: ['lease', 'job'],
  params: z.object({grace: durationParam('grace', '1m', 'how long past its expiry a lease may be before it counts')}).strict(),
  async evaluate(ctx, params, at) {
    const now = at.now.getTime()
    const before = new Date(now - durationMs(params.grace, 'grace'))
    const [locks, jobs] = await Promise.all([
      ctx.db(LOCKS_TABLE).where('expires_at', '<', before).orderBy('name').select('name', 'holder', 'expires_at'),
      ctx
        .db(JOBS_TABLE)
        .whereIn('state', ['running', 'canceling'])
        .whereNotNull('locked_by')
        .andWhere('lease_expires_at', '<', before)
        .orderBy('id')
        .select('id', 'kind', 'state', 'locked_by', 'lease_expires_at'),
    ])
    const active: ActiveSample[] = []
    for (const lock of locks) {
      const expired = toIsoRequired(lock.expires_at)
      const overdue = now - Date.parse(expired)
      active.push({
        labels: {lease: lock.name},
        summary: `the lease ${lock.name} held by ${holderPlace(lock.holder)} expired ${describeAge(overdue)} ago (${expired}) and was not released`,
        value: Math.round(overdue / 1000),
      })
    }
    for (const job of jobs) {
      const expired = toIsoRequired(job.lease_expires_at)
      const overdue = now - Date.parse(expired)
      active.push({
        labels: {job: String(job.id)},
        summary: `job ${job.id} (${job.kind}) is ${job.state} but its worker ${holderPlace(job.locked_by)} let the lease expire ${describeAge(overdue)} ago; job:work resumes it`,
        value: Math.round(overdue / 1000),
      })
    }
    return {noData: false, active}
  },
})
