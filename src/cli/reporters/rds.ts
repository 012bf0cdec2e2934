import type {ChalkInstance} from 'chalk'

import type {RdsTestResult} from '../../lib/rds/connection-test.js'
import type {RemoveRdsResult} from '../../lib/rds/remove.js'
import type {AddRdsResult, EditRdsResult} from '../../lib/rds/service.js'
import type {HealthStatus, RdsState, RdsView} from '../../lib/rds/types.js'
import {escapeControl, escapeControlDeep} from '../../lib/text/escape.js'
import {paint} from '../output/color.js'
import {renderRecord, type Column} from '../output/render.js'

export function colourHealth(c: ChalkInstance, status: HealthStatus): string {
  return paint(c, status === 'healthy' ? 'ok' : status === 'degraded' ? 'warn' : status === 'down' ? 'fail' : 'dim', status)
}

export function colourState(c: ChalkInstance, state: RdsState): string {
  return paint(c, state === 'online' ? 'ok' : state === 'draining' ? 'warn' : 'fail', state)
}

export function endpoint(rds: Pick<RdsView, 'engine' | 'host' | 'port' | 'raiDatabase'>): string {
  return rds.engine === 'sqlite' ? rds.raiDatabase : `${rds.host}:${rds.port}`
}

export function rdsColumns(c: ChalkInstance): Column<RdsView>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'name', cell: (r) => (r.isMaster ? `${r.name} ${c.cyan('(master)')}` : r.name), plain: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'engine', cell: (r) => r.engine, priority: 4},
    {header: 'endpoint', cell: (r) => endpoint(r), overflow: 'truncate-start', minWidth: 14, priority: 3},
    {header: 'database', cell: (r) => (r.engine === 'sqlite' ? '-' : r.raiDatabase), plain: (r) => r.raiDatabase, overflow: 'truncate', priority: 5},
    // The name says "(master)" already: the first to go.
    {header: 'master', cell: (r) => (r.isMaster ? 'yes' : ''), plain: (r) => r.isMaster, priority: 6},
    {header: 'active', cell: (r) => (r.isActive ? 'yes' : c.dim('no')), plain: (r) => r.isActive, priority: 2},
    {header: 'state', cell: (r) => colourState(c, r.state), plain: (r) => r.state},
    {header: 'health', cell: (r) => colourHealth(c, r.health.status), plain: (r) => r.health.status},
    {header: 'checked', cell: (r, f) => (r.health.checkedAt ? f.time(r.health.checkedAt) : c.dim('never')), plain: (r) => r.health.checkedAt, priority: 2},
  ]
}

function impersonationCell(c: ChalkInstance, r: RdsView): string {
  if (!r.impersonation.enabled) return c.dim('off')
  const ttl = r.impersonation.ttlSeconds ?? 300
  return `on (audience ${r.impersonation.audience ?? r.appUrl ?? c.dim('the app url, none set')}; links valid ${ttl % 60 === 0 ? `${ttl / 60} min` : `${ttl} s`})`
}

export function rdsRecord(c: ChalkInstance, r: RdsView): Array<[string, string]> {
  return [
    ['id', String(r.id)],
    ['name', r.name],
    ['engine', r.engine],
    ...(r.engine === 'sqlite'
      ? ([['file', r.raiDatabase]] as Array<[string, string]>)
      : ([
          ['host', r.host ?? ''],
          ['port', String(r.port ?? '')],
          ['username', r.username ?? ''],
          ['password', r.passwordSet ? '(set, encrypted)' : c.dim('(none)')],
          ['rai database', r.raiDatabase],
        ] as Array<[string, string]>)),
    ['providers database', r.providersDatabase ?? c.dim('(none)')],
    ['app url', r.appUrl ?? c.dim('(none)')],
    ['impersonation', impersonationCell(c, r)],
    ['master', r.isMaster ? 'yes' : 'no'],
    ['active', r.isActive ? 'yes' : 'no'],
    ['state', colourState(c, r.state)],
    [
      'health',
      `${colourHealth(c, r.health.status)}${r.health.latencyMs !== null ? ` (${r.health.latencyMs} ms)` : ''}${r.health.error ? ` ${r.health.error}` : ''}`,
    ],
    ['health checked', r.health.checkedAt ?? c.dim('never')],
    ['created', r.createdAt],
    ['updated', r.updatedAt],
  ]
}

export function rdsTestColumns(c: ChalkInstance): Column<RdsTestResult>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate', minWidth: 24},
    {header: 'result', cell: (r) => (r.ok ? c.green('ok') : c.red('failed')), plain: (r) => (r.ok ? 'ok' : 'failed')},
    {header: 'latency ms', cell: (r) => (r.latencyMs === null ? '' : String(r.latencyMs)), plain: (r) => r.latencyMs, priority: 2},
    {header: 'server', cell: (r) => r.serverVersion ?? '', overflow: 'truncate', priority: 3},
    {header: 'error', cell: (r) => r.error ?? '', overflow: 'wrap', minWidth: 20},
  ]
}

/** A registered RDS: what was stored, and what its server said when tested. */
export function renderRdsAdded(c: ChalkInstance, result: AddRdsResult): string {
  // The server's version is whatever the server says.
  const shown = escapeControlDeep(result)
  const test = shown.test ? `: ${shown.test.serverVersion}, ${shown.test.latencyMs} ms` : ', connection not tested'
  return `${c.green('✓')} registered RDS ${shown.rds.name} (id ${shown.rds.id})${test}\n${renderRecord(result.rds, (r) => rdsRecord(c, r)).trimEnd()}\n`
}

/** A changed field of rds:edit's result as the flag that sets it: `--port`, `--no-active`. */
function editFlag(field: string, rds: RdsView): string {
  switch (field) {
    case 'raiDatabase':
      return rds.engine === 'sqlite' ? '--file' : '--rai-database'
    case 'providersDatabase':
      return '--providers-database'
    case 'appUrl':
      return '--app-url'
    case 'isMaster':
      return rds.isMaster ? '--master' : '--no-master'
    case 'isActive':
      return rds.isActive ? '--active' : '--no-active'
    case 'impersonationEnabled':
      return rds.impersonation.enabled ? '--impersonation' : '--no-impersonation'
    case 'impersonationAudience':
      return '--impersonation-audience'
    case 'impersonationTtlSeconds':
      return '--impersonation-ttl'
    case 'password':
      return '--password-stdin'
    default:
      return `--${field.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`
  }
}

/** An edited RDS: what changed (by the flags that change it) and the RDS now, or that nothing did. */
export function renderRdsEdited(c: ChalkInstance, result: EditRdsResult): string {
  const shown = escapeControlDeep(result)
  if (result.changed.length === 0) return `RDS ${shown.rds.name} already has these values: nothing changed\n`
  const tested = shown.test ? ` (connection tested: ${shown.test.latencyMs} ms)` : ''
  const changed = result.changed.map((field) => editFlag(field, result.rds)).join(', ')
  return `${c.green('✓')} updated RDS ${shown.rds.name}: ${changed}${tested}\n${renderRecord(result.rds, (r) => rdsRecord(c, r)).trimEnd()}\n`
}

/** rds:show: every setting, with the stored password in its place when it was revealed. */
export function renderRdsShown(c: ChalkInstance, shown: RdsView & {password?: string | null}): string {
  const record = renderRecord(shown, (r) => {
    const fields = rdsRecord(c, r)
    if (!('password' in r)) return fields
    const revealed: [string, string] = ['password', r.password ?? c.dim('(none stored)')]
    const at = fields.findIndex(([key]) => key === 'password')
    return at === -1 ? [...fields, revealed] : fields.map((field, index) => (index === at ? revealed : field))
  })
  return `${record.trimEnd()}\n`
}

/** `✓ removed RDS old-eu (id 4)`, with the tenant registry rows --force took along. */
export function renderRdsRemoved(c: ChalkInstance, result: RemoveRdsResult): string {
  const tenants = result.tenantsRemoved > 0 ? ` and ${result.tenantsRemoved} tenant registry row(s)` : ''
  return `${c.green('✓')} removed RDS ${escapeControl(result.removed.name)} (id ${result.removed.id})${tenants}\n`
}
