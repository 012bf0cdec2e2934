import type {ChalkInstance} from 'chalk'

import type {RoutingEntry, RoutingLookup} from '../../lib/routing/lookup.js'
import {ago} from '../../lib/text/age.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
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

/** Where an email routes: the cache's entries and age, then (with --live) the master's and how they differ; tables laid out as `layout` says. */
export function renderRoutingLookup(c: ChalkInstance, result: RoutingLookup, now: Date, layout: TableLayout = {}): string {
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
