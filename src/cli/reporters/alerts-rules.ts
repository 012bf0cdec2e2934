import type {RuleKindView} from '../../lib/alerts/rules.js'
import type {AlertRule} from '../../lib/alerts/types.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import type {Column} from '../output/render.js'

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/** Milliseconds as a duration the flags take back: `5m`, `1h30m`, `0`. */
export function formatRuleDuration(ms: number): string {
  if (ms === 0) return '0'
  let rest = ms
  let text = ''
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`
      rest %= size
    }
  }
  return rest > 0 ? `${text}${rest}ms` : text
}

/** `maxAge=2h sync=routing`, as --param takes them. */
export function formatParams(params: Record<string, unknown>): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${key}=${typeof params[key] === 'string' ? (params[key] as string) : JSON.stringify(params[key])}`)
    .join(' ')
}

function formatRuleLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(' ')
}

export const ruleColumns: readonly Column<AlertRule>[] = [
  {header: 'name', cell: (r) => r.name, overflow: 'truncate', minWidth: 14},
  {header: 'kind', cell: (r) => r.kind, minWidth: 12},
  {header: 'params', cell: (r) => formatParams(r.params), overflow: 'wrap', priority: 3},
  {header: 'for', cell: (r) => formatRuleDuration(r.forMs), plain: (r) => r.forMs},
  {header: 'severity', cell: (r) => r.severity},
  {header: 'enabled', cell: (r) => (r.enabled ? 'yes' : 'no'), plain: (r) => r.enabled},
  {header: 'builtin', cell: (r) => (r.builtin ? 'yes' : 'no'), plain: (r) => r.builtin, priority: 2},
  {header: 'labels', cell: (r) => formatRuleLabels(r.labels), overflow: 'wrap', priority: 4},
]

/** One line: `rds-down (rds_down, critical, for 5m)`. */
export function ruleLine(rule: AlertRule): string {
  const shown = escapeControlDeep(rule)
  return `${shown.name} (${shown.kind}, ${shown.severity}, for ${formatRuleDuration(shown.forMs)}${shown.enabled ? '' : ', disabled'})`
}

/** A rule, a field per line; the operator's text escaped. */
export function renderRule(rule: AlertRule): string {
  const shown = escapeControlDeep(rule)
  const rows: Array<[string, string]> = [
    ['name', shown.name],
    ['kind', shown.kind],
    ['params', formatParams(shown.params) || '(none)'],
    ['for', formatRuleDuration(shown.forMs)],
    ['keep firing', formatRuleDuration(shown.keepFiringForMs)],
    ['severity', shown.severity],
    ['labels', formatRuleLabels(shown.labels) || '(none)'],
    ['no data', shown.noData],
    ['on error', shown.onError],
    ['enabled', shown.enabled ? 'yes' : 'no'],
    ['builtin', shown.builtin ? 'yes (may be edited or disabled, not deleted)' : 'no'],
    ['description', shown.description ?? ''],
    ['created', `${shown.createdAt} by ${shown.createdBy}`],
    ['updated', shown.updatedAt],
  ]
  return `${rows.map(([key, value]) => `${key.padEnd(12)} ${value}`.trimEnd()).join('\n')}\n`
}

/** Each kind: what it watches, its labels and its parameters with their defaults. */
export function renderKinds(kinds: readonly RuleKindView[]): string {
  const blocks = kinds.map((kind) => {
    const lines = [`${kind.kind}: ${kind.description}`, `  labels: ${kind.labels.length > 0 ? kind.labels.join(', ') : '(none)'}`]
    if (kind.params.length === 0) lines.push('  params: (none)')
    for (const param of kind.params) {
      const fallback = param.default === null ? 'optional' : `default ${typeof param.default === 'string' ? param.default : JSON.stringify(param.default)}`
      lines.push(`  --param ${param.name}=…  ${param.description ?? ''} (${fallback})`)
    }
    return lines.join('\n')
  })
  return `${blocks.join('\n\n')}\n`
}
