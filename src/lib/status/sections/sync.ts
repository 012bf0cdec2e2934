import {syncStatus} from '../../sync/status.js'
import {ago} from '../../text/age.js'
import {neverRun, type SectionReport, type SectionState, type StatusContext, type StatusSection} from '../types.js'

/** Data older than this (since the last successful run of a kind) is reported as stale. */
export const SYNC_STALE_MS = 60 * 60 * 1000

/** Sync freshness: per kind, the last run, its outcome and the age of the data (the same as `sync:status`). */
export const syncSection: StatusSection = {
  key: 'sync',
  title: 'Sync freshness',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const report = await syncStatus(ctx)
    const kinds = report.kinds.filter((k) => k.lastRun !== null)
    const data = {kinds: report.kinds, rdsFailing: report.rds.filter((r) => r.active && r.lastRun?.status === 'failed').map((r) => r.name)}
    if (kinds.length === 0) return {...neverRun('run `raiops sync:all` (from cron: see README, Syncs)'), data}
    const now = ctx.now()
    const tone = (k: (typeof kinds)[number]): SectionState => {
      const status = k.lastRun?.status
      if (status === 'failed' || k.lastOkAt === null) return 'fail'
      if (status === 'partial' || (k.staleMs ?? 0) > SYNC_STALE_MS) return 'warn'
      return 'ok'
    }
    const states = kinds.map(tone)
    const state: SectionState = states.includes('fail') ? 'fail' : states.includes('warn') ? 'warn' : 'ok'
    return {
      state,
      summary: report.kinds.map((k) => `${k.kind} ${k.lastOkAt ? `synced ${ago(k.lastOkAt, now)}` : 'never synced'}`).join(', '),
      facts: [
        ...report.kinds.map((k) => ({
          label: k.kind,
          value: k.lastRun
            ? `last run ${k.lastRun.status} ${ago(k.lastRun.startedAt, now)}${k.running ? ` · running now on ${k.running.holder.host}` : ''}${k.lastRun.error ? ` · ${k.lastRun.error}` : ''}`
            : 'never run',
          tone: k.lastRun ? tone(k) : ('never' as const),
        })),
        ...(data.rdsFailing.length > 0 ? [{label: 'failing RDS', value: data.rdsFailing.join(', '), tone: 'fail' as const}] : []),
      ],
      data,
    }
  },
}
