import type {ChalkInstance} from 'chalk'

import type {AccessExplanation} from '../../lib/access/explain.js'
import type {PermissionView} from '../../lib/access/list.js'
import {escapeControl} from '../../lib/text/escape.js'
import type {Column} from '../output/render.js'

/** access:explain's answer: yes or no, and why. */
export function renderAccess(c: ChalkInstance, answer: AccessExplanation): string {
  return `${answer.allowed ? c.green('yes') : c.red('no')}: ${escapeControl(answer.reason)}\n`
}

/** access:list's columns: each permission, what it allows and the roles that grant it (space-separated in csv); the commands that need it are in --json. */
export const permissionColumns: readonly Column<PermissionView>[] = [
  {header: 'Permission', cell: (r) => r.permission},
  {header: 'Allows', cell: (r) => r.allows},
  {header: 'Built-in roles', cell: (r) => r.builtinRoles.join(', ') || '-', plain: (r) => r.builtinRoles.join(' ')},
  {header: 'Custom roles', cell: (r) => r.customRoles.join(', ') || '-', plain: (r) => r.customRoles.join(' ')},
]
