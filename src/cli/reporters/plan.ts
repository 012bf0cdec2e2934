import type {ChalkInstance} from 'chalk'

import type {PlanArchiveResult, PlanEditResult} from '../../lib/billing/plan-changes.js'
import type {PlanListRow, PlanShow, PlanVersionView} from '../../lib/billing/plans.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {renderRecord, renderTable, type Column} from '../output/render.js'

/** "10.00 per location over 2", or "" for a plan without unit pricing. */
export function unitPricing(plan: Pick<PlanVersionView, 'unit' | 'unitPrice' | 'includedUnits'>): string {
  if (plan.unit === null || plan.unitPrice === null) return ''
  return `${plan.unitPrice} per ${plan.unit}${plan.includedUnits > 0 ? ` over ${plan.includedUnits}` : ''}`
}

export function planColumns(c: ChalkInstance): Column<PlanListRow>[] {
  return [
    {header: 'code', cell: (r) => r.code},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate', priority: 3},
    {header: 'currency', cell: (r) => r.currency},
    {header: 'interval', cell: (r) => r.interval},
    {header: 'price', cell: (r) => r.price, plain: (r) => r.price},
    {header: 'monthly', cell: (r) => r.monthly, plain: (r) => r.monthly},
    {header: 'per unit', cell: (r) => unitPricing(r), overflow: 'truncate', priority: 2},
    {header: 'trial', cell: (r) => (r.trialDays > 0 ? `${r.trialDays}d` : ''), plain: (r) => r.trialDays, priority: 4},
    {header: 'version', cell: (r) => String(r.version), plain: (r) => r.version},
    {
      header: 'next',
      cell: (r, f) => (r.scheduled ? `v${r.scheduled.version} ${f.time(r.scheduled.effectiveFrom)}` : ''),
      plain: (r) => (r.scheduled ? `${r.scheduled.version}@${r.scheduled.effectiveFrom}` : null),
      priority: 3,
    },
    {header: 'archived', cell: (r, f) => (r.archivedAt ? c.yellow(f.time(r.archivedAt)) : ''), plain: (r) => r.archivedAt, priority: 2},
  ]
}

function versionLines(plan: PlanVersionView): Array<readonly [string, string]> {
  return [
    ['plan', `${plan.name} (${plan.code}), version ${plan.version}`],
    ['price', `${plan.price} ${plan.currency} per ${plan.interval} (${plan.monthly} ${plan.currency} a month)`],
    ['per unit', unitPricing(plan) || '-'],
    ['trial', plan.trialDays > 0 ? `${plan.trialDays} days` : '-'],
    ['features', plan.features.join(', ') || '-'],
    ['applies from', plan.effectiveFrom],
    ['archived', plan.archivedAt ?? '-'],
  ]
}

/** plan:show: the version, every version in a table, then who changed what. */
export function renderPlanShow(c: ChalkInstance, shown: PlanShow): string {
  const safe = escapeControlDeep(shown)
  const out = [renderRecord(safe.plan, (p) => [...versionLines(p), ['in effect', shown.inEffect ? 'yes' : 'no']])]
  const versions = renderTable(safe.versions, [
    {header: 'version', cell: (v) => String(v.version)},
    {header: 'applies from', cell: (v) => v.effectiveFrom},
    {header: 'currency', cell: (v) => v.currency},
    {header: 'interval', cell: (v) => v.interval},
    {header: 'price', cell: (v) => v.price},
    {header: 'monthly', cell: (v) => v.monthly},
    {header: 'per unit', cell: (v) => unitPricing(v)},
  ])
  out.push(`\n${c.bold('Versions')}\n${versions}\n`)
  out.push(`\n${c.bold('History')}\n`)
  if (safe.history.length === 0) out.push('  (no audited change)\n')
  for (const entry of safe.history) {
    const changes = entry.changes.map((ch) => `${ch.field}: ${JSON.stringify(ch.old)} → ${JSON.stringify(ch.new)}`)
    out.push(`  ${entry.at}  ${entry.action}  by ${entry.actor}${changes.length > 0 ? `\n      ${changes.join('\n      ')}` : ''}\n`)
  }
  return out.join('')
}

/** plan:create: the new plan. */
export function renderPlanCreated(plan: PlanVersionView): string {
  return `created plan ${escapeControl(plan.code)}, version 1\n${renderRecord(plan, versionLines)}`
}

/** plan:edit: each change, then what happens to the versions. */
export function renderPlanEdit(c: ChalkInstance, result: PlanEditResult): string {
  const safe = escapeControlDeep(result)
  const lines = [result.dryRun ? c.yellow(`dry run: nothing is written; plan:edit ${safe.code} would change`) : `plan ${safe.code}:`]
  for (const change of safe.changes)
    lines.push(
      `  ${change.field}: ${JSON.stringify(change.old)} → ${JSON.stringify(change.new)}  (${change.scope === 'in-place' ? 'in place' : 'new version'})`,
    )
  for (const note of safe.notes) lines.push(note)
  return `${lines.join('\n')}\n`
}

export function renderPlanArchive(result: PlanArchiveResult): string {
  const code = escapeControl(result.code)
  if (!result.changed) return `plan ${code} is ${result.archived ? `already archived (since ${result.archivedAt})` : 'not archived'}: nothing changed\n`
  return result.archived
    ? `archived plan ${code} (${result.versions} version(s)): no new subscription can use it; existing ones keep it\n`
    : `plan ${code} is back in use\n`
}
