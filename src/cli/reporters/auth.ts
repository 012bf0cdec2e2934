import type {Identity} from '../../lib/auth/identity.js'
import {PERMISSIONS} from '../../lib/auth/permissions.js'
import type {RoleView} from '../../lib/role/roles.js'
import {escapeControlDeep} from '../../lib/text/escape.js'
import type {Column} from '../output/render.js'

/** `sync_runner: sync.run, sync.view`: a role and what it grants, on one line. */
export function roleLine(role: RoleView): string {
  const shown = escapeControlDeep(role)
  return `${shown.name}: ${shown.permissions.join(', ') || '(no permissions)'}`
}

/** A role with its description, who holds it, and each permission with what it allows; the description is the operator's text, escaped. */
export function renderRole(role: RoleView): string {
  const shown = escapeControlDeep(role)
  const lines = [
    `${shown.name} (${shown.builtin ? 'built-in' : 'custom'}): ${shown.description ?? ''}`.trimEnd(),
    `${shown.operators} operator(s), ${shown.tokens} active token(s)`,
    '',
  ]
  for (const p of shown.permissions) lines.push(`  ${p.padEnd(22)} ${PERMISSIONS[p as keyof typeof PERMISSIONS] ?? ''}`.trimEnd())
  if (shown.permissions.length === 0) lines.push('  (no permissions)')
  return `${lines.join('\n')}\n`
}

/** Who commands run as: the operator (email and name as stored) or the token, its role, permissions and expiry. */
export function renderIdentity(identity: Identity): string {
  const shown = escapeControlDeep(identity)
  const who = shown.kind === 'operator' ? `operator ${shown.email} (${shown.name})` : `token "${shown.name}" (from RAIOPS_TOKEN)`
  return [who, `role         ${shown.role}`, `permissions  ${shown.permissions.join(', ') || '(none)'}`, `expires      ${shown.expiresAt ?? 'never'}`, ''].join(
    '\n',
  )
}

/** `signed in as ana@example.com (support_admin) until …`. */
export function signedInLine(session: {email: string; role: string; expiresAt: string}): string {
  const shown = escapeControlDeep(session)
  return `signed in as ${shown.email} (${shown.role}) until ${shown.expiresAt}`
}

/** role:list's columns: each role, how many permissions it grants (all of them in csv and json), who holds it. */
export const roleColumns: readonly Column<RoleView>[] = [
  {header: 'role', cell: (r) => r.name, overflow: 'truncate', minWidth: 14},
  {header: 'kind', cell: (r) => (r.builtin ? 'built-in' : 'custom'), priority: 3},
  {header: 'permissions', cell: (r) => String(r.permissions.length), plain: (r) => r.permissions.join(' '), priority: 2},
  {header: 'operators', cell: (r) => String(r.operators), plain: (r) => r.operators, priority: 2},
  {header: 'tokens', cell: (r) => String(r.tokens), plain: (r) => r.tokens, priority: 2},
  {header: 'description', cell: (r) => r.description ?? '', overflow: 'wrap', minWidth: 20, priority: 4},
]
