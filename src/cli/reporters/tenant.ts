import type {ImpersonationLink} from '../../lib/impersonation/issue.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

/** Whom a link opens, where, and until when (stderr: stdout carries the link alone). */
export function impersonationNote(link: ImpersonationLink): string {
  // The tenant's and the RDS's names come from the fleet and the registry: shown escaped.
  const shown = escapeControlDeep(link)
  return `link for tenant "${shown.tenant.name}" (#${shown.tenant.id}) on RDS ${shown.rds.name}, valid until ${shown.expiresAt}, single use`
}
