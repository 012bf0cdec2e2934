import {Args, Flags} from '@oclif/core'

import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'
import {parseSeconds} from '../../lib/time/duration.js'

/** The user commands' argument: the user's email (compared lower-cased). */
export const emailArg = Args.string({description: "the user's email address (compared case-insensitively)", required: true})

/** The flags of user:suspend, user:reactivate, tenant:suspend and tenant:reactivate. */
export const statusChangeFlags = {
  reason: Flags.string({description: 'why: one line, 10 to 500 characters (in the audit trail)', required: true}),
  'dry-run': Flags.boolean({description: 'print the plan (which rows on which servers change) and change nothing'}),
  yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation (needed without a terminal and under --json)'}),
  timeout: Flags.custom<number>({
    description: 'seconds each server may take to be read, and to be written',
    default: async () => 10_000,
    defaultHelp: async () => '10',
    parse: async (input) => parseSeconds(input, '--timeout', 600),
  })(),
}

/** user:suspend's and user:reactivate's choice of tenants: one, or every one the email has a user in. */
export const userTenantFlags = {
  tenant: Flags.string({description: `the tenant whose user it is: ${TENANT_REF_HELP}`}),
  'all-tenants': Flags.boolean({
    description: "every tenant the email has a user in (the master's routing entries; raiops' routing cache when the master cannot be read)",
  }),
}

interface StatusChangeFlagValues {
  reason: string
  'dry-run': boolean
  timeout: number
}

/** The service input common to the four commands, from their flags. */
export function statusChangeInput(flags: StatusChangeFlagValues): {reason: string; dryRun: boolean; timeoutMs: number} {
  return {reason: flags.reason, dryRun: flags['dry-run'], timeoutMs: flags.timeout}
}

/** user:suspend's and user:reactivate's service input. */
export function userStatusInput(
  email: string,
  flags: StatusChangeFlagValues & {tenant?: string; 'all-tenants': boolean},
): {email: string; tenant?: string; allTenants: boolean; reason: string; dryRun: boolean; timeoutMs: number} {
  return {email, tenant: flags.tenant, allTenants: flags['all-tenants'], ...statusChangeInput(flags)}
}
