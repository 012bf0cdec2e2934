import type {ChalkInstance} from 'chalk'

import type {FixtureReport} from '../../lib/alerts/fixtures.js'
import {formatLabels} from '../../lib/alerts/labels.js'
import type {AlertListItem, AlertTransitionView} from '../../lib/alerts/query.js'
import type {SilenceView} from '../../lib/alerts/silences.js'
import type {AlertState, Labels, Severity} from '../../lib/alerts/types.js'
import {escapeControl} from '../../lib/text/escape.js'
import {paint, type Tone} from '../output/color.js'
import type {Column} from '../output/render.js'

const STATE_TONES: Record<AlertState, Tone | undefined> = {firing: 'fail', pending: 'warn', unknown: 'warn', resolved: 'ok', inactive: 'dim'}
const SEVERITY_TONES: Record<Severity, Tone | undefined> = {critical: 'fail', warning: 'warn', info: undefined}

/** The labels that tell one alert of a rule from another: alertname and severity have their own columns. */
export function ownLabels(labels: Labels): string {
  const {alertname: _name, severity: _severity, ...own} = labels
  return formatLabels(own)
}

/** What mutes an alert now, as a cell: `silence 4`, `inhibited by 12`. */
export function mutedBy(alert: Pick<AlertListItem, 'silencedBy' | 'inhibitedBy'>): string {
  const parts: string[] = []
  if (alert.silencedBy !== null) parts.push(`silence ${alert.silencedBy}`)
  if (alert.inhibitedBy !== null) parts.push(`inhibited by ${alert.inhibitedBy}`)
  return parts.join(', ')
}

export function alertColumns(c: ChalkInstance): Column<AlertListItem>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'state', cell: (r) => paint(c, STATE_TONES[r.state], r.state), plain: (r) => r.state},
    {header: 'severity', cell: (r) => paint(c, SEVERITY_TONES[r.severity], r.severity), plain: (r) => r.severity},
    {header: 'rule', cell: (r) => r.rule, overflow: 'truncate', minWidth: 12},
    {header: 'labels', cell: (r) => ownLabels(r.labels), plain: (r) => formatLabels(r.labels), overflow: 'truncate', minWidth: 12},
    {header: 'since', cell: (r, f) => f.time(r.since), plain: (r) => r.since},
    {header: 'muted', cell: (r) => c.dim(mutedBy(r)), plain: (r) => mutedBy(r), priority: 2},
    {header: 'acked', cell: (r) => (r.acked ? r.acked.by : ''), plain: (r) => r.acked?.by ?? null, overflow: 'truncate', priority: 3},
    {header: 'summary', cell: (r) => r.summary ?? '', plain: (r) => r.summary, overflow: 'wrap', priority: 2},
  ]
}

export function transitionColumns(c: ChalkInstance): Column<AlertTransitionView>[] {
  return [
    {header: 'at', cell: (r, f) => f.time(r.at), plain: (r) => r.at},
    {header: 'rule', cell: (r) => r.rule, overflow: 'truncate', minWidth: 12},
    {header: 'labels', cell: (r) => ownLabels(r.labels), plain: (r) => formatLabels(r.labels), overflow: 'truncate', minWidth: 12},
    {header: 'change', cell: (r) => `${r.from} → ${paint(c, STATE_TONES[r.to], r.to)}`, plain: (r) => `${r.from}->${r.to}`},
    {header: 'muted', cell: (r) => c.dim(r.mutedBy ?? ''), plain: (r) => r.mutedBy, priority: 2},
    {header: 'alert', cell: (r) => String(r.instanceId), plain: (r) => r.instanceId, priority: 3},
    {header: 'summary', cell: (r) => r.summary ?? '', plain: (r) => r.summary, overflow: 'wrap', priority: 2},
  ]
}

export function silenceColumns(c: ChalkInstance): Column<SilenceView>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'state', cell: (r) => paint(c, r.state === 'active' ? 'warn' : 'dim', r.state), plain: (r) => r.state},
    {header: 'matchers', cell: (r) => r.matchers.join(','), overflow: 'truncate', minWidth: 12},
    {header: 'ends', cell: (r, f) => f.time(r.expiredAt ?? r.endsAt), plain: (r) => r.expiredAt ?? r.endsAt},
    {header: 'matching', cell: (r) => String(r.matchingNow), plain: (r) => r.matchingNow},
    {header: 'by', cell: (r) => r.createdBy, overflow: 'truncate', priority: 3},
    {header: 'reason', cell: (r) => r.reason, overflow: 'wrap', priority: 2},
  ]
}

/** alerts:silence and alerts:unsilence: one line saying what is silenced until when. */
export function silenceLine(silence: SilenceView): string {
  const what = escapeControl(silence.matchers.join(', '))
  if (silence.state !== 'active') return `silence ${silence.id} lifted (${what})\n`
  return `silence ${silence.id}: ${what} until ${silence.endsAt} (${silence.matchingNow} alert(s) match now)\n`
}

/** alerts:ack: one line. */
export function ackLine(alert: AlertListItem): string {
  return `alert ${alert.id} (${escapeControl(alert.rule)} ${escapeControl(ownLabels(alert.labels))}, ${alert.state}) acknowledged by ${escapeControl(alert.acked?.by ?? '?')}\n`
}

/** alerts:test: a line per step, a diff under each failed one, then the totals. */
export function renderFixtureReport(c: ChalkInstance, report: FixtureReport): string {
  const lines: string[] = []
  for (const step of report.steps) {
    const head = `step ${step.index + 1} at ${step.at}${step.name ? ` (${escapeControl(step.name)})` : ''}`
    lines.push(`${step.passed ? c.green('pass') : c.red('FAIL')} ${head}`)
    for (const problem of step.problems) lines.push(`     ${escapeControl(problem)}`)
    for (const line of step.diff)
      lines.push(`     ${line.startsWith('-') ? c.red(escapeControl(line)) : line.startsWith('+') ? c.green(escapeControl(line)) : escapeControl(line)}`)
  }
  const failed = report.steps.filter((s) => !s.passed).length
  lines.push(
    failed === 0
      ? c.green(`${report.file}: ${report.steps.length} step(s) passed`)
      : c.red(`${report.file}: ${failed} of ${report.steps.length} step(s) failed`),
  )
  return `${lines.join('\n')}\n`
}
