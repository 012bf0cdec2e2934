import type {ChalkInstance} from 'chalk'

import {ago} from '../../lib/text/age.js'
import {escapeControl} from '../../lib/text/escape.js'
import type {LiveVerdict, UserFindResult, UserLocation} from '../../lib/user/find.js'
import type {FleetUser} from '../../lib/user/fleet-users.js'
import type {UserListResult} from '../../lib/user/list.js'
import type {Column} from '../output/render.js'

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`
const yesNo = (value: boolean | null | undefined): string => (value === null || value === undefined ? '' : value ? 'yes' : 'no')

function verdictCell(c: ChalkInstance, verdict: LiveVerdict | undefined): string {
  if (verdict === undefined) return ''
  if (verdict === 'ok') return c.green(verdict)
  return verdict === 'unavailable' ? c.red(verdict) : c.yellow(verdict)
}

/** The table of user:find: one row per tenant the email has a user in; the live columns with --live. */
export function userFindColumns(c: ChalkInstance, live: boolean): Column<UserLocation>[] {
  const columns: Column<UserLocation>[] = [
    {header: 'tenant', cell: (l) => l.tenant, plain: (l) => l.tenant},
    {
      header: 'name',
      cell: (l) => l.tenantName ?? c.yellow(l.tenantId === null ? 'not in the registry' : '(no name)'),
      plain: (l) => l.tenantName,
      overflow: 'truncate',
      minWidth: 16,
    },
    {header: 'tenant id', cell: (l) => (l.tenantId === null ? '' : String(l.tenantId)), plain: (l) => l.tenantId, priority: 4},
    {header: 'rds', cell: (l) => l.rdsName ?? c.yellow(`unknown RDS ${l.rdsId ?? ''}`.trim()), plain: (l) => l.rdsName},
    {header: 'user id', cell: (l) => (l.remoteUserId === null ? '' : String(l.remoteUserId)), plain: (l) => l.remoteUserId},
    {header: 'routing', cell: (l) => (l.source === 'live' ? c.yellow('not routed') : (l.routingStatus ?? '')), plain: (l) => l.routingStatus, priority: 2},
    {header: 'synced', cell: (l, f) => (l.syncedAt ? f.time(l.syncedAt) : ''), plain: (l) => l.syncedAt, priority: 3},
  ]
  if (live) {
    columns.push(
      {header: 'live', cell: (l) => verdictCell(c, l.live?.verdict), plain: (l) => l.live?.verdict ?? null},
      {header: 'status', cell: (l) => l.live?.user?.status ?? '', plain: (l) => l.live?.user?.status ?? null},
      {header: 'ghost', cell: (l) => yesNo(l.live?.user?.ghost), plain: (l) => l.live?.user?.ghost ?? null, priority: 2},
      {
        header: 'updated',
        cell: (l, f) => (l.live?.user?.updatedAt ? f.time(l.live.user.updatedAt) : ''),
        plain: (l) => l.live?.user?.updatedAt ?? null,
        priority: 3,
      },
    )
  }
  columns.push({
    header: 'notes',
    cell: (l) => c.yellow([...(l.live?.detail ? [l.live.detail] : []), ...l.problems].join('; ')),
    plain: (l) => [...(l.live?.detail ? [l.live.detail] : []), ...l.problems].join('; ') || null,
    overflow: 'wrap',
    minWidth: 20,
  })
  return columns
}

/** What user:find says on stderr: how many tenants and RDS, how fresh the cache is, and with --live how the RDS answered. */
export function userFindSummary(c: ChalkInstance, result: UserFindResult, now: Date): string {
  const email = escapeControl(result.email)
  const cached = result.locations.filter((l) => l.source === 'cache')
  const rds = new Set(cached.map((l) => l.rdsId)).size
  const age = result.cacheAgeMs === null ? '' : `, cache synced ${ago(new Date(now.getTime() - result.cacheAgeMs).toISOString(), now)}`
  const lines = [`${email}: ${plural(cached.length, 'tenant')} on ${plural(rds, 'RDS', 'RDS')} in the routing cache${age}`]
  if (result.live) {
    const down = result.live.filter((r) => !r.ok)
    lines.push(`live: ${result.live.length - down.length} of ${plural(result.live.length, 'RDS', 'RDS')} answered`)
    for (const r of down) lines.push(c.red(`  ${escapeControl(r.name)}: unavailable: ${escapeControl(r.error ?? '')}`))
    const extra = result.locations.length - cached.length
    if (extra > 0) lines.push(c.yellow(`  ${plural(extra, 'user')} with this email the routing cache does not list`))
    if (result.flagged > 0)
      lines.push(c.yellow(`  ${plural(result.flagged, 'entry', 'entries')} differ from the RDS: \`raiops sync:routing\` brings the cache up to date`))
  }
  return lines.join('\n')
}

/** The table of user:list. */
export function userListColumns(c: ChalkInstance): Column<FleetUser>[] {
  return [
    {header: 'id', cell: (u) => String(u.id), plain: (u) => u.id},
    {header: 'name', cell: (u) => u.name ?? c.yellow('NULL'), plain: (u) => u.name, overflow: 'truncate', minWidth: 16},
    {header: 'email', cell: (u) => u.email ?? c.yellow('NULL'), plain: (u) => u.email, overflow: 'truncate', minWidth: 20},
    {header: 'status', cell: (u) => u.status ?? '', plain: (u) => u.status},
    {header: 'ghost', cell: (u) => yesNo(u.ghost), plain: (u) => u.ghost},
    {header: 'updated', cell: (u, f) => (u.updatedAt ? f.time(u.updatedAt) : ''), plain: (u) => u.updatedAt, priority: 2},
    {header: 'created', cell: (u, f) => (u.createdAt ? f.time(u.createdAt) : ''), plain: (u) => u.createdAt, priority: 3},
    {header: 'problems', cell: (u) => c.yellow(u.problems.join('; ')), plain: (u) => u.problems.join('; ') || null, priority: 2},
  ]
}

/** What user:list says on stderr: the tenant, how many users match, the next page; or why the RDS could not be read. */
export function userListSummary(c: ChalkInstance, result: UserListResult): string {
  const t = result.tenant
  const tenant = `tenant "${escapeControl(t.name)}" (${escapeControl(t.ref)}, #${t.id})`
  const lines: string[] = []
  if (t.remoteMissingAt) lines.push(c.yellow(`${tenant} is gone upstream since ${t.remoteMissingAt}`))
  if (result.error !== null) {
    lines.push(c.red(`RDS ${escapeControl(t.rdsName)} of ${tenant} is unavailable: ${escapeControl(result.error)}`))
    return lines.join('\n')
  }
  const first = result.users[0]
  const shown = first ? `; showing ${result.users.length} (ids ${first.id}–${(result.users.at(-1) as FleetUser).id})` : ''
  lines.push(`${plural(result.total ?? 0, 'user')} of ${tenant} match${shown}`)
  if (result.nextAfter !== null) lines.push(`next page: --after ${result.nextAfter}`)
  return lines.join('\n')
}
