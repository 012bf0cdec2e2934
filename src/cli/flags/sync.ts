import {Flags} from '@oclif/core'

import {parseShard} from '../../lib/fleet/fan-out.js'
import type {RoutingSyncRequest} from '../../lib/sync/index.js'
import {parseDuration, parseSeconds} from '../../lib/time/duration.js'

/** --wait: how long to wait for a running sync of the same kind (default: exit 6 at once). */
export const waitFlag = Flags.custom<number>({
  description: 'wait up to this many seconds for a running sync of the same kind to finish, instead of exiting 6 at once',
  default: async () => 0,
  defaultHelp: async () => '0',
  // 0, the default as help shows it, may be typed too.
  parse: async (input) => (input.trim() === '0' ? 0 : parseSeconds(input, '--wait', 86_400)),
})()

/** Flags of a tenant sync (sync:tenants, sync:all). */
export const tenantSyncFlags = {
  force: Flags.boolean({description: 'sync every RDS, even one synced within --max-age'}),
  'max-age': Flags.custom<number>({
    description: 'skip an RDS whose last successful sync is younger than this (e.g. 15m, 1h)',
    default: async () => 15 * 60_000,
    defaultHelp: async () => '15m',
    parse: async (input) => parseDuration(input, '--max-age'),
  })(),
  concurrency: Flags.integer({description: 'RDS synced at once', default: 4, min: 1, max: 64}),
  timeout: Flags.custom<number>({
    description: 'seconds each RDS may take (read and write); past it, it fails and its tenants stay as they were',
    default: async () => 300_000,
    defaultHelp: async () => '300',
    parse: async (input) => parseSeconds(input, '--timeout', 86_400),
  })(),
}

export const rdsSelectionFlags = {
  rds: Flags.string({
    description: 'only these RDS (name or id; repeat or separate with commas), active or not',
    multiple: true,
    delimiter: ',',
  }),
  shard: Flags.custom({
    description: 'only the RDS of shard K of N (ids dealt round-robin), so N cron workers split the fleet; each shard has its own lock',
    parse: async (input: string) => parseShard(input),
  })(),
}

/** --full / --truncate of a routing sync. */
export const routingModeFlags = {
  full: Flags.boolean({
    description: 'reconcile every row, including rows deleted on the master (writes only what differs)',
    exclusive: ['truncate'],
  }),
  truncate: Flags.boolean({
    description: 'rebuild the cache from scratch; readers see the previous cache until it is swapped in',
    exclusive: ['full'],
  }),
}

export const SYNC_FORMATS = ['table', 'json', 'ndjson'] as const
export type SyncFormat = (typeof SYNC_FORMATS)[number]

export const syncOutputFlags = {
  format: Flags.option({
    options: SYNC_FORMATS,
    default: 'table' as SyncFormat,
    char: 'f',
    description: 'output: a summary table, one JSON document, or NDJSON events (one per RDS, then a summary) for log shippers',
  })(),
  output: Flags.string({char: 'o', description: 'write the output to this file (atomically) instead of stdout'}),
}

/** The routing sync mode the flags ask for. */
export function routingMode(flags: {full?: boolean; truncate?: boolean}): RoutingSyncRequest['mode'] {
  return flags.truncate ? 'truncate' : flags.full ? 'full' : 'incremental'
}

/** The tenant sync's options, from its flags (`rds` and `shard` where the command has them). */
export function tenantSyncInput(flags: {
  rds?: string[]
  shard?: ReturnType<typeof parseShard>
  force: boolean
  'max-age': number
  concurrency: number
  timeout: number
  wait: number
}) {
  return {
    refs: flags.rds,
    shard: flags.shard,
    force: flags.force,
    maxAgeMs: flags['max-age'],
    concurrency: flags.concurrency,
    deadlineMs: flags.timeout,
    waitMs: flags.wait,
  }
}

/** Flags of sync:ghost-users. */
export const ghostSyncFlags = {
  operator: Flags.string({
    description: 'only the ghosts of these operators (id or email; repeat or separate with commas)',
    multiple: true,
    delimiter: ',',
  }),
  'dry-run': Flags.boolean({description: 'count what would be created, updated and pruned on each RDS; write nothing'}),
  full: Flags.boolean({
    description: 'check every ghost row, even on an RDS whose counts read as the last run left them (done anyway once a day)',
  }),
  prune: Flags.boolean({
    description: 'also suspend the ghosts of operators who may no longer impersonate (disabled, or their role lost tenant.impersonate)',
  }),
  concurrency: tenantSyncFlags.concurrency,
  timeout: Flags.custom<number>({
    description: 'seconds each RDS may take; past it, it fails and its transaction is rolled back',
    default: async () => 300_000,
    defaultHelp: async () => '300',
    parse: async (input) => parseSeconds(input, '--timeout', 86_400),
  })(),
}

/** sync:all --with-ghosts. */
export const withGhostsFlag = {
  'with-ghosts': Flags.boolean({description: 'then sync the ghost users (sync:ghost-users) of every RDS synced'}),
}

/** The ghost-user sync's options, from its flags. */
export function ghostSyncInput(
  flags: {
    rds?: string[]
    shard?: ReturnType<typeof parseShard>
    operator?: string[]
    'dry-run': boolean
    full: boolean
    prune: boolean
    concurrency: number
    timeout: number
    wait: number
  },
  domain: string,
) {
  return {
    refs: flags.rds,
    shard: flags.shard,
    operators: flags.operator,
    dryRun: flags['dry-run'],
    full: flags.full,
    prune: flags.prune,
    domain,
    concurrency: flags.concurrency,
    deadlineMs: flags.timeout,
    waitMs: flags.wait,
  }
}
