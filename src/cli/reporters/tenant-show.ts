import type {ChalkInstance} from 'chalk'

import type {AuditView} from '../../lib/audit/read.js'
import type {HealthSignal} from '../../lib/tenant/health-score.js'
import type {ImpersonationView, RoutingCheck, TenantLive, TenantShow} from '../../lib/tenant/show.js'
import {ago} from '../../lib/text/age.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import {paint} from '../output/color.js'
import {renderList, type Column, type TableLayout} from '../output/render.js'
import {auditColumns} from './audit.js'
import {colourHealth} from './rds.js'

/**
 * What this caller may see of the result: emails of the tenant's contact, its
 * users and its billing masked without pii.view; audit entries as audit:list
 * shows them. Operators' names in the impersonations are raiops' own, kept.
 */
export function maskTenantShow(result: TenantShow, pii: <V>(value: V) => V, piiAudit: (entry: AuditView) => AuditView): TenantShow {
  return {
    ...result,
    tenant: pii(result.tenant),
    live: pii(result.live),
    billing: pii(result.billing),
    audit: result.audit?.map((entry) => piiAudit(entry)) ?? null,
  }
}

/** Exit 3 when a server failed: the live read, or the master for the routing comparison. */
export const tenantShowPartial = (result: TenantShow): boolean => result.partial

const or = (c: ChalkInstance, value: string | null | undefined, none = '(none)'): string =>
  value === null || value === undefined || value === '' ? c.dim(none) : value
const when = (c: ChalkInstance, iso: string | null, now: Date, none = 'never'): string => (iso ? `${iso} (${ago(iso, now)})` : c.dim(none))

function lines(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `  ${`${k}:`.padEnd(width + 2)}${v}`).join('\n') + '\n'
}

function registrySection(c: ChalkInstance, t: TenantShow['tenant'], now: Date): string {
  const rds = `${t.rds.name} (id ${t.rds.id}, ${t.rds.engine}, ${t.rds.state}${t.rds.active ? '' : ', inactive'}, health ${colourHealth(c, t.rds.health)})`
  const users = t.activeUsers === null ? String(t.users) : `${t.users} (${t.activeUsers} active)`
  return `${c.bold('Registry')}\n${lines([
    ['id', String(t.id)],
    ['rds', rds],
    ['remote id', `${t.rds.name}:${t.remoteTenantId}`],
    ['name', or(c, t.name, '(empty)')],
    ['status', or(c, t.status, '(unknown)')],
    ['contact', or(c, t.primaryContactName)],
    ['contact email', or(c, t.primaryContactEmail)],
    ['users', users],
    ['ghost users', t.ghostUsers === null ? c.dim('not counted yet') : String(t.ghostUsers)],
    ['locations', String(t.locations)],
    ['last user activity', when(c, t.lastUserActivityAt, now, 'none known')],
    ['refreshed', when(c, t.refreshedAt, now)],
    ...(t.missingAt ? ([['gone upstream', paint(c, 'warn', when(c, t.missingAt, now))]] as Array<[string, string]>) : []),
  ])}`
}

function liveSection(c: ChalkInstance, result: TenantShow, live: TenantLive, now: Date): string {
  const rds = result.tenant.rds.name
  const read = c.dim(`(${live.durationMs} ms; ${live.queries.rds} queries to ${rds}, ${live.queries.master} to the master)`)
  let text = `\n${c.bold(`Live on ${rds}`)} ${read}\n`
  if (live.status === 'unavailable')
    return `${text}  ${paint(c, 'fail', `live data unavailable: ${live.reason ?? ''}`)}\n  ${c.dim('the registry above is the cached data')}\n`
  if (live.status === 'gone') text += `  ${paint(c, 'warn', `${live.reason ?? 'the tenant is gone from its RDS'}: marked gone in the registry`)}\n`
  if (live.tenant) {
    text += lines([
      ['name', live.tenant.name === null ? paint(c, 'warn', 'NULL (breaks the fleet contract)') : or(c, live.tenant.name, '(empty)')],
      ['status', or(c, live.tenant.status, '(NULL)')],
      ['contact', or(c, live.tenant.primaryContactName)],
      ['contact email', or(c, live.tenant.primaryContactEmail)],
    ])
  }
  if (live.users) {
    const byStatus = live.users.byStatus.map((s) => `${s.status ?? 'NULL'} ${s.users}`).join(', ')
    text += `\n${c.bold('Users')}\n${lines([
      ['users', `${live.users.total}${byStatus ? ` (${byStatus})` : ''}`],
      ['ghost users', String(live.users.ghosts)],
      ['locations', String(live.locations ?? 0)],
      ['last user activity', when(c, live.users.lastActivityAt, now, 'none')],
    ])}`
  }
  for (const issue of live.contractIssues) text += `  ${paint(c, 'warn', `breaks the fleet contract: ${issue}`)}\n`
  return text + routingSection(c, live.routing)
}

function routingSection(c: ChalkInstance, routing: RoutingCheck): string {
  const master = routing.master ? ` (master ${routing.master.name})` : ''
  let text = `\n${c.bold(`Routing${master}`)}\n`
  if (routing.status === 'unavailable') return `${text}  ${paint(c, 'fail', `routing comparison unavailable: ${routing.reason ?? ''}`)}\n`
  if (routing.status === 'skipped') return `${text}  ${c.dim(`not compared: ${routing.reason ?? ''}`)}\n`
  text += `  ${routing.entries ?? 0} routing entries name this tenant\n`
  const wrong = routing.routedWithoutUser
  const unrouted = routing.usersWithoutRouting
  if (wrong && wrong.count > 0) {
    text += `  ${paint(c, 'warn', `${wrong.count} routed email(s) without their user here`)}${wrong.count > wrong.sample.length ? c.dim(` (first ${wrong.sample.length})`) : ''}\n`
    for (const w of wrong.sample) {
      const detail = w.problem === 'no user' ? `no user ${w.userId ?? 'NULL'}` : `user ${w.userId} has ${w.userEmail ?? 'a NULL email'}`
      text += `    entry ${w.routingId}: ${w.email ?? 'NULL'} → ${detail}\n`
    }
  }
  if (unrouted && unrouted.count > 0) {
    text += `  ${paint(c, 'warn', `${unrouted.count} user(s) with no routing entry`)}${unrouted.count > unrouted.sample.length ? c.dim(` (first ${unrouted.sample.length})`) : ''}\n`
    for (const u of unrouted.sample) text += `    user ${u.userId}: ${u.email ?? 'NULL email'}\n`
  }
  if ((wrong?.count ?? 0) === 0 && (unrouted?.count ?? 0) === 0) text += `  ${paint(c, 'ok', 'every user is routed, every entry has its user')}\n`
  return text
}

const signalColumns: Column<HealthSignal>[] = [
  {header: 'signal', cell: (s) => s.name},
  {header: 'points', cell: (s) => `${s.points} / ${s.weight}`},
  {header: 'detail', cell: (s) => s.detail, overflow: 'wrap', minWidth: 20},
]

function healthSection(c: ChalkInstance, health: TenantShow['health'], layout: TableLayout, now: Date): string {
  if (health.score === null) return `\n${c.bold('Health score')}\n  ${c.dim('never scored: read it live (without --no-live) or run `raiops sync:tenants`')}\n`
  const tone = health.score >= 70 ? 'ok' : health.score >= 40 ? 'warn' : 'fail'
  const source = health.source === 'live' ? 'from this read' : `stored, as of ${health.asOf ? ago(health.asOf, now) : 'an unknown time'}`
  return `\n${c.bold('Health score')} ${paint(c, tone, `${health.score}/100`)} ${c.dim(`(${source})`)}\n${renderList(health.signals, signalColumns, 'table', layout)}`
}

function billingSection(c: ChalkInstance, result: TenantShow, now: Date): string {
  const title = `\n${c.bold('Billing')}\n`
  if (result.hidden.some((h) => h.section === 'billing')) return `${title}  ${c.dim('not shown: needs billing.view')}\n`
  const b = result.billing
  if (!b) return `${title}  ${c.dim('no billing record')}\n`
  return `${title}${lines([
    ['status', b.status],
    ['plan', b.plan ? `${b.plan.name} (${b.plan.code})` : c.dim('(none)')],
    ['mrr', `${(b.mrrCents / 100).toFixed(2)} ${b.currency}`],
    ['billing email', or(c, b.billingEmail)],
    ['started', when(c, b.startedAt, now, '-')],
    ['next billing', when(c, b.nextBillingAt, now, '-')],
    ...(b.cancelledAt ? ([['cancelled', when(c, b.cancelledAt, now)]] as Array<[string, string]>) : []),
  ])}`
}

const impersonationColumns: Column<ImpersonationView>[] = [
  {header: 'id', cell: (r) => String(r.id)},
  {header: 'issued', cell: (r, f) => f.time(r.issuedAt)},
  {header: 'operator', cell: (r) => r.operator, overflow: 'truncate', minWidth: 16},
  {header: 'used', cell: (r, f) => (r.usedAt ? f.time(r.usedAt) : 'no'), priority: 2},
  {header: 'ticket', cell: (r) => r.ticket ?? '', priority: 3},
  {header: 'reason', cell: (r) => r.reason ?? '', overflow: 'wrap', minWidth: 20},
]

/** tenant:show for people: Registry, Live, Users, Routing, Health score, Billing, Recent audit, Impersonations. */
export function renderTenantShow(c: ChalkInstance, result: TenantShow, now: Date, layout: TableLayout = {}): string {
  // Names, emails and reasons come from the fleet and from operators: escaped (the tables escape their own cells).
  const shown = escapeControlDeep(result)
  const table = {...layout, now}
  let text = registrySection(c, shown.tenant, now)
  text += shown.live ? liveSection(c, shown, shown.live, now) : `\n${c.dim('live data not read (--no-live): the registry above is the cached data')}\n`
  text += healthSection(c, result.health, table, now)
  text += billingSection(c, shown, now)
  text += `\n${c.bold('Recent audit')}\n`
  if (result.audit === null) text += `  ${c.dim('not shown: needs audit.view')}\n`
  else text += result.audit.length === 0 ? `  ${c.dim('no entries')}\n` : renderList(result.audit, auditColumns(c), 'table', table)
  text += `\n${c.bold('Impersonations')}\n`
  text += result.impersonations.length === 0 ? `  ${c.dim('none')}\n` : renderList(result.impersonations, impersonationColumns, 'table', table)
  return text
}

/** What the caller should know even under --json: live data unavailable, the routing not compared, the tenant gone. */
export function tenantShowWarnings(result: TenantShow): string[] {
  const live = result.live
  if (!live) return []
  const warnings: string[] = []
  if (live.status === 'unavailable') warnings.push(`live data unavailable, showing the cached data: ${live.reason ?? ''}`)
  if (live.status === 'gone') warnings.push(`${live.reason ?? 'the tenant is gone from its RDS'}: marked gone in the registry`)
  if (live.routing.status === 'unavailable') warnings.push(`routing comparison unavailable: ${live.routing.reason ?? ''}`)
  return warnings
}
