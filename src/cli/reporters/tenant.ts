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

/** Why the link carries no ghost user and how to give the caller one; null when it carries one. */
export function ghostUserWarning(link: ImpersonationLink): string | null {
  const {ghostUser} = link
  if (ghostUser.userId !== null) return null
  const tenant = `tenant "${link.tenant.name}" (#${link.tenant.id})`
  const create = `\`raiops sync:ghost-users --rds ${link.rds.name}\``
  switch (ghostUser.missing) {
    case 'no-operator':
      return `the link carries no ghost user: "${link.actor}" is no operator (nor a token created by one), and ghost users belong to operators`
    case 'suspended':
      return `your ghost user on ${tenant} (${ghostUser.email}) is suspended: the link carries none; ${create} makes it active again while your role may impersonate`
    case 'unreadable':
      return `your ghost user on ${tenant} could not be looked up on RDS ${link.rds.name} (${ghostUser.error}): the link carries none`
    default:
      return `you have no ghost user on ${tenant}: the link carries none; create it with ${create}`
  }
}
