import type {SubscriptionView} from '../../lib/alerts/subscriptions.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import type {Column} from '../output/render.js'

const any = (values: readonly string[] | null) => (values === null ? 'any' : values.join(','))

/** alerts:subscriptions' columns: a webhook URL is shown masked, as the service returns it. */
export const subscriptionColumns: readonly Column<SubscriptionView>[] = [
  {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
  {header: 'operator', cell: (r) => r.operator, overflow: 'truncate', minWidth: 16},
  {header: 'channel', cell: (r) => r.channel},
  {header: 'target', cell: (r) => r.target ?? '(their email)', plain: (r) => r.target, overflow: 'truncate', minWidth: 16},
  {header: 'severities', cell: (r) => any(r.severities), priority: 2},
  {header: 'rules', cell: (r) => any(r.rules), overflow: 'truncate', priority: 2},
  {header: 'matchers', cell: (r) => r.matchers.join(',') || 'any', overflow: 'truncate', priority: 3},
  {header: 'resolved', cell: (r) => (r.sendResolved ? 'yes' : 'no'), plain: (r) => r.sendResolved, priority: 3},
]

/** One line saying what a subscription sends where. */
export function subscriptionLine(view: SubscriptionView, verb: string): string {
  const shown = escapeControlDeep(view)
  const where = shown.channel === 'webhook' ? `webhook ${shown.target}` : `email to ${shown.target ?? shown.operator}`
  const filters = [
    `severity ${any(shown.severities)}`,
    `rules ${any(shown.rules)}`,
    ...(shown.matchers.length > 0 ? [`labels ${shown.matchers.join(',')}`] : []),
    shown.sendResolved ? 'resolved too' : 'not resolved',
  ]
  return `subscription ${shown.id} ${verb}: ${shown.operator}, ${where} (${filters.join('; ')})\n`
}
