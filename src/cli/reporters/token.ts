import {escapeControlDeep} from '../../lib/text/escape.js'
import type {TokenView} from '../../lib/token/tokens.js'
import type {Column} from '../output/render.js'

/** token:list's columns: never the token, which is not kept. */
export const tokenColumns: readonly Column<TokenView>[] = [
  {header: 'id', cell: (r) => String(r.id), plain: (r) => r.id},
  {header: 'name', cell: (r) => r.name, overflow: 'truncate', minWidth: 24},
  {header: 'role', cell: (r) => r.role, overflow: 'truncate', minWidth: 14},
  {header: 'state', cell: (r) => r.state},
  {header: 'expires', cell: (r, f) => (r.expiresAt ? f.time(r.expiresAt) : 'never'), plain: (r) => r.expiresAt, priority: 2},
  {header: 'last used', cell: (r, f) => (r.lastUsedAt ? f.time(r.lastUsedAt) : 'never'), plain: (r) => r.lastUsedAt, priority: 3},
]

/** What was created, for the terminal (stderr): stdout carries the token alone. */
export function tokenCreatedNote(created: TokenView): string {
  const shown = escapeControlDeep({name: created.name, role: created.role, expiresAt: created.expiresAt})
  return `token "${shown.name}" (role ${shown.role}, expires ${shown.expiresAt ?? 'never'}): shown once, store it now`
}
