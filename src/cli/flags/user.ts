import {Args, Flags} from '@oclif/core'

import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'
import {GHOST_FILTERS, type GhostFilter} from '../../lib/user/list.js'
import {listFlags} from '../base-command.js'
import {probeTimeoutFlag} from './health.js'

/** The email argument of user:find. */
export const emailArg = Args.string({description: 'the email address (compared case-insensitively)', required: true})

/** --timeout: how long each RDS may take to answer, connecting included. */
const rdsTimeoutFlag = probeTimeoutFlag('seconds each RDS may take to answer, connecting included (fractions allowed)')

/** user:find's flags. */
export const userFindFlags = {
  live: Flags.boolean({description: 'also read each RDS the routing cache names (one query each, at once) and show what it holds now'}),
  timeout: rdsTimeoutFlag,
  ...listFlags,
}

/** user:list's flags. */
export const userListFlags = {
  tenant: Flags.string({char: 't', description: `the tenant: ${TENANT_REF_HELP}`, required: true}),
  status: Flags.string({description: 'only users with this status (repeat, or separate with commas)', multiple: true, delimiter: ','}),
  search: Flags.string({char: 's', description: 'only users whose name or email contains this text (case-insensitive)'}),
  ghosts: Flags.option({
    options: GHOST_FILTERS,
    default: 'include' as GhostFilter,
    description: 'RAI support (ghost) users: include them, exclude them, or show only them',
  })(),
  limit: Flags.integer({char: 'n', description: 'users per page', default: 50, min: 1, max: 10_000}),
  after: Flags.integer({description: 'the page after this user id (the previous page says which: "next page: --after ID")', min: 0}),
  timeout: rdsTimeoutFlag,
  ...listFlags,
}
