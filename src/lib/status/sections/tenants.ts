import {toIso} from '../../db/values.js'
import {ago} from '../../text/age.js'
import {hasRun, neverRun, type SectionReport, type StatusContext, type StatusSection} from '../types.js'

/** The tenant registry (`tenant_master`), as the tenant sync leaves it. */
export const tenantsSection: StatusSection = {
  key: 'tenants',
  title: 'Tenants',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const [row] = await ctx.db('tenant_master').count({total: '*', missing: 'remote_missing_at'}).max({refreshed: 'cache_refreshed_at'})
    const total = Number(row?.total ?? 0)
    const missing = Number(row?.missing ?? 0)
    const refreshedAt = toIso(row?.refreshed)
    const data = {total, missingUpstream: missing, refreshedAt}
    if (total === 0 && !(await hasRun(ctx, 'tenants'))) return {...neverRun('run `raiops sync:tenants`'), data}
    return {
      state: missing > 0 ? 'warn' : 'ok',
      summary: `${total} tenant(s)${missing > 0 ? `, ${missing} gone upstream` : ''}`,
      facts: refreshedAt ? [{label: 'refreshed', value: `${refreshedAt} (${ago(refreshedAt, ctx.now())})`}] : [],
      data,
    }
  },
}
