import type {ChalkInstance} from 'chalk'

import type {TenantListResult, TenantListRow, TenantListSummary} from '../../lib/tenant/list.js'
import {ago} from '../../lib/text/age.js'
import {escapeControl} from '../../lib/text/escape.js'
import {groupThousands} from '../../lib/text/number.js'
import {paint} from '../output/color.js'
import type {StreamedList} from '../output/list-stream.js'
import type {Column} from '../output/render.js'

function healthCell(c: ChalkInstance, health: number | null): string {
  if (health === null) return c.dim('-')
  return paint(c, health >= 70 ? 'ok' : health >= 40 ? 'warn' : 'fail', String(health))
}

/**
 * tenant:list's columns; the contact's name and email only with `contacts`
 * (--wide, CSV, --columns), as the table would be too wide for a terminal otherwise.
 */
export function tenantListColumns(c: ChalkInstance, options: {contacts: boolean}): Column<TenantListRow>[] {
  const columns: Column<TenantListRow>[] = [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'tenant', cell: (r) => r.tenant, overflow: 'truncate', minWidth: 12},
    // A fleet row may break the contract: an empty name is shown as such.
    {header: 'name', cell: (r) => (r.name === '' ? c.dim('(no name)') : r.name), plain: (r) => r.name, overflow: 'truncate', minWidth: 16},
    {header: 'status', cell: (r) => r.status ?? c.dim('-'), plain: (r) => r.status, priority: 2},
    {header: 'users', cell: (r) => String(r.users), plain: (r) => r.users},
    {header: 'locations', cell: (r) => String(r.locations), plain: (r) => r.locations, priority: 3},
    {header: 'health', cell: (r) => healthCell(c, r.health), plain: (r) => r.health},
    {header: 'refreshed', cell: (r, f) => (r.refreshedAt ? f.time(r.refreshedAt) : c.dim('never')), plain: (r) => r.refreshedAt, priority: 2},
    {header: 'missing', cell: (r, f) => (r.missingSince ? c.yellow(`gone ${f.time(r.missingSince)}`) : ''), plain: (r) => r.missingSince, priority: 2},
  ]
  if (!options.contacts) return columns
  return [
    ...columns,
    {header: 'contact', cell: (r) => r.contactName ?? '', plain: (r) => r.contactName, overflow: 'truncate', priority: 4},
    {header: 'email', cell: (r) => r.contactEmail ?? '', plain: (r) => r.contactEmail, overflow: 'truncate', priority: 4},
  ]
}

/** Whether the contact columns are shown: in --wide tables, in every other format, or when --columns may name them. */
export const showsContacts = (flags: {wide?: boolean; format: string; columns?: string}): boolean =>
  Boolean(flags.wide) || flags.format !== 'table' || flags.columns !== undefined

const plural = (n: number, one: string, many = `${one}s`) => `${groupThousands(n)} ${n === 1 ? one : many}`

/** The summary line (stderr): how many tenants match, on how many RDS, how fresh their cached data is. */
export function tenantListSummaryLine(s: TenantListSummary, now: Date): string {
  if (s.matching === 0) return 'no tenant matches'
  const parts = [`${plural(s.matching, 'tenant')} ${s.matching === 1 ? 'matches' : 'match'} on ${plural(s.rds, 'RDS', 'RDS')}`]
  if (s.missing > 0) parts.push(`${groupThousands(s.missing)} gone upstream`)
  if (s.oldestRefreshedAt && s.newestRefreshedAt) {
    const oldest = ago(s.oldestRefreshedAt, now)
    const newest = ago(s.newestRefreshedAt, now)
    parts.push(oldest === newest ? `refreshed ${newest}` : `refreshed ${oldest} to ${newest}`)
  }
  if (s.neverRefreshed > 0) parts.push(`${groupThousands(s.neverRefreshed)} never refreshed`)
  return parts.join(' · ')
}

/** How to get the next page (stderr), when there is one. */
export function tenantListNextLine(result: TenantListResult): string | undefined {
  if (result.next === null) return undefined
  const byPage = result.page === null ? '' : ` (or --page ${result.page + 1})`
  return `more tenants: repeat with --after ${result.next}${byPage}`
}

/** What --all wrote, and where (stderr). */
export function tenantStreamNote(written: StreamedList, output: string | undefined): string {
  const where = output === undefined || output === '-' ? 'standard output' : escapeControl(output)
  // What the reader took of the last piece written is not known: no count is claimed.
  if (written.end === 'reader-closed') return `stopped: ${where} was closed by its reader`
  if (written.end === 'interrupted') return `stopped after ${plural(written.rows, 'tenant')}${where === 'standard output' ? '' : `; ${where} was not written`}`
  return `wrote ${plural(written.rows, 'tenant')} to ${where}`
}
