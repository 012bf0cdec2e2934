import {Flags} from '@oclif/core'

import {DEFAULT_SHOW_TIMEOUT_MS, type TenantShowInput} from '../../lib/tenant/show.js'
import {parseSeconds} from '../../lib/time/duration.js'
import {tableFlags} from '../base-command.js'

/** tenant:show's description: what it reads, what it refreshes, its exit codes. */
export const tenantShowDescription = `Shows the tenant's row in the registry, then reads its RDS live (within --timeout): its name, status and contact, its users by status, ghost users, locations and latest user activity, and its routing entries on the master compared with its users (an email routed here whose user is missing or has another email, a user with no routing entry). The live read refreshes the registry's counts and the customer health score, shown signal by signal. Then its billing, its latest audit entries (with audit.view) and impersonation links.

Its RDS down or silent: the cached data is shown, the cause is said, exit 3; the master down: the routing comparison is said unavailable, exit 3. A tenant gone from its RDS is marked gone in the registry and said so (exit 0). --no-live reads the registry only. Emails are masked without pii.view.`

/** tenant:show's flags: --no-live, --timeout in seconds (fractions allowed). */
export const tenantShowFlags = {
  live: Flags.boolean({
    description: "read the tenant's RDS and the master now, and refresh the registry from them (--no-live: the registry only)",
    default: true,
    allowNo: true,
  }),
  timeout: Flags.custom<number>({
    description: "seconds the tenant's RDS, and the master, each have to answer (fractions allowed)",
    default: async () => DEFAULT_SHOW_TIMEOUT_MS,
    defaultHelp: async () => String(DEFAULT_SHOW_TIMEOUT_MS / 1000),
    parse: async (input) => parseSeconds(input, '--timeout', 600),
  })(),
  wide: tableFlags.wide,
  utc: tableFlags.utc,
}

/** The service's input from the argument and flags; the audit and billing sections only for a caller whose role holds audit.view, billing.view. */
export function tenantShowInput(tenant: string, flags: {live: boolean; timeout: number}, permissions: readonly string[] = []): TenantShowInput {
  return {
    tenant,
    live: flags.live,
    timeoutMs: flags.timeout,
    include: {audit: permissions.includes('audit.view'), billing: permissions.includes('billing.view')},
  }
}
