import {Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import {DEFAULT_SLOW_MS} from '../../lib/health/rules.js'
import {DEFAULT_HEALTH_CONCURRENCY, type HealthRunOptions} from '../../lib/rds/health.js'
import {parseDuration, parseSeconds} from '../../lib/time/duration.js'
import {tableFlags} from '../base-command.js'

export const HEALTH_FORMATS = ['table', 'json', 'csv', 'ndjson', 'prometheus', 'junit'] as const
export type HealthFormat = (typeof HEALTH_FORMATS)[number]
const FAIL_ON = ['down', 'degraded', 'never'] as const

/** --watch N: show it again every N seconds on the terminal. */
export const watchFlag = (description: string) => Flags.custom<number>({description, parse: async (input) => parseSeconds(input, '--watch', 86_400)})()

/** --timeout of a probe, in seconds (5 by default). */
export const probeTimeoutFlag = (description: string) =>
  Flags.custom<number>({
    description,
    default: async () => 5000,
    defaultHelp: async () => '5',
    parse: async (input) => parseSeconds(input, '--timeout', 600),
  })()

/** rds:health's description: what its flags do together, its status rules and exit codes. */
export const healthDescription = `Probes each RDS concurrently, each within --timeout, so the run lasts about as long as the slowest probe whatever the number of dead servers. A probe connects, times a SELECT 1 round trip, reads the server version, checks that the RAI tables exist (tenants, users, locations; user_email_routing on the master), that the providers database is reachable when one is set, and connection usage (MySQL/MariaDB Threads_connected / max_connections, PostgreSQL backends / max_connections). The outcome is stored on the RDS (rds:list, status) and appended to its history.

Status rules (every degraded or down RDS carries its reasons):
- down: the server cannot be connected to, authenticated against, or queried (every check) within --timeout.
- degraded: SELECT 1 took over --slow-ms, a required table is missing, the providers database is unreachable, a check failed, or connection usage is over 90 %.
- healthy: otherwise.
- unknown: never checked.

Exit codes: 4 when any probed RDS is at or below --fail-on (down by default; degraded also fails on degraded; never: never), 0 otherwise. The output is complete either way.

--format prometheus prints raiops_rds_up, raiops_rds_latency_seconds, raiops_rds_connections_used_ratio (and the status as raiops_rds_health_status) labelled by RDS name, for node_exporter's textfile collector; --format junit prints one test case per RDS, failed when at or below --fail-on. --output writes any format to a file, atomically.

--history shows the stored checks instead of probing: a latency sparkline per RDS (× marks a down check) and the uptime (checks not down) over --window.`

/** The flags of rds:health. */
export const healthFlags = {
  rds: Flags.string({
    description: 'only these RDS (name or id; repeat or separate with commas); inactive ones too',
    multiple: true,
    delimiter: ',',
  }),
  timeout: probeTimeoutFlag('seconds each probe may take before the RDS is down (fractions allowed)'),
  'slow-ms': Flags.integer({description: 'a SELECT 1 round trip above this many ms is degraded', default: DEFAULT_SLOW_MS, min: 1}),
  'fail-on': Flags.option({options: FAIL_ON, default: 'down' as const, description: 'exit 4 when any RDS is at or below this status'})(),
  format: Flags.option({options: HEALTH_FORMATS, default: 'table' as HealthFormat, char: 'f', description: 'output format'})(),
  output: Flags.string({
    char: 'o',
    description: 'write the output to this file (atomically; mode 0600, 0644 for prometheus) instead of stdout',
  }),
  concurrency: Flags.integer({description: 'probes at once', default: DEFAULT_HEALTH_CONCURRENCY, min: 1, max: 1024}),
  history: Flags.boolean({description: 'show the stored checks and uptime instead of probing'}),
  window: Flags.custom<number>({
    description: 'with --history: how far back (e.g. 1h, 24h, 7d)',
    default: async () => 86_400_000,
    defaultHelp: async () => '24h',
    parse: async (input) => parseDuration(input, '--window'),
  })(),
  points: Flags.integer({description: 'with --history: most recent checks shown per RDS', default: 40, min: 1, max: 1000}),
  keep: Flags.custom<number>({
    description: 'checks older than this are deleted from the history as new ones are stored',
    default: async () => 30 * 86_400_000,
    defaultHelp: async () => '30d',
    parse: async (input) => parseDuration(input, '--keep'),
  })(),
  watch: watchFlag('probe again every N seconds on the terminal until Ctrl-C'),
  ...tableFlags,
}

/** status --fail-on: the overall state at or above which it exits 4. */
export const STATUS_FAIL_ON = ['fail', 'warn', 'never'] as const
export type StatusFailOn = (typeof STATUS_FAIL_ON)[number]

/** The flags of status. */
export const statusFlags = {
  'fail-on': Flags.option({
    options: STATUS_FAIL_ON,
    default: 'fail' as StatusFailOn,
    description: 'exit 4 when the overall state is this or worse (fail: FAIL; warn: warn or FAIL; never: always 0)',
  })(),
  refresh: Flags.boolean({description: 'probe every active RDS first (as rds:health does) instead of showing the last stored check'}),
  timeout: probeTimeoutFlag('with --refresh: seconds each probe may take'),
  watch: watchFlag('show it again every N seconds on the terminal until Ctrl-C'),
}

interface HealthFlagValues {
  rds?: string[]
  timeout: number
  'slow-ms': number
  format: HealthFormat
  output?: string
  concurrency: number
  history: boolean
  keep: number
  watch?: number
}

/** Refuses what rds:health's flags cannot do together. */
export function checkHealthFlags(flags: HealthFlagValues, json: boolean): void {
  if (flags.history && (flags.format === 'prometheus' || flags.format === 'junit')) {
    throw new UserError(`--format ${flags.format} is for a probe, not --history`, {hint: 'use table, json, csv or ndjson with --history'})
  }
  if (flags.watch !== undefined && (json || flags.output)) {
    throw new UserError('--watch redraws the terminal; it cannot be combined with --json or --output', {
      hint: 'run it from cron for files and machines',
    })
  }
}

/** The probe's options, from rds:health's flags. */
export function healthInput(flags: HealthFlagValues): HealthRunOptions & {refs: string[]} {
  return {refs: flags.rds ?? [], timeoutMs: flags.timeout, slowMs: flags['slow-ms'], concurrency: flags.concurrency, keepMs: flags.keep}
}
