import {Args, Flags} from '@oclif/core'

import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'
import {parseDuration} from '../../lib/time/duration.js'

/** The tenant argument: an id or RDS:id (see TENANT_REF_HELP). */
export const tenantArg = Args.string({description: `the tenant: ${TENANT_REF_HELP}`, required: true})

/** tenant:impersonate's flags; --ttl in seconds. */
export const impersonateFlags = {
  reason: Flags.string({
    description: 'why you open the tenant: one line, 10 to 500 characters (in the link and the audit trail)',
    required: true,
  }),
  ticket: Flags.string({description: 'the support ticket it is for, as SUP-1234'}),
  ttl: Flags.custom<number>({
    description: "how long the link is valid, 30s to 5m [default: the RDS's setting, else 5m]",
    parse: async (input) => parseDuration(input, '--ttl') / 1000,
  })(),
}
