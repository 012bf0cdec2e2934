import type {ChalkInstance} from 'chalk'

import type {PlannedWrite, SideOutcome, StatusChange, StatusChangeTarget} from '../../lib/tenant/status-change.js'
import {escapeControl} from '../../lib/text/escape.js'

/** Ids as runs: 1-5, 8, 10-12. */
export function idRanges(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length;) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return parts.join(', ')
}

const where = (t: StatusChangeTarget) => `tenant ${t.tenant.remoteTenantId} "${escapeControl(t.tenant.name)}" (#${t.tenant.id})`

function planLine(color: ChalkInstance, label: string, write: PlannedWrite | null, error: string | null): string {
  if (write === null) return `  ${label}: ${color.red(`cannot be read: ${escapeControl(error ?? 'unknown error')}`)}`
  if (write.moves.length === 0) return `  ${label} ${write.table}: ${color.dim('already as it should be, nothing to change')}`
  const moves = write.moves.map((m) => {
    const rows = m.ids.length === 1 ? `id ${m.ids[0]}` : `${m.ids.length} rows (ids ${idRanges(m.ids)})`
    return `${rows} ${write.column} ${escapeControl(String(m.from))} → ${color.bold(m.to)}`
  })
  return `  ${label} ${write.table}: ${moves.join('; ')}`
}

/** The plan: per tenant, which rows of which table on which server change, old → new. */
export function renderStatusPlan(color: ChalkInstance, result: StatusChange): string {
  const lines = [`${result.dryRun ? 'Dry run, nothing is changed. ' : ''}Plan for ${result.action} (reason: ${escapeControl(result.reason)}):`]
  for (const t of result.targets) {
    lines.push(`${where(t)}${t.user ? `, user ${t.user.email}${t.user.ids.length > 0 ? ` (id ${idRanges(t.user.ids)})` : ''}` : ''}:`)
    lines.push(planLine(color, `RDS ${escapeControl(t.rds.name)}`, t.plan.rds, t.planError.rds))
    if (t.plan.rds !== null || t.planError.routing !== null)
      lines.push(planLine(color, `master ${escapeControl(result.master.name)}`, t.plan.routing, t.planError.routing))
  }
  lines.push(
    `then raiops' own copies (${result.action.startsWith('tenant.') ? 'tenant_master, ' : ''}user_email_routing_cache) and an audit entry per side changed`,
  )
  return `${lines.join('\n')}\n`
}

function sideLine(color: ChalkInstance, label: string, side: SideOutcome): string {
  const rows = `${side.rows} row${side.rows === 1 ? '' : 's'}`
  switch (side.status) {
    case 'changed':
      return `${label}: ${color.green('changed')} (${rows})`
    case 'unchanged':
      return `${label}: unchanged (already as it should be)`
    case 'skipped':
      return `${label}: ${color.dim('skipped')}`
    case 'failed':
      return `${label}: ${color.red('failed')} — ${escapeControl(side.error ?? 'unknown error')}`
  }
}

/** What happened, one line per side: each tenant's RDS and its routing entries on the master, then the control database. */
export function renderStatusSides(color: ChalkInstance, result: StatusChange): string {
  const lines: string[] = []
  for (const t of result.targets) {
    lines.push(sideLine(color, `RDS ${escapeControl(t.rds.name)}, ${where(t)}`, t.sides.rds))
    lines.push(sideLine(color, `master ${escapeControl(result.master.name)}, routing entries of ${where(t)}`, t.sides.master))
  }
  const control = result.control
  if (control.status === 'changed') {
    const copies = control.rows > 0 ? [`${control.rows} cached row${control.rows === 1 ? '' : 's'} updated`] : []
    const audit = control.auditIds.length > 0 ? [`audit entr${control.auditIds.length === 1 ? 'y' : 'ies'} ${control.auditIds.join(', ')}`] : []
    lines.push(`raiops' control database: ${color.green('changed')} (${[...copies, ...audit].join('; ')})`)
  } else {
    lines.push(sideLine(color, "raiops' control database", control))
  }
  return `${lines.join('\n')}\n`
}

/** What to do after a run that did not finish: said on stderr. */
export function statusChangeAdvice(result: StatusChange): string | null {
  if (result.complete) return null
  if (result.dryRun) return 'the plan is incomplete: a server could not be read'
  return 'not every side was changed (see above): run the same command again once the server is back; it changes only what is still out of step'
}
