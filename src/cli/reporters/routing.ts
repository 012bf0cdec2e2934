import type {ChalkInstance} from 'chalk'

import type {RoutingEntry, RoutingLookup} from '../../lib/routing/lookup.js'
import {ago} from '../../lib/text/age.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {renderList, type Column, type TableLayout} from '../output/render.js'

function routingColumns(c: ChalkInstance): Column<RoutingEntry>[] {
  return [
    {
      header: 'tenant',
      cell: (e) => (e.tenantName ? `${e.tenantName} (#${e.tenantMasterId})` : c.yellow(`not in tenant_master (remote ${e.remoteTenantId})`)),
      overflow: 'wrap',
      minWidth: 30,
    },
    {header: 'rds', cell: (e) => e.rdsName ?? c.yellow(`unknown RDS ${e.rdsInstanceId}`), overflow: 'truncate', minWidth: 24},
    {header: 'user id', cell: (e) => String(e.remoteUserId), priority: 2},
    {header: 'status', cell: (e) => e.status ?? ''},
    {header: 'updated upstream', cell: (e, f) => (e.sourceUpdatedAt ? f.time(e.sourceUpdatedAt) : ''), plain: (e) => e.sourceUpdatedAt, priority: 3},
  ]
}

const entries = (n: number): string => `${n} entr${n === 1 ? 'y' : 'ies'}`

/** An email no tenant has, in the cache nor (with --live) on the master: said on stderr, the result is empty. */
export const routingLookupEmpty = (result: RoutingLookup): boolean => result.cache.length === 0 && (result.live === null || result.live.length === 0)

/** What routing:lookup says on stderr when no tenant has the email; null when one has. */
export function routingLookupNote(result: RoutingLookup): string | null {
  if (!routingLookupEmpty(result)) return null
  const where = result.live === null ? 'not in the routing cache' : 'not in the routing cache, nor on the master RDS'
  return `no tenant has this email: ${escapeControl(result.email)} is ${where}`
}

/** Where an email routes: the cache's entries and age, then (with --live) the master's and how they differ; nothing when no tenant has it (see routingLookupNote). */
export function renderRoutingLookup(c: ChalkInstance, result: RoutingLookup, now: Date, layout: TableLayout = {}): string {
  if (routingLookupEmpty(result)) return ''
  const columns = routingColumns(c)
  // The lines below print the email and the master's values themselves; the tables escape their rows.
  const shown = escapeControlDeep(result)
  let text = ''
  if (result.cache.length === 0) text += `${shown.email}: not in the routing cache\n`
  else {
    const age = result.cacheAgeMs !== null ? `, synced ${ago(new Date(now.getTime() - result.cacheAgeMs).toISOString(), now)}` : ''
    text += `${shown.email}: ${entries(result.cache.length)} in the routing cache${age}\n${renderList(result.cache, columns, 'table', {...layout, now})}`
  }
  if (result.live) {
    text += `live from the master RDS: ${entries(result.live.length)}\n`
    if (result.live.length > 0) text += renderList(result.live, columns, 'table', {...layout, now})
    if (result.differences && result.differences.length > 0) {
      for (const d of shown.differences ?? []) text += `${c.yellow(`  row ${d.sourceId}: ${d.difference}`)}\n`
      text += `${c.dim('  run `raiops sync:routing` to bring the cache up to date')}\n`
    } else text += `${c.green('  the cache matches the master')}\n`
  }
  return text
}
