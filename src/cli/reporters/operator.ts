import type {ChalkInstance} from 'chalk'

import type {OperatorView} from '../../lib/operator/service.js'
import {renderRecord, type Column} from '../output/render.js'

export function operatorColumns(c: ChalkInstance): Column<OperatorView>[] {
  return [
    {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'email', cell: (r) => r.email, overflow: 'truncate', minWidth: 30},
    {header: 'name', cell: (r) => r.name, overflow: 'truncate', priority: 3},
    {header: 'role', cell: (r) => r.role, overflow: 'truncate', minWidth: 14},
    {header: 'active', cell: (r) => (r.isActive ? 'yes' : c.red('no')), plain: (r) => r.isActive},
    {header: 'last login', cell: (r, f) => (r.lastLoginAt ? f.time(r.lastLoginAt) : 'never'), plain: (r) => r.lastLoginAt, priority: 2},
    {header: 'locked until', cell: (r, f) => (r.lockedUntil ? f.time(r.lockedUntil) : ''), plain: (r) => r.lockedUntil, priority: 2},
  ]
}

/** One operator, a field per line, with the permissions their role grants. */
export function renderOperator(operator: OperatorView & {permissions: string[]}): string {
  return renderRecord(operator, (o) => [
    ['id', String(o.id)],
    ['email', o.email],
    ['name', o.name],
    ['role', o.role],
    ['active', o.isActive ? 'yes' : 'no'],
    ['last login', o.lastLoginAt ?? 'never'],
    ['locked until', o.lockedUntil ?? '-'],
    ['permissions', o.permissions.join(', ') || '(none)'],
  ])
}
