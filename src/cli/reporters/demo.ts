import type {ChalkInstance} from 'chalk'

import {demoCommand, type DemoResult} from '../../lib/demo/build.js'
import type {DemoOutput} from '../../lib/demo/output.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {groupThousands} from '../../lib/text/number.js'

/** The first line: the demo built (in how long), or already there and what happens to it. */
export function demoHeadline(c: ChalkInstance, result: DemoResult, options: {dir: string; seconds: string; tour: boolean}): string {
  const shown = escapeControlDeep(result)
  if (result.status === 'created')
    return `${c.green('✓')} built the raiops demo in ${shown.dir} in ${options.seconds} s (size ${result.size}, seed ${result.seed})`
  return `The raiops demo is already in ${shown.dir} (size ${result.size}); ${options.tour ? 'here is the tour again' : 'it is left as it is'}. \`${escapeControl(demoCommand(options.dir, '--reset'))}\` builds it again.`
}

/** What a new demo left in its directory that is not the demo's, if anything. */
export function demoKeptNote(result: DemoResult): string | null {
  if (result.status !== 'created' || result.keptEntries.length === 0) return null
  return `left in place in ${escapeControl(result.dir)}, not being the demo's: ${escapeControl(result.keptEntries.join(', '))}`
}

/** The demo's data: totals, then a line per RDS with its role. */
export function demoFleetSummary(result: DemoResult): string {
  const n = (value: number) => groupThousands(value)
  const lines = [
    `  ${n(result.totals.tenants)} tenants, ${n(result.totals.users)} users (and ${n(result.totals.ghostUsers)} ghost users), ${n(result.totals.locations)} locations, ${n(result.totals.routing)} routing rows on ${result.rds.length} RDS:`,
  ]
  const width = Math.max(...result.rds.map((r) => r.name.length))
  for (const r of escapeControlDeep(result.rds)) {
    const role = [r.master ? 'master' : null, r.state, r.missing ? 'its database file is missing on purpose: the server that is down' : null]
      .filter(Boolean)
      .join(', ')
    lines.push(`    ${r.name.padEnd(width)}  ${n(r.tenants).padStart(7)} tenants  ${role}`)
  }
  return lines.join('\n')
}

/** How to use the demo from a shell: the lines to paste (the tour's when it did not run), then the admin's session. */
export function demoUsage(c: ChalkInstance, output: DemoOutput, options: {dir: string; tourRan: boolean; foreign: string[]}): string {
  const lines = ['']
  if (options.foreign.length > 0)
    lines.push(c.yellow(`Your shell sets ${options.foreign.join(', ')}, which would point raiops elsewhere: the unset line below keeps it on the demo.`))
  lines.push(
    c.bold(
      options.tourRan
        ? 'Try next: paste these lines into your shell.'
        : 'Use the demo: paste these lines into your shell (the last ones take the tour and try other commands).',
    ),
  )
  for (const line of output.setup) lines.push(`  ${escapeControl(line)}`)
  if (!options.tourRan) lines.push(`  ${escapeControl(demoCommand(options.dir, '--tour'))}`)
  for (const line of output.tryNext) lines.push(`  ${escapeControl(line)}`)
  lines.push(
    c.dim(
      `The demo admin (${output.admin}) is signed in until ${output.sessionExpiresAt}; \`${escapeControl(demoCommand(options.dir, ''))}\` again renews that. Delete ${escapeControl(output.dir)} when you are done.`,
    ),
  )
  return lines.join('\n')
}
