import {RDS_TABLE} from '../../db/tables.js'
import {toBool, toIso} from '../../db/values.js'
import {HEALTH_STATUSES, RDS_STATES, type HealthStatus, type RdsState} from '../../rds/types.js'
import {ago} from '../../text/age.js'
import type {SectionReport, StatusContext, StatusSection} from '../types.js'

/** A fleet whose newest check is older than this is reported as stale. */
export const HEALTH_STALE_MS = 60 * 60 * 1000

export const rdsSection: StatusSection = {
  key: 'rds',
  title: 'RDS instances',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const rows = await ctx.db(RDS_TABLE).select('name', 'is_active', 'state', 'health_status', 'health_checked_at', 'health_error').orderBy('id')
    const active = rows.filter((r) => toBool(r.is_active))
    const byHealth = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, active.filter((r) => r.health_status === s).length])) as Record<HealthStatus, number>
    const byState = Object.fromEntries(RDS_STATES.map((s) => [s, active.filter((r) => r.state === s).length])) as Record<RdsState, number>
    const checked = active.map((r) => toIso(r.health_checked_at)).filter((t): t is string => t !== null)
    const lastCheckedAt = checked.length > 0 ? checked.reduce((a, b) => (a > b ? a : b)) : null
    const problems = active
      .filter((r) => r.health_status === 'down' || r.health_status === 'degraded')
      .map((r) => ({name: r.name, status: r.health_status, reasons: r.health_error}))
    const data = {
      total: rows.length,
      active: active.length,
      inactive: rows.length - active.length,
      byHealth,
      byState,
      lastCheckedAt,
      problems,
    }
    if (active.length === 0) {
      return {state: 'never', summary: rows.length === 0 ? 'no RDS registered (raiops rds:add)' : 'no active RDS', facts: [], data}
    }
    if (lastCheckedAt === null) {
      return {
        state: 'never',
        summary: `${active.length} active, never checked (raiops rds:health)`,
        facts: [{label: 'state', value: stateLine(byState)}],
        data,
      }
    }
    const now = ctx.now()
    const stale = now.getTime() - Date.parse(lastCheckedAt) > HEALTH_STALE_MS
    const state = byHealth.down > 0 ? 'fail' : byHealth.degraded > 0 || byHealth.unknown > 0 || stale ? 'warn' : 'ok'
    const healthParts = HEALTH_STATUSES.filter((s) => byHealth[s] > 0 || s === 'healthy').map((s) => `${byHealth[s]} ${s}`)
    return {
      state,
      summary: `${active.length} active: ${healthParts.join(', ')}`,
      facts: [
        {label: 'state', value: stateLine(byState)},
        {label: 'last check', value: `${lastCheckedAt} (${ago(lastCheckedAt, now)})`, tone: stale ? 'warn' : 'ok'},
        ...(data.inactive > 0 ? [{label: 'inactive', value: String(data.inactive)}] : []),
        ...problems.slice(0, 5).map((p) => ({
          label: p.name,
          value: `${p.status}${p.reasons ? `: ${p.reasons}` : ''}`,
          tone: (p.status === 'down' ? 'fail' : 'warn') as 'fail' | 'warn',
        })),
        ...(problems.length > 5 ? [{label: '…', value: `${problems.length - 5} more (raiops rds:health)`}] : []),
      ],
      data,
    }
  },
}

function stateLine(byState: Record<RdsState, number>): string {
  return RDS_STATES.map((s) => `${byState[s]} ${s}`).join(', ')
}
