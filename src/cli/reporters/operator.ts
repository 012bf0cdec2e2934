import type {ChalkInstance} from 'chalk'

import type {OperatorView} from '../../lib/operator/service.js'
import {renderRecord, type Column} from '../output/render.js'

export function operatorColumns(c: ChalkInstance): Column<OperatorView>[] {
  return [
    {header: 'ID', cell: (r) => String(r.id), plain: (r) => r.id},
    {header: 'Email', cell: (r) => r.email},
    {header: 'Name', cell: (r) => r.name},
    {header: 'Role', cell: (r) => r.role},
    {header: 'Active', cell: (r) => (r.isActive ? 'yes' : c.red('no')), plain: (r) => r.isActive},
    {header: 'Last login', cell: (r) => r.lastLoginAt ?? 'never', plain: (r) => r.lastLoginAt},
    {header: 'Locked until', cell: (r) => r.lockedUntil ?? '', plain: (r) => r.lockedUntil},
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
