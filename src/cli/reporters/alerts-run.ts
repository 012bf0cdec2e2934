import type {ChalkInstance} from 'chalk'

import type {AlertRunResult} from '../../lib/alerts/engine.js'
import {formatLabels} from '../../lib/alerts/labels.js'
import type {Severity} from '../../lib/alerts/types.js'
import {ExitCode} from '../../lib/errors/index.js'
import {escapeControl} from '../../lib/text/escape.js'
import {paint} from '../output/color.js'

/** What --fail-on looks at: any unmuted firing alert, or one at or above a severity. */
export const FAIL_ON = ['firing', 'critical', 'warning'] as const
export type AlertsFailOn = (typeof FAIL_ON)[number]

const AT_OR_ABOVE: Record<AlertsFailOn, Severity[]> = {firing: ['critical', 'warning', 'info'], critical: ['critical'], warning: ['critical', 'warning']}

/** 4 when an unmuted alert at `failOn` fires, else 3 when some notifications could not be delivered (failed, or deferred: the pass's time was up), else 0. */
export function alertsRunExitCode(result: AlertRunResult, failOn: AlertsFailOn | undefined): ExitCode {
  if (failOn !== undefined && AT_OR_ABOVE[failOn].some((s) => result.firingUnmuted[s] > 0)) return ExitCode.unhealthy
  if (result.notifications.failed > 0 || result.notifications.deferred > 0) return ExitCode.partial
  return ExitCode.ok
}

/** A run for people: one summary line, then each transition, rule error and delivery error. */
export function alertsRunText(c: ChalkInstance, result: AlertRunResult): string {
  const n = result.notifications
  const lines = [
    `evaluated ${result.rules.evaluated} rule(s) at ${result.at}${result.gap ? paint(c, 'warn', ' after a gap: alerts not seen active are unknown, not resolved') : ''}: ` +
      `${paint(c, result.firing > 0 ? 'fail' : 'ok', `${result.firing} firing`)}, ${result.pending} pending; ` +
      `${result.transitions.length} transition(s); notifications ${n.queued} queued, ${n.sent} sent, ${n.failed} failed, ${n.deferred > 0 ? `${n.deferred} deferred (the pass's time was up), ` : ''}${n.pendingAfter} waiting`,
  ]
  for (const t of result.transitions) {
    const muted = t.mutedBy === null ? '' : paint(c, 'dim', ` (muted: ${t.mutedBy})`)
    lines.push(
      `  ${escapeControl(t.rule)} {${escapeControl(formatLabels(t.labels))}}: ${t.from} → ${paint(c, t.to === 'firing' ? 'fail' : t.to === 'resolved' ? 'ok' : undefined, t.to)}${muted}`,
    )
  }
  for (const e of result.rules.errors) lines.push(paint(c, 'warn', `  rule ${escapeControl(e.rule)} failed to evaluate: ${escapeControl(e.error)}`))
  for (const e of result.deliveryErrors) lines.push(paint(c, 'warn', `  not delivered: ${escapeControl(e)}`))
  return `${lines.join('\n')}\n`
}
