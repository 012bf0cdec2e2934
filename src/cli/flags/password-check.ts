import {Args, Flags} from '@oclif/core'

import {parseSeconds} from '../../lib/time/duration.js'
import {listFlags} from '../base-command.js'

/** password:check's EMAIL: optional, as --all replaces it. */
export const passwordCheckArgs = {email: Args.string({description: "the person's email (compared case-insensitively); omit with --all"})}

/** password:check's flags. */
export const passwordCheckFlags = {
  all: Flags.boolean({description: 'every email routed to more than one tenant: the fleet-wide drift report'}),
  limit: Flags.integer({
    char: 'n',
    description: 'with --all: list at most this many out-of-sync emails (the counts cover all)',
    default: 50,
    min: 1,
    max: 1_000_000,
  }),
  timeout: Flags.custom<number>({
    description: 'seconds each server (the master, each RDS) may take to answer, connecting included (fractions allowed)',
    default: async () => 30_000,
    defaultHelp: async () => '30',
    parse: async (input) => parseSeconds(input, '--timeout', 3600),
  })(),
  ...listFlags,
}
