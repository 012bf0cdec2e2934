import type {ChalkInstance} from 'chalk'

import type {InitResult} from '../../lib/setup/init.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

/** What init did, a line per step; or that it found raiops already set up. */
export function renderInit(c: ChalkInstance, init: InitResult): string {
  // Paths and the admin's email as given: shown escaped.
  const result = escapeControlDeep(init)
  const ok = c.green('✓')
  if (!result.changed) return `raiops is already initialised in ${result.home} (${result.database}): nothing changed.\n`
  const lines = [
    `${ok} home        ${result.home}`,
    `${ok} master key  ${result.key.source === 'env' ? 'from RAIOPS_MASTER_KEY' : result.key.path} (key id ${result.key.kid}${result.key.created ? ', created' : ''})`,
    `${ok} database    ${result.database} (${result.migrationsApplied.length} migration(s) applied)`,
    `${ok} roles       ${result.roles.created.length > 0 ? result.roles.created.join(', ') : 'already present'}`,
    `${ok} alert rules ${result.alertRules.created.length > 0 ? `${result.alertRules.created.length} default rule(s) seeded` : 'already present'}`,
    `${ok} admin       ${result.admin.email}${result.admin.created ? ' (created)' : ' (exists)'}`,
  ]
  return `${lines.join('\n')}\n`
}

/** What the person at the terminal must do next: back up a master key just created. */
export function initNotes(c: ChalkInstance, init: InitResult): string[] {
  return init.changed && init.key.created ? [c.yellow(`Back up ${escapeControlDeep(init).key.path}: without it the stored RDS passwords cannot be read.`)] : []
}
