import type {ChalkInstance} from 'chalk'

import type {PlacementReport, PlacementRow} from '../../lib/placement/placement.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {renderTable} from '../output/render.js'
import {colourHealth, colourState} from './rds.js'

/** Every RDS as placement ranks it: candidates first (rank 1 takes the next tenant), then the excluded ones with why. */
export function renderPlacement(c: ChalkInstance, report: PlacementReport): string {
  const safe = escapeControlDeep(report)
  const table = renderTable<PlacementRow>(safe.rds, [
    {header: 'rank', cell: (r) => (r.rank === null ? c.dim('-') : String(r.rank))},
    {header: 'rds', cell: (r) => (r.isMaster ? `${r.rds.name} ${c.cyan('(master)')}` : r.rds.name), overflow: 'truncate', minWidth: 12},
    {header: 'state', cell: (r) => colourState(c, r.state)},
    {header: 'health', cell: (r) => colourHealth(c, r.health)},
    {header: 'latency', cell: (r) => (r.latencyMs === null ? c.dim('-') : `${r.latencyMs} ms`)},
    {header: 'tenants', cell: (r) => (r.reserved > 0 ? `${r.tenants} +${r.reserved}` : String(r.tenants))},
    {header: 'capacity', cell: (r) => String(r.capacity)},
    {header: 'load', cell: (r) => `${Math.round(r.load * 100)}%`},
    {header: 'locations', cell: (r) => (safe.forLocations !== null && r.rank !== null ? `${r.locations} +${safe.forLocations}` : String(r.locations))},
    {header: 'why', cell: (r) => (r.excluded === null ? (r.reason ?? '') : c.yellow(`excluded: ${r.excluded}`)), overflow: 'wrap', minWidth: 20},
  ])
  const head = safe.chosen
    ? `A new tenant goes to ${c.bold(safe.chosen.name)} (capacity ${safe.capacity} tenants per RDS; "+n": reserved by jobs in progress).`
    : c.red(`No RDS can take a new tenant (capacity ${safe.capacity} tenants per RDS).`)
  return `${head}\n${table}\n`
}
