import type {ChalkInstance} from 'chalk'

import type {PasswordRow, PasswordServer, PasswordSync, PasswordTenant} from '../../lib/password/sync.js'
import {escapeControl} from '../../lib/text/escape.js'

const tenantName = (t: PasswordTenant) => `tenant ${t.remoteTenantId}${t.name === null ? '' : ` "${escapeControl(t.name)}"`} on ${escapeControl(t.rdsName)}`
const serverLabel = (row: {server: {name: string}; table: PasswordRow['table']}, master: string) =>
  `${row.table === 'users' ? 'RDS' : 'master'} ${escapeControl(row.table === 'users' ? row.server.name : master)} ${row.table}`

const MODES: Record<PasswordSync['mode'], string> = {
  current: 'the new password, the current one checked',
  reset: 'a new password set by an operator',
  'from-tenant': 'the hash copied from',
}

/** The plan: which rows on which servers get the hash, never the hash itself. */
export function renderPasswordPlan(color: ChalkInstance, result: PasswordSync): string {
  const what = result.source ? `${MODES['from-tenant']} ${tenantName(result.source)}` : MODES[result.mode]
  const cost = result.cost === null ? '' : `, bcrypt cost ${result.cost}`
  const lines = [
    `${result.dryRun ? 'Dry run, nothing is changed. ' : ''}Plan for ${result.action} of ${result.email}: ${what}${cost} (reason: ${escapeControl(result.reason)}):`,
  ]
  // A routing entry is written only once its tenant's user rows are: not when their RDS could not be read (or written).
  const failedRds = new Set(result.servers.filter((s) => s.table === 'users' && s.status === 'failed').map((s) => s.server.id))
  for (const row of result.rows) {
    const state =
      row.hash === 'same'
        ? color.dim('already the hash written, nothing to do')
        : row.table === 'user_email_routing' && failedRds.has(row.tenant.rdsId)
          ? color.yellow('hash differs, left as it is: its tenant’s RDS failed')
          : color.bold('hash differs, written')
    lines.push(`  ${serverLabel(row, result.master.name)} id ${row.id} (${tenantName(row.tenant)}): ${state}`)
  }
  // Before any write, the servers listed are those that could not be read.
  for (const s of result.servers.filter((s) => s.status === 'failed'))
    lines.push(`  ${serverLabel(s, result.master.name)}: ${color.red(`cannot be read: ${escapeControl(s.error ?? 'unknown error')}`)}`)
  lines.push('then an audit entry per server changed (no hash, no password)')
  return `${lines.join('\n')}\n`
}

function sideLine(color: ChalkInstance, s: PasswordServer, master: string): string {
  const label = serverLabel(s, master)
  const rows = `${s.rows} row${s.rows === 1 ? '' : 's'}`
  if (s.status === 'failed') return `${label}: ${color.red('failed')} — ${escapeControl(s.error ?? 'unknown error')}`
  if (s.status === 'changed') return `${label}: ${color.green('changed')} (${rows})${s.error ? ` — ${escapeControl(s.error)}` : ''}`
  return `${label}: ${s.status}${s.error ? ` — ${escapeControl(s.error)}` : ''}`
}

/** What happened: one line per server, the tenants still on another hash, the audit entries. */
export function renderPasswordSides(color: ChalkInstance, result: PasswordSync): string {
  const lines = result.servers.map((s) => sideLine(color, s, result.master.name))
  if (result.servers.length === 0) lines.push('every row already holds the hash: nothing to change')
  for (const p of result.pending) lines.push(`${color.yellow('still another hash')}: ${tenantName(p.tenant)} (${p.tables.join(', ')})`)
  if (result.control.status === 'failed') lines.push(`raiops' control database: ${color.red('failed')} — ${escapeControl(result.control.error ?? '')}`)
  else if (result.control.auditIds.length > 0)
    lines.push(`audit entr${result.control.auditIds.length === 1 ? 'y' : 'ies'} ${result.control.auditIds.join(', ')}`)
  return `${lines.join('\n')}\n`
}

/** What to do after a run that did not finish: said on stderr. */
export function passwordSyncAdvice(result: PasswordSync): string | null {
  if (result.complete) return null
  if (result.dryRun) return 'the plan is incomplete: a server could not be read'
  return 'not every row holds the new hash (see above): run the same command again once the server is back; it writes only what is left'
}
