import {escapeControlDeep} from '../../lib/text/escape.js'
import type {TokenView} from '../../lib/token/tokens.js'
import type {Column} from '../output/render.js'

/** token:list's columns: never the token, which is not kept. */
export const tokenColumns: readonly Column<TokenView>[] = [
  {header: 'ID', cell: (r) => String(r.id), plain: (r) => r.id},
  {header: 'Name', cell: (r) => r.name},
  {header: 'Role', cell: (r) => r.role},
  {header: 'State', cell: (r) => r.state},
  {header: 'Expires', cell: (r) => r.expiresAt ?? 'never', plain: (r) => r.expiresAt},
  {header: 'Last used', cell: (r) => r.lastUsedAt ?? 'never', plain: (r) => r.lastUsedAt},
]

/** What was created, for the terminal (stderr): stdout carries the token alone. */
export function tokenCreatedNote(created: TokenView): string {
  const shown = escapeControlDeep({name: created.name, role: created.role, expiresAt: created.expiresAt})
  return `token "${shown.name}" (role ${shown.role}, expires ${shown.expiresAt ?? 'never'}): shown once, store it now`
}
