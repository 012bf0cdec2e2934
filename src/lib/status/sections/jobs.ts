import {jobsOverview} from '../../jobs/overview.js'
import {ago} from '../../text/age.js'
import {neverRun, type SectionReport, type StatusContext, type StatusSection} from '../types.js'

const WHY = {
  'lease-expired': 'its worker stopped',
  'worker-gone': 'its worker was killed on this machine: `raiops job:retry` or `raiops job:cancel` here takes it over now',
  'not-picked-up': 'queued, no worker took it',
  'compensation-failed': 'a compensation failed',
} as const

/** Jobs: failed ones (waiting for job:retry or job:cancel) and stuck ones (a dead worker, no worker running, a cancel left half done). */
export const jobsSection: StatusSection = {
  key: 'jobs',
  title: 'Jobs',
  permission: 'jobs.view',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const data = await jobsOverview(ctx)
    const total = Object.values(data.byState).reduce((a, b) => a + b, 0)
    if (total === 0) return {...neverRun('no job yet (`raiops tenant:create` creates one)'), data}
    const now = ctx.now()
    const {byState, failed, stuck} = data
    const facts = [
      ...failed.slice(0, 5).map((j) => ({
        label: `job ${j.id}`,
        value: `${j.kind}${j.tenantName ? ` ${j.tenantName}` : ''} failed ${ago(j.at, now)}: ${j.error ?? 'unknown error'} — \`raiops job:show ${j.id}\``,
        tone: 'fail' as const,
      })),
      ...stuck.slice(0, 5).map((j) => ({
        label: `job ${j.id}`,
        value: `${j.kind}${j.tenantName ? ` ${j.tenantName}` : ''} stuck since ${ago(j.since, now)}: ${WHY[j.reason]} — \`raiops job:show ${j.id}\``,
        tone: 'warn' as const,
      })),
    ]
    const parts = [`${byState.done} done`, `${byState.queued + byState.running} queued or running`]
    if (byState.failed > 0) parts.push(`${byState.failed} failed`)
    if (stuck.length > 0) parts.push(`${stuck.length} stuck`)
    return {state: byState.failed > 0 ? 'fail' : stuck.length > 0 ? 'warn' : 'ok', summary: parts.join(', '), facts, data}
  },
}
