import type {ImpersonationLink} from '../../lib/impersonation/issue.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

/** Whom a link opens, where, and until when (stderr: stdout carries the link alone). */
export function impersonationNote(link: ImpersonationLink): string {
  // The tenant's and the RDS's names come from the fleet and the registry: shown escaped.
  const shown = escapeControlDeep(link)
  return `link for tenant "${shown.tenant.name}" (#${shown.tenant.id}) on RDS ${shown.rds.name}, valid until ${shown.expiresAt}, single use`
}

/** The warning that this link's issuing created the impersonation key pair, which tenant applications must be given. */
export function impersonationKeyCreated(link: ImpersonationLink): string {
  return `created the impersonation key pair (key id ${link.keyId}): give its public key, \`raiops tenant:impersonation-key\`, to the tenant applications`
}
