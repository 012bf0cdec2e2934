import {inhibitorOf, loadActiveSilences, loadInhibitors, silenceOf} from '../../alerts/inhibition.js'
import {parseLabels} from '../../alerts/labels.js'
import {SEVERITIES, type Severity} from '../../alerts/types.js'
import {toIso, toIsoRequired} from '../../db/values.js'
import {ago} from '../../text/age.js'
import type {SectionReport, SectionState, StatusContext, StatusFact, StatusSection} from '../types.js'

/** No finished `alerts:run` for this long: the engine is not running (cron runs it every 5 minutes). */
export const ALERTS_HEARTBEAT_MS = 15 * 60_000
/** A notification still undelivered this long after it was written: the channel is failing. */
export const OUTBOX_STALE_MS = 15 * 60_000

export const ALERTS_CRON_LINE = '*/5 * * * * raiops alerts:run'

export interface AlertsOverview {
  /** Firing alerts no silence or inhibiting alert mutes, by severity. */
  firing: Record<Severity, number>
  muted: number
  lastRun: {id: number; finishedAt: string; status: string} | null
  outbox: {pending: number; oldestAt: string | null}
}

/**
 * Alerts: what fires now (unmuted, by severity), the engine's heartbeat (the
 * latest finished alerts:run) and the notifications waiting in the outbox.
 * Five queries, however many alerts.
 */
export const alertsSection: StatusSection = {
  key: 'alerts',
  title: 'Alerts',
  permission: 'alerts.view',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const now = ctx.now()
    const [firingRows, silences, inhibitors, lastRunRow, outboxRow] = await Promise.all([
      ctx.db('alert_instances as i').join('alert_rules as r', 'r.id', 'i.rule_id').where('i.state', 'firing').select('i.labels', 'r.kind', 'r.severity'),
      loadActiveSilences(ctx.db, now),
      loadInhibitors(ctx.db),
      ctx.db('alert_runs').whereNotNull('finished_at').orderBy('finished_at', 'desc').orderBy('id', 'desc').first('id', 'finished_at', 'status'),
      ctx.db('alert_notifications').where({state: 'pending'}).count({n: '*'}).min({oldest: 'created_at'}).first(),
    ])
    const firing = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>
    let muted = 0
    for (const row of firingRows) {
      const labels = parseLabels(row.labels)
      if (silenceOf(silences, labels) !== null || inhibitorOf(inhibitors, row.kind, labels) !== null) muted++
      else firing[(SEVERITIES as readonly string[]).includes(labels.severity) ? (labels.severity as Severity) : (row.severity as Severity)]++
    }
    const lastRun = lastRunRow ? {id: Number(lastRunRow.id), finishedAt: toIsoRequired(lastRunRow.finished_at), status: lastRunRow.status} : null
    const outbox = {pending: Number(outboxRow?.n ?? 0), oldestAt: toIso(outboxRow?.oldest ?? null)}
    const data: AlertsOverview & Record<string, unknown> = {firing, muted, lastRun, outbox}
    if (lastRun === null) return {state: 'never', summary: `never run: add \`${ALERTS_CRON_LINE}\` to cron`, facts: [], data}

    const facts: StatusFact[] = []
    const states: SectionState[] = ['ok']
    const silent = now.getTime() - Date.parse(lastRun.finishedAt) > ALERTS_HEARTBEAT_MS
    facts.push({
      label: 'last run',
      value: `${ago(lastRun.finishedAt, now)} (${lastRun.status})${silent ? ` — alerts:run has not run since ${lastRun.finishedAt}; check cron: \`${ALERTS_CRON_LINE}\`` : ''}`,
      tone: silent ? 'fail' : lastRun.status === 'ok' ? 'ok' : 'warn',
    })
    states.push(silent || lastRun.status === 'failed' ? 'fail' : lastRun.status === 'partial' ? 'warn' : 'ok')
    for (const severity of SEVERITIES) {
      if (firing[severity] === 0) continue
      const tone: SectionState = severity === 'critical' ? 'fail' : severity === 'warning' ? 'warn' : 'ok'
      facts.push({label: severity, value: `${firing[severity]} firing — \`raiops alerts:list --severity ${severity}\``, tone})
      states.push(tone)
    }
    if (outbox.pending > 0) {
      const stale = outbox.oldestAt !== null && now.getTime() - Date.parse(outbox.oldestAt) > OUTBOX_STALE_MS
      facts.push({
        label: 'outbox',
        value: `${outbox.pending} notification(s) not yet delivered${outbox.oldestAt ? `, the oldest written ${ago(outbox.oldestAt, now)}` : ''}${stale ? ' — a channel is failing (see alerts:run)' : ''}`,
        tone: stale ? 'warn' : 'ok',
      })
      if (stale) states.push('warn')
    }
    const state: SectionState = states.includes('fail') ? 'fail' : states.includes('warn') ? 'warn' : 'ok'
    const firingTotal = SEVERITIES.reduce((sum, s) => sum + firing[s], 0)
    const parts = [
      silent ? `alerts:run has not run since ${ago(lastRun.finishedAt, now)}` : `last run ${ago(lastRun.finishedAt, now)}`,
      firingTotal === 0
        ? 'nothing firing'
        : SEVERITIES.filter((s) => firing[s] > 0)
            .map((s) => `${firing[s]} ${s} firing`)
            .join(', '),
    ]
    if (muted > 0) parts.push(`${muted} muted`)
    if (outbox.pending > 0) parts.push(`${outbox.pending} notification(s) queued`)
    return {state, summary: parts.join(', '), facts, data}
  },
}
