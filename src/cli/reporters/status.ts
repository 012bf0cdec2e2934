import type {ChalkInstance} from 'chalk'

import {ExitCode} from '../../lib/errors/index.js'
import type {StatusOverview} from '../../lib/status/index.js'
import type {SectionState} from '../../lib/status/types.js'
import {escapeControl} from '../../lib/text/escape.js'
import type {StatusFailOn} from '../flags/health.js'
import {paint} from '../output/color.js'

const BADGE: Record<SectionState, string> = {ok: 'ok', warn: 'warn', fail: 'FAIL', never: 'never run'}

function tone(c: ChalkInstance, state: SectionState | undefined, text: string): string {
  return paint(c, state === 'never' ? 'dim' : state, text)
}

/** The overview on one screen: a heading per section with its state and summary, its facts indented. */
export function renderStatus(c: ChalkInstance, overview: StatusOverview): string {
  const width = Math.max(...overview.sections.map((s) => s.title.length))
  const lines = [`${c.bold('raiops status')} ${c.dim(overview.generatedAt)}  overall: ${tone(c, overview.state, BADGE[overview.state])}`, '']
  for (const section of overview.sections) {
    const badge = tone(c, section.state, `[${BADGE[section.state]}]`)
    lines.push(
      `${c.bold(section.title.padEnd(width))}  ${badge} ${escapeControl(section.state === 'never' ? section.summary.replace(/^never run(: |$)/, '') : section.summary)}`.trimEnd(),
    )
    const labelWidth = Math.max(0, ...section.facts.map((f) => f.label.length))
    for (const fact of section.facts) lines.push(`  ${c.dim(`${fact.label}:`.padEnd(labelWidth + 1))} ${tone(c, fact.tone, escapeControl(fact.value))}`)
  }
  return `${lines.join('\n')}\n`
}

/** status's exit code: 4 when the overall state is `failOn` or worse, else 0 (a state never run fails nothing). */
export function statusExitCode(overview: StatusOverview, failOn: StatusFailOn): ExitCode {
  const failing = failOn === 'fail' ? ['fail'] : failOn === 'warn' ? ['warn', 'fail'] : []
  return failing.includes(overview.state) ? ExitCode.unhealthy : ExitCode.ok
}
