/**
 * What an impersonation link carries: an EdDSA-signed JWT whose subject is the
 * tenant and whose `act` claim (RFC 8693 §4.1) names who acts as it.
 */

export const IMPERSONATION_ISSUER = 'raiops'
/** The JWT `typ` header, so an impersonation token is never mistaken for another JWT signed with the same key. */
export const IMPERSONATION_TOKEN_TYPE = 'raiops-imp+jwt'
/** Where a tenant application receives the link, below its app_url. */
export const IMPERSONATION_PATH = '/raiops/impersonate'
export {MAX_REASON_LENGTH, MIN_REASON_LENGTH} from '../text/reason.js'
export const MAX_TICKET_LENGTH = 128

/** The claims of an impersonation token, as signed. */
export interface ImpersonationPayload {
  iss: typeof IMPERSONATION_ISSUER
  aud: string
  /** The tenant's id in its RDS's RAI database, as a string (JWT subjects are strings). */
  sub: string
  /** The same id as a number. */
  tenant_id: number
  /** Who acts as the tenant: the operator's email, or the service token's name. */
  act: {sub: string}
  jti: string
  iat: number
  nbf: number
  exp: number
  reason: string
  ticket?: string
  /**
   * The acting operator's ghost user on the tenant (users.id on its RDS), when
   * it has one: the application logs in as that user, after checking it is a
   * ghost (is_ghost) of that tenant. Absent: the operator has no ghost there.
   */
  ghost_user_id?: number
}
