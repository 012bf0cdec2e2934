/** Who acts: the types alone, so that the context and the services can name them without importing how they are resolved. */

/** Who runs this command: an operator signed in on this machine, or a service token. */
export type Identity =
  | {kind: 'operator'; id: number; email: string; name: string; role: string; permissions: string[]; expiresAt: string}
  | {kind: 'token'; id: number; name: string; role: string; permissions: string[]; expiresAt: string | null}

/** raiops acting for itself, with no caller behind it (setting up, tests): holds everything. */
export interface SystemPrincipal {
  kind: 'system'
  name: string
}

/** Who acts on operators, tokens, sessions and roles: a signed-in operator, a service token, or raiops itself. */
export type Principal = Identity | SystemPrincipal
