import type {ChalkInstance} from 'chalk'

import type {MigrateResult} from '../../lib/db/migrate.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

/** db:migrate: each migration applied or pending (--status), else what this run applied. */
export function renderMigration(c: ChalkInstance, result: MigrateResult, statusOnly: boolean): string {
  // The database is named as configured: a path or a URL the environment gave.
  const shown = escapeControlDeep(result)
  if (statusOnly)
    return [...shown.applied.map((name) => `${c.green('applied')}  ${name}\n`), ...shown.pending.map((name) => `${c.yellow('pending')}  ${name}\n`)].join('')
  return shown.appliedNow.length > 0
    ? `applied ${shown.appliedNow.length} migration(s) to ${shown.database}: ${shown.appliedNow.join(', ')}\n`
    : `${shown.database} is up to date\n`
}
