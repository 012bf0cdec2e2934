import {toIso} from '../../db/values.js'
import {ago} from '../../text/age.js'
import {hasRun, neverRun, type SectionReport, type StatusContext, type StatusSection} from '../types.js'

/** The email routing directory cache (`user_email_routing_cache`). */
export const routingSection: StatusSection = {
  key: 'routing',
  title: 'Routing cache',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const [row] = await ctx.db('user_email_routing_cache').count({total: '*'}).max({synced: 'synced_at'})
    const total = Number(row?.total ?? 0)
    const syncedAt = toIso(row?.synced)
    const data = {entries: total, syncedAt}
    if (total === 0 && !(await hasRun(ctx, 'routing'))) return {...neverRun('run `raiops sync:routing`'), data}
    return {
      state: 'ok',
      summary: `${total} email(s) cached`,
      facts: syncedAt ? [{label: 'synced', value: `${syncedAt} (${ago(syncedAt, ctx.now())})`}] : [],
      data,
    }
  },
}
