import type {ChalkInstance} from 'chalk'

import type {RdsGhostSync} from '../../lib/sync/ghost-users.js'
import type {AllSyncReport, GhostSyncEvent, GhostSyncReport, TenantSyncEvent} from '../../lib/sync/index.js'
import {invalidLines} from '../../lib/sync/invalid.js'
import type {RoutingSyncReport} from '../../lib/sync/routing/index.js'
import type {RdsSyncStatus, SyncKindStatus, SyncStatusReport} from '../../lib/sync/status.js'
import type {RdsTenantSync, TenantSyncReport} from '../../lib/sync/tenants.js'
import {ago} from '../../lib/text/age.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import type {SyncFormat} from '../flags/sync.js'
import {paint} from '../output/color.js'
import {renderJson, renderList, type Column, type TableLayout} from '../output/render.js'
import type {Progress} from '../output/spinner.js'

const seconds = (ms: number | null): string => (ms === null ? '' : `${(ms / 1000).toFixed(1)} s`)

export function colourRun(c: ChalkInstance, status: string): string {
  return paint(c, status === 'ok' ? 'ok' : status === 'partial' || status === 'running' ? 'warn' : status === 'failed' ? 'fail' : 'dim', status)
}

export function tenantSyncColumns(c: ChalkInstance): Column<RdsTenantSync>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'rds', cell: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'result', cell: (r) => colourRun(c, r.status), plain: (r) => r.status},
    {header: 'tenants', cell: (r) => (r.tenants === null ? '' : String(r.tenants)), plain: (r) => r.tenants, priority: 2},
    {header: 'new', cell: (r) => String(r.counts.inserted), plain: (r) => r.counts.inserted, priority: 2},
    {header: 'updated', cell: (r) => String(r.counts.updated), plain: (r) => r.counts.updated, priority: 2},
    {header: 'unchanged', cell: (r) => String(r.counts.unchanged), plain: (r) => r.counts.unchanged, priority: 4},
    {header: 'missing', cell: (r) => String(r.counts.missing), plain: (r) => r.counts.missing, priority: 3},
    {header: 'time', cell: (r) => (r.status === 'skipped' ? '' : seconds(r.durationMs)), plain: (r) => r.durationMs, priority: 3},
    {
      header: 'note',
      overflow: 'wrap',
      minWidth: 20,
      // A failure's cause and the invalid rows are told once, in full, by the summary under the table.
      cell: (r, f) =>
        r.error
          ? c.dim('cause below')
          : r.status === 'skipped' && r.lastSyncedAt
            ? c.dim(`synced ${f.time(r.lastSyncedAt)}; --force to sync now`)
            : r.invalidRows.length > 0
              ? c.yellow(`${r.counts.invalid} invalid, below`)
              : '',
      plain: (r) => r.error ?? (r.invalidRows.length > 0 ? invalidNote(r) : ''),
    },
  ]
}

/** An RDS's invalid tenant rows: "2 invalid: name is NULL: stored with an empty name (2 rows: ids 4, 9)". */
function invalidNote(r: RdsTenantSync): string {
  return `${r.counts.invalid} invalid: ${invalidLines(r.invalidRows).join('; ')}`
}

/**
 * The lines below print names from the registry, driver errors and row ids from
 * the fleet themselves (tables escape their rows): each takes the report escaped
 * once, before it formats and colours it.
 */

/** One line per finished RDS (progress on a terminal); a failure's cause is left to the summary, printed once the run ends. */
export function tenantSyncLine(c: ChalkInstance, result: RdsTenantSync): string {
  const r = escapeControlDeep(result)
  if (r.status === 'failed') return `${c.red('✖')} ${r.name}: failed after ${seconds(r.durationMs)}`
  if (r.status === 'skipped') return `${c.dim('–')} ${r.name}: skipped, synced ${r.lastSyncedAt}`
  const invalid = r.counts.invalid > 0 ? `, ${r.counts.invalid} invalid` : ''
  return `${c.green('✔')} ${r.name}: ${r.tenants} tenants (${r.counts.inserted} new, ${r.counts.updated} updated, ${r.counts.missing} missing${invalid}) in ${seconds(r.durationMs)}`
}

export function tenantSyncSummary(c: ChalkInstance, tenantReport: TenantSyncReport): string {
  const report = escapeControlDeep(tenantReport)
  const synced = report.rds.filter((r) => r.status === 'ok').length
  const failed = report.rds.filter((r) => r.status === 'failed')
  const skipped = report.rds.filter((r) => r.status === 'skipped').length
  const {inserted, updated, unchanged, missing, invalid} = report.totals
  return [
    `tenants: ${colourRun(c, report.status)} · ${synced} RDS synced, ${failed.length} failed, ${skipped} skipped · ${inserted} new, ${updated} updated, ${unchanged} unchanged, ${missing} missing${invalid > 0 ? `, ${invalid} invalid` : ''} · ${seconds(report.durationMs)}`,
    ...report.rds.filter((r) => r.invalidRows.length > 0).map((r) => c.yellow(`  ${r.name}: ${invalidNote(r)}`)),
    ...failed.map((f) => c.red(`  failed: ${f.name}: ${f.error}`)),
  ].join('\n')
}

export function routingSyncSummary(c: ChalkInstance, routingReport: RoutingSyncReport): string {
  const report = escapeControlDeep(routingReport)
  const {read, inserted, updated, unchanged, missing, unlinked, invalid} = report.counts
  const lines = [
    `routing (${report.mode}) from ${report.master.name}: ${colourRun(c, report.status)} · ${read} read, ${inserted} new, ${updated} updated, ${unchanged} unchanged, ${missing} removed · ${seconds(report.durationMs)}`,
  ]
  if (unlinked > 0) {
    const examples = report.unlinkedTenants.map((t) => `RDS ${t.rdsInstanceId} tenant ${t.remoteTenantId} (${t.rows})`).join(', ')
    lines.push(c.yellow(`  ${unlinked} row(s) kept without a tenant link: their tenant is not in tenant_master (run sync:tenants) — ${examples}`))
  }
  if (invalid > 0) {
    lines.push(c.yellow(`  ${invalid} source row(s) break the contract:`))
    for (const line of invalidLines(report.invalidRows)) lines.push(c.yellow(`    ${line}`))
  }
  if (report.error) lines.push(c.red(`  failed: ${report.error} — the cache keeps its last committed state`))
  return lines.join('\n')
}

export function syncKindColumns(c: ChalkInstance, now: Date): Column<SyncKindStatus>[] {
  return [
    {header: 'kind', cell: (k) => k.kind},
    {header: 'last run', cell: (k, f) => (k.lastRun ? f.time(k.lastRun.startedAt) : c.dim('never run')), plain: (k) => k.lastRun?.startedAt ?? null},
    {header: 'result', cell: (k) => (k.lastRun ? colourRun(c, k.lastRun.status) : ''), plain: (k) => k.lastRun?.status ?? null},
    {
      header: 'counts',
      cell: (k) => countsText(k.lastRun?.stats ?? null),
      plain: (k) => countsText(k.lastRun?.stats ?? null),
      overflow: 'wrap',
      minWidth: 14,
      priority: 3,
    },
    {
      header: 'data age',
      cell: (k) => (k.lastOkAt ? ago(k.lastOkAt, now).replace(' ago', '') : c.dim('never synced')),
      plain: (k) => k.staleMs,
      priority: 2,
    },
    {
      header: 'running now',
      cell: (k, f) => (k.running ? `${k.running.holder.host} (pid ${k.running.holder.pid}) since ${f.time(k.running.acquiredAt)}` : ''),
      plain: (k) => (k.running ? `${k.running.holder.host}:${k.running.holder.pid}` : ''),
      overflow: 'wrap',
      minWidth: 16,
      priority: 2,
    },
    {
      header: 'error',
      cell: (k) => (k.lastRun?.error ? c.red(k.lastRun.error) : ''),
      plain: (k) => k.lastRun?.error ?? '',
      overflow: 'wrap',
      minWidth: 20,
    },
  ]
}

export function rdsSyncColumns(c: ChalkInstance, now: Date): Column<RdsSyncStatus>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {
      header: 'rds',
      cell: (r) => (r.active ? r.name : `${r.name} ${c.dim('(inactive)')}`),
      plain: (r) => r.name,
      overflow: 'truncate',
      minWidth: 24,
    },
    {header: 'last sync', cell: (r, f) => (r.lastRun ? f.time(r.lastRun.startedAt) : c.dim('never run')), plain: (r) => r.lastRun?.startedAt ?? null},
    {header: 'result', cell: (r) => (r.lastRun ? colourRun(c, r.lastRun.status) : ''), plain: (r) => r.lastRun?.status ?? null},
    {
      header: 'counts',
      cell: (r) => countsText(r.lastRun?.stats ?? null),
      plain: (r) => countsText(r.lastRun?.stats ?? null),
      overflow: 'wrap',
      minWidth: 14,
      priority: 3,
    },
    {
      header: 'data age',
      cell: (r) => (r.lastOkAt ? ago(r.lastOkAt, now).replace(' ago', '') : c.dim('never synced')),
      plain: (r) => r.staleMs,
      priority: 2,
    },
    {
      header: 'error',
      cell: (r) => (r.lastRun?.error ? c.red(r.lastRun.error) : ''),
      plain: (r) => r.lastRun?.error ?? '',
      overflow: 'wrap',
      minWidth: 20,
    },
  ]
}

function countsText(stats: Record<string, unknown> | null): string {
  if (!stats) return ''
  const parts = (['inserted', 'updated', 'unchanged', 'missing', 'skipped', 'invalid'] as const)
    .filter((k) => Number(stats[k] ?? 0) > 0)
    .map((k) => `${String(stats[k])} ${k}`)
  return parts.length > 0 ? parts.join(', ') : 'no changes'
}

/** Lines of NDJSON, each ended. */
const ndjson = (events: readonly unknown[]): string => events.map((event) => `${JSON.stringify(event)}\n`).join('')

/** An RDS's tenant sync as an NDJSON event (`kind` in sync:all, where routing follows). */
export const tenantSyncEvent = (result: RdsTenantSync, kind?: 'tenants'): string => ndjson([{type: 'rds', ...(kind ? {kind} : {}), ...result}])

/**
 * A report in one --format. `streamed`: the per-RDS NDJSON events were
 * already printed as each RDS finished, so only the summary is left; `layout`:
 * how its tables are laid out.
 */
type Reporter<R> = (c: ChalkInstance, report: R, streamed: boolean, layout?: TableLayout) => string

const tenantSyncReporters: Record<SyncFormat, Reporter<TenantSyncReport>> = {
  json: (_c, report) => renderJson(report),
  ndjson: (_c, {rds, ...summary}, streamed) => `${streamed ? '' : rds.map((r) => tenantSyncEvent(r)).join('')}${ndjson([{type: 'summary', ...summary}])}`,
  table: (c, report, _streamed, layout) =>
    `${report.rds.length > 0 ? renderList(report.rds, tenantSyncColumns(c), 'table', layout) : ''}${tenantSyncSummary(c, report)}\n`,
}

const routingSyncReporters: Record<SyncFormat, Reporter<RoutingSyncReport>> = {
  json: (_c, report) => renderJson(report),
  ndjson: (_c, report) => ndjson([{type: 'summary', ...report}]),
  table: (c, report) => `${routingSyncSummary(c, report)}\n`,
}

const allSyncReporters: Record<SyncFormat, Reporter<AllSyncReport>> = {
  json: (_c, report) => renderJson(report),
  ndjson(_c, report, streamed) {
    const {rds, ...summary} = report.tenants
    const ghosts = report.ghosts ? [{type: 'summary', ...report.ghosts}] : []
    return `${streamed ? '' : rds.map((r) => tenantSyncEvent(r, 'tenants')).join('')}${ndjson([{type: 'summary', ...summary}, ...(report.routing ? [{type: 'summary', ...report.routing}] : []), ...ghosts])}`
  },
  table: (c, report, _streamed, layout) =>
    `${tenantSyncReporters.table(c, report.tenants, false, layout)}${report.routing ? routingSyncSummary(c, report.routing) : `routing: ${escapeControl(report.routingError ?? '')}`}\n${report.ghosts ? `${ghostSyncSummary(c, report.ghosts)}\n` : ''}`,
}

export const tenantSyncReporter = (format: SyncFormat): Reporter<TenantSyncReport> => tenantSyncReporters[format]
export const routingSyncReporter = (format: SyncFormat): Reporter<RoutingSyncReport> => routingSyncReporters[format]
export const allSyncReporter = (format: SyncFormat): Reporter<AllSyncReport> => allSyncReporters[format]

const syncStatusReporters: Record<SyncFormat, Reporter<SyncStatusReport>> = {
  json: (_c, report) => renderJson(report),
  ndjson: (_c, report) => ndjson([...report.kinds.map((k) => ({type: 'kind', ...k})), ...report.rds.map((r) => ({type: 'rds', ...r}))]),
  table(c, report, _streamed, layout) {
    const now = new Date(report.generatedAt)
    const tables = {...layout, now}
    return `${renderList(report.kinds, syncKindColumns(c, now), 'table', tables)}${report.rds.length > 0 ? renderList(report.rds, rdsSyncColumns(c, now), 'table', tables) : ''}`
  },
}

/** sync:status in one --format. */
export const syncStatusReporter = (format: SyncFormat): Reporter<SyncStatusReport> => syncStatusReporters[format]

/**
 * A tenant sync's events on the terminal: each finished RDS as a line above the
 * spinner, and passed to `finished` (NDJSON streaming); the spinner's text as
 * the run goes (`phases`: also each RDS's reading and writing).
 */
export function showTenantSync(
  c: ChalkInstance,
  progress: Progress,
  options: {phases: boolean; finished?: (result: RdsTenantSync) => void},
): (event: TenantSyncEvent) => void {
  return (event) => {
    if (event.type === 'done') {
      options.finished?.(event.result)
      progress.log(tenantSyncLine(c, event.result))
      progress.update(`syncing tenants: ${event.done}/${event.total} RDS done`)
    } else if (event.type === 'progress' && options.phases) {
      progress.update(`syncing tenants: ${event.rds.name} ${event.phase}${event.total > 0 ? ` ${event.done}/${event.total}` : ''}`)
    }
  }
}

/** A routing sync's progress as the spinner's text. */
export const showRoutingSync =
  (progress: Progress, mode: string) =>
  ({read, written}: {read: number; written: number}): void =>
    progress.update(`syncing routing (${mode}): ${read} rows read, ${written} written`)

export function ghostSyncColumns(c: ChalkInstance): Column<RdsGhostSync>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'rds', cell: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'result', cell: (r) => colourRun(c, r.status), plain: (r) => r.status},
    {header: 'tenants', cell: (r) => (r.tenants === null ? '' : String(r.tenants)), plain: (r) => r.tenants, priority: 2},
    {header: 'new', cell: (r) => String(r.counts.inserted), plain: (r) => r.counts.inserted},
    {header: 'updated', cell: (r) => String(r.counts.updated), plain: (r) => r.counts.updated, priority: 2},
    {header: 'pruned', cell: (r) => String(r.counts.pruned), plain: (r) => r.counts.pruned, priority: 2},
    {header: 'unchanged', cell: (r) => String(r.counts.unchanged), plain: (r) => r.counts.unchanged, priority: 4},
    {header: 'check', cell: (r) => r.check ?? '', plain: (r) => r.check, priority: 4},
    {header: 'time', cell: (r) => seconds(r.durationMs), plain: (r) => r.durationMs, priority: 3},
    // A failure's cause is told once, in full, by the summary under the table.
    {header: 'note', cell: (r) => (r.error ? c.dim('cause below') : ''), plain: (r) => r.error ?? '', overflow: 'wrap', minWidth: 12},
  ]
}

/** One finished RDS of a ghost-user sync. */
export function ghostSyncLine(c: ChalkInstance, result: RdsGhostSync, dryRun: boolean): string {
  const r = escapeControlDeep(result)
  if (r.status === 'failed') return `${c.red('✖')} ${r.name}: ${r.error}`
  const {inserted, updated, pruned} = r.counts
  const what = dryRun ? `would create ${inserted}, update ${updated}, prune ${pruned}` : `created ${inserted}, updated ${updated}, pruned ${pruned}`
  const how = r.check === 'counts' ? ' (counts unchanged since the last run)' : ''
  return `${c.green('✔')} ${r.name}: ${r.tenants} tenants, ${what} in ${seconds(r.durationMs)}${how}`
}

export function ghostSyncSummary(c: ChalkInstance, ghostReport: GhostSyncReport): string {
  const report = escapeControlDeep(ghostReport)
  const {inserted, updated, pruned, unchanged} = report.totals
  const synced = report.rds.filter((r) => r.status === 'ok').length
  const failed = report.rds.filter((r) => r.status === 'failed')
  const what = report.dryRun
    ? `dry run, nothing written: would create ${inserted}, update ${updated}, prune ${pruned}`
    : `created ${inserted}, updated ${updated}, pruned ${pruned}`
  // Of an RDS that failed nothing is known: "every tenant" is said only when every RDS was done.
  const nothing =
    report.changed || synced === 0
      ? ''
      : report.dryRun
        ? failed.length > 0
          ? ' · nothing to do on the RDS done'
          : ' · nothing to do'
        : failed.length > 0
          ? ' · nothing changed: every tenant of the RDS done already has its ghosts'
          : ' · nothing changed: every tenant already has its ghosts'
  const lines = [
    `ghost users (${report.operators.length} operator(s), @${report.domain}): ${colourRun(c, report.status)} · ${synced} RDS done, ${failed.length} failed · ${what}, ${unchanged} unchanged${nothing} · ${seconds(report.durationMs)}`,
  ]
  const byCounts = report.rds.filter((r) => r.check === 'counts').length
  if (byCounts > 0)
    lines.push(c.dim(`  ${byCounts} RDS answered by counts unchanged since the last run, no ghost row read: --full checks every row (done anyway once a day)`))
  for (const o of report.notEligible)
    lines.push(c.yellow(`  operator ${o.email} (#${o.id}) may not impersonate: no ghosts made${ghostReport.totals.pruned > 0 ? '; its ghosts pruned' : ''}`))
  for (const f of failed) lines.push(c.red(`  failed: ${f.name}: ${f.error}`))
  return lines.join('\n')
}

const ghostSyncEvent = (result: RdsGhostSync): string => ndjson([{type: 'rds', kind: 'ghost-users', ...result}])

const ghostSyncReporters: Record<SyncFormat, Reporter<GhostSyncReport>> = {
  json: (_c, report) => renderJson(report),
  ndjson: (_c, {rds, ...summary}, streamed) => `${streamed ? '' : rds.map(ghostSyncEvent).join('')}${ndjson([{type: 'summary', ...summary}])}`,
  table: (c, report, _streamed, layout) =>
    `${report.rds.length > 0 ? renderList(report.rds, ghostSyncColumns(c), 'table', layout) : ''}${ghostSyncSummary(c, report)}\n`,
}

export const ghostSyncReporter = (format: SyncFormat): Reporter<GhostSyncReport> => ghostSyncReporters[format]

/** A ghost-user sync's events on the terminal: each finished RDS as a line above the spinner (and, streaming NDJSON, as an event). */
export function showGhostSync(
  c: ChalkInstance,
  progress: Progress,
  options: {dryRun: boolean; stream?: (line: string) => void},
): (event: GhostSyncEvent) => void {
  return (event) => {
    options.stream?.(ghostSyncEvent(event.result))
    progress.log(ghostSyncLine(c, event.result, options.dryRun))
    progress.update(`syncing ghost users: ${event.done}/${event.total} RDS done`)
  }
}
