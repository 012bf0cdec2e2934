import type {ChalkInstance} from 'chalk'

import {ExitCode} from '../../lib/errors/index.js'
import type {PasswordCheck, PasswordDrift, PasswordState, PasswordCheckTenant} from '../../lib/password/check.js'
import {escapeControl} from '../../lib/text/escape.js'
import {groupThousands} from '../../lib/text/number.js'
import type {Column} from '../output/render.js'

const plural = (n: number, one: string, many = `${one}s`): string => `${groupThousands(n)} ${n === 1 ? one : many}`

function stateCell(c: ChalkInstance, state: PasswordState): string {
  if (state === 'in step') return c.green(state)
  return state === 'RDS unavailable' ? c.red(state) : c.yellow(state)
}

/** A group and a cost as one cell: `A (12)`. */
const group = (label: string | null, cost: number | null): string => (label === null ? '' : cost === null ? label : `${label} (${cost})`)

/** password:check EMAIL's table: one row per tenant. */
export function passwordTenantColumns(c: ChalkInstance): Column<PasswordCheckTenant>[] {
  return [
    {header: 'tenant', cell: (t) => t.tenant, plain: (t) => t.tenant},
    {header: 'name', cell: (t) => t.tenantName ?? '', plain: (t) => t.tenantName, overflow: 'truncate', minWidth: 16, priority: 3},
    {header: 'user id', cell: (t) => (t.userId === null ? '' : String(t.userId)), plain: (t) => t.userId, priority: 2},
    {header: 'state', cell: (t) => stateCell(c, t.state), plain: (t) => t.state},
    {header: 'routing password', cell: (t) => group(t.routingPassword, t.routingCost), plain: (t) => t.routingPassword},
    {header: 'routing cost', cell: (t) => (t.routingCost === null ? '' : String(t.routingCost)), plain: (t) => t.routingCost, priority: 9},
    {header: 'user password', cell: (t) => group(t.userPassword, t.userCost), plain: (t) => t.userPassword},
    {header: 'user cost', cell: (t) => (t.userCost === null ? '' : String(t.userCost)), plain: (t) => t.userCost, priority: 9},
    {header: 'routing', cell: (t) => t.routingStatus ?? '', plain: (t) => t.routingStatus, priority: 4},
    {header: 'problems', cell: (t) => c.yellow(t.problems.join('; ')), plain: (t) => t.problems.join('; ') || null, overflow: 'wrap', minWidth: 20},
  ]
}

/** password:check --all's table: one row per out-of-sync email. */
export function passwordDriftColumns(c: ChalkInstance): Column<PasswordDrift>[] {
  return [
    {header: 'email', cell: (d) => d.email, plain: (d) => d.email, overflow: 'truncate', minWidth: 20},
    {header: 'tenants', cell: (d) => String(d.tenants), plain: (d) => d.tenants},
    {header: 'passwords', cell: (d) => String(d.passwords), plain: (d) => d.passwords},
    {header: 'rds', cell: (d) => d.servers.join(', '), plain: (d) => d.servers.join(' ')},
    {header: 'out of sync', cell: (d) => c.yellow(d.reasons.join('; ')), plain: (d) => d.reasons.join('; '), overflow: 'wrap', minWidth: 24},
  ]
}

/** What password:check says on stderr. */
export function passwordCheckSummary(c: ChalkInstance, result: PasswordCheck): string {
  const lines: string[] = []
  if (!result.master.ok) return c.red(`master RDS ${escapeControl(result.master.name)} unavailable: ${escapeControl(result.master.error ?? '')}`)
  const down = result.servers.filter((s) => !s.ok)
  if (result.kind === 'email') {
    const email = escapeControl(result.email)
    const tenants = plural(result.tenants.length, 'tenant')
    const unreadable = result.tenants.filter((t) => t.state === 'RDS unavailable').length
    const readOff = result.tenants.filter((t) => t.state !== 'in step' && t.state !== 'RDS unavailable').length
    if (result.inStep) lines.push(c.green(`${email}: in step: ${tenants}, one password`))
    else if (unreadable > 0 && readOff === 0 && result.passwords <= 1)
      // Nothing read differs: the only gap is a server that could not be read (exit 3, not 4).
      lines.push(
        c.yellow(
          `${email}: not all checked: ${plural(unreadable, 'tenant')} on an unavailable RDS; the other ${plural(result.tenants.length - unreadable, 'tenant')} in step, one password`,
        ),
      )
    else {
      const off = result.tenants.filter((t) => t.state !== 'in step' && t.state !== 'RDS unavailable').length
      lines.push(
        c.yellow(
          `${email}: out of sync: ${tenants}, ${plural(result.passwords, 'password')}` +
            `${off > 0 ? `, ${plural(off, 'tenant')} not in step with ${off === 1 ? 'its routing row' : 'their routing rows'}` : ''}`,
        ),
      )
      if (result.passwords > 1) lines.push('tenants in one group share a hash; `raiops password:sync EMAIL --from-tenant TENANT` makes them one')
    }
  } else {
    lines.push(
      `${plural(result.multiTenantEmails, 'multi-tenant email')} (${plural(result.routingRows, 'routing row')}): ` +
        (result.outOfSync === 0 ? c.green('none out of sync') : c.yellow(`${groupThousands(result.outOfSync)} out of sync`)),
    )
    if (result.drifted.length < result.outOfSync)
      lines.push(`listing ${groupThousands(result.drifted.length)} of ${groupThousands(result.outOfSync)} (--limit)`)
    for (const s of result.byServer) lines.push(`  ${escapeControl(s.name)}: ${plural(s.outOfSync, 'email')} out of sync`)
    if (result.unchecked > 0) lines.push(c.yellow(`${plural(result.unchecked, 'email')} not checked: a row on an unavailable RDS`))
    if (result.nullEmailRows > 0) lines.push(c.yellow(`${plural(result.nullEmailRows, 'routing row')} with a NULL email (routing nobody)`))
  }
  for (const s of down) lines.push(c.red(`  ${escapeControl(s.name)}: unavailable: ${escapeControl(s.error ?? '')}`))
  return lines.join('\n')
}

/** 3 when a server could not be read, else 4 when something is out of sync, else 0. */
export function passwordCheckExit(result: PasswordCheck): 0 | 3 | 4 {
  if (!result.master.ok || result.servers.some((s) => !s.ok) || (result.kind === 'email' && result.unavailable > 0)) return ExitCode.partial
  const drift = result.kind === 'email' ? !result.inStep : result.outOfSync > 0
  return drift ? ExitCode.unhealthy : ExitCode.ok
}
