import {existsSync, readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import {parseEnv} from 'node:util'
import {z} from 'zod'

import {ConfigError} from '../errors/index.js'
import {parseDuration} from '../time/duration.js'

const positiveMs = (what: string) =>
  z.coerce
    .number({invalid_type_error: `expected a whole number of milliseconds (${what})`})
    .int({message: `expected a whole number of milliseconds (${what})`})
    .min(100, {message: `expected at least 100 ms (${what})`})
    .max(3_600_000, {message: `expected at most 3600000 ms (${what})`})

const absolutePath = z
  .string()
  .min(1)
  .refine((value) => isAbsolute(value), {message: 'expected an absolute path'})

/**
 * Every environment variable raiops reads. Each one is documented in the README
 * configuration table; add new ones here, never read process.env elsewhere.
 */
export const envSchema = z.object({
  RAIOPS_HOME: absolutePath.optional(),
  RAIOPS_DATABASE_URL: z
    .string()
    .regex(/^(sqlite|mysql|mariadb|postgres|postgresql):\/\//, {
      message: 'expected mysql://user:pass@host:port/db, postgres://user:pass@host:port/db or sqlite:///absolute/path.db',
    })
    .optional(),
  RAIOPS_MASTER_KEY: z.string().min(1).optional(),
  RAIOPS_MASTER_KEY_FILE: absolutePath.optional(),
  RAIOPS_CONNECT_TIMEOUT_MS: positiveMs('how long to wait for a server to accept a connection').default(5000),
  RAIOPS_QUERY_TIMEOUT_MS: positiveMs('how long one query on a fleet server may run').default(30_000),
  RAIOPS_TOKEN: z.string().min(1).optional(),
  RAIOPS_WEBHOOK_SECRETS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((secret) => secret.trim())
        .filter((secret) => secret !== ''),
    )
    .refine((secrets) => secrets.length > 0 && secrets.every((secret) => secret.length >= 16), 'comma-separated secrets of at least 16 characters each')
    .optional(),
  RAIOPS_GHOST_DOMAIN: z
    .string()
    .trim()
    .toLowerCase()
    .max(200)
    .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
      message: "expected a domain name, as raiops.invalid (the ghost users' emails are ghost+<operator id>@it)",
    })
    .default('raiops.invalid'),
  RAIOPS_BILLING_GRACE_DAYS: z.coerce
    .number({invalid_type_error: 'expected a whole number of days (how long an unpaid billing period may stay unpaid before the subscription is past due)'})
    .int({message: 'expected a whole number of days'})
    .min(0, {message: 'expected 0 days or more'})
    .max(365, {message: 'expected at most 365 days'})
    .default(7),
  RAIOPS_PLACEMENT_CAPACITY: z.coerce
    .number({invalid_type_error: 'expected a whole number of tenants (how many tenants one RDS takes before placement skips it)'})
    .int({message: 'expected a whole number of tenants'})
    .min(1, {message: 'expected at least 1 tenant'})
    .max(1_000_000, {message: 'expected at most 1000000 tenants'})
    .default(500),
  // The revenue report's policies (lib/billing/mrr/policies.ts): unset, the engine's defaults.
  RAIOPS_BILLING_LIMITED_DISCOUNTS: z
    .enum(['ignore', 'apply'], {message: 'expected ignore or apply (whether a discount with an end date reduces MRR)'})
    .optional(),
  RAIOPS_BILLING_PAST_DUE_DAYS: z.coerce
    .number({invalid_type_error: 'expected a whole number of days (how long a past-due subscription still counts in MRR)'})
    .int({message: 'expected a whole number of days'})
    .min(0, {message: 'expected 0 days or more'})
    .max(3650, {message: 'expected at most 3650 days'})
    .optional(),
  RAIOPS_BILLING_PAUSE: z.enum(['contraction', 'churn'], {message: 'expected contraction or churn (what a pause is in MRR movements)'}).optional(),
  RAIOPS_BILLING_CHURN_AT: z.enum(['period-end', 'cancellation'], {message: 'expected period-end or cancellation (when a cancellation is churn)'}).optional(),
  RAIOPS_BILLING_MERGE_MINUTES: z.coerce
    .number({invalid_type_error: 'expected a whole number of minutes (changes this close together are one MRR movement)'})
    .int({message: 'expected a whole number of minutes'})
    .min(0, {message: 'expected 0 minutes or more'})
    .max(1440, {message: 'expected at most 1440 minutes'})
    .optional(),
  RAIOPS_JOB_RETRY_LIMIT: z.coerce
    .number({invalid_type_error: 'expected a whole number (how many times a job step is retried after a transient error)'})
    .int({message: 'expected a whole number of retries'})
    .min(0, {message: 'expected 0 retries or more'})
    .max(100, {message: 'expected at most 100 retries'})
    .default(5),
  RAIOPS_JOB_RETRY_DELAY_MS: z.coerce
    .number({invalid_type_error: 'expected a whole number of milliseconds (the first retry delay of a job step)'})
    .int({message: 'expected a whole number of milliseconds'})
    .min(0, {message: 'expected 0 ms or more'})
    .max(3_600_000, {message: 'expected at most 3600000 ms'})
    .default(1000),
  RAIOPS_JOB_RETRY_MAX_MS: z.coerce
    .number({invalid_type_error: 'expected a whole number of milliseconds (the longest retry delay of a job step)'})
    .int({message: 'expected a whole number of milliseconds'})
    .min(0, {message: 'expected 0 ms or more'})
    .max(3_600_000, {message: 'expected at most 3600000 ms'})
    .default(60_000),
  RAIOPS_JOB_LEASE_MS: positiveMs('how long a job stays claimed by a worker that stopped renewing it').default(60_000),
  // A test seam (ARCHITECTURE.md, Jobs): `<step>:before|unrecorded|after` makes the runner hang there.
  RAIOPS_JOB_HANG: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*:(before|unrecorded|after)$/, {message: 'expected <step-name>:before, :unrecorded or :after'})
    .optional(),
  // Alert notifications (lib/alerts/delivery.ts and its channels).
  RAIOPS_SMTP_URL: z
    .string()
    .refine(smtpUrlOk, {message: 'expected smtp://host:port or smtps://host:port, with user:password@ before the host when the server wants them'})
    .optional(),
  RAIOPS_ALERT_EMAIL_FROM: z
    .string()
    .trim()
    .max(320)
    .regex(/^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, {
      message: 'expected an email address, as alerts@example.com or raiops <alerts@example.com>',
    })
    .optional(),
  RAIOPS_ALERT_WEBHOOK_SECRET: z.string().min(16, {message: 'expected a secret of at least 16 characters (alert webhooks are signed with it)'}).optional(),
  RAIOPS_ALERT_SEND_TIMEOUT_MS: positiveMs('how long one alert notification may take to be accepted').default(10_000),
  RAIOPS_ALERT_REPEAT_INTERVAL: z
    .string()
    .transform((value, ctx) => {
      try {
        return parseDuration(value, 'RAIOPS_ALERT_REPEAT_INTERVAL', 365 * 86_400_000)
      } catch {
        ctx.addIssue({code: z.ZodIssueCode.custom, message: 'expected a duration such as 4h or 30m (how often an alert that stays firing is notified again)'})
        return z.NEVER
      }
    })
    .optional(),
  // A test seam (ARCHITECTURE.md, Alerts): `after-send` makes delivery hang once a channel accepted a message, before it is recorded as sent;
  // `mid-evaluation` makes the evaluation hang inside its transaction, after its first writes, before the commit.
  RAIOPS_ALERT_HANG: z.enum(['after-send', 'mid-evaluation'], {message: 'expected after-send or mid-evaluation'}).optional(),
  XDG_DATA_HOME: absolutePath.optional(),
  // Output: read by the command base before the rest is validated, so they are plain strings.
  NO_COLOR: z.string().optional(),
  FORCE_COLOR: z.string().optional(),
  DEBUG: z.string().optional(),
  CI: z.string().optional(),
  TERM: z.string().optional(),
})

export type Env = z.infer<typeof envSchema>

function smtpUrlOk(value: string): boolean {
  if (!/^smtps?:\/\//i.test(value)) return false
  try {
    return new URL(value).hostname !== ''
  } catch {
    return false
  }
}

/** How alert notifications are sent (RAIOPS_SMTP_URL, RAIOPS_ALERT_*); unset channels fail their messages with a line naming the variable. */
export interface AlertSettings {
  /** smtp://[user:password@]host:port (or smtps://): the email channel's server. A secret: never printed. */
  smtpUrl: string | null
  /** The From of alert emails. */
  emailFrom: string | null
  /** What alert webhooks are signed with (the `t=,v1=` scheme audit:serve checks). */
  webhookSecret: string | null
  /** How long one message may take to be accepted by its channel. */
  sendTimeoutMs: number
  /** How often an alert that stays firing is notified again (Alertmanager's repeat_interval). */
  repeatIntervalMs: number
  /** The test seam: `after-send` hangs delivery after a channel accepted a message, before it is recorded; `mid-evaluation` hangs the evaluation before its commit. */
  hang: 'after-send' | 'mid-evaluation' | null
}

export interface RaiopsConfig {
  /** Where raiops keeps its SQLite control database, master key and sessions. */
  home: string
  /** The control database URL; undefined means SQLite in `home`. */
  databaseUrl?: string
  masterKey?: string
  masterKeyFile: string
  fleet: {connectTimeoutMs: number; queryTimeoutMs: number}
  /** The secrets webhook signatures are checked against (several during a rotation). */
  webhookSecrets: string[]
  /** A service token (cron, CI): when set, it is the caller's identity. */
  token?: string
  /** The domain of the ghost users' emails (ghost+<operator id>@domain). */
  ghostDomain: string
  /** Days after the end of an unpaid billing period before the subscription is past due. */
  billingGraceDays: number
  /** How many tenants one RDS takes before placement passes it over (tenants plus open reservations). */
  placementCapacity: number
  /** How the job runner retries, leases and (in tests) hangs (RAIOPS_JOB_*). */
  jobs: {retryLimit: number; retryDelayMs: number; retryMaxMs: number; leaseMs: number; hang: string | null}
  /** How alert notifications are sent (RAIOPS_SMTP_URL, RAIOPS_ALERT_*). */
  alerts: AlertSettings
  /** The revenue report's policies as set (RAIOPS_BILLING_*); unset ones take the MRR engine's defaults. */
  billingPolicies: {
    limitedDiscounts?: 'ignore' | 'apply'
    pastDueDays?: number
    pause?: 'contraction' | 'churn'
    churnAt?: 'period-end' | 'cancellation'
    mergeMinutes?: number
  }
}

/**
 * What a `.env` in the working directory may set: how output looks and how
 * long to wait. Everything else decides whom raiops trusts (the control
 * database, the keys, the identity, the home holding them), and a working
 * directory may belong to someone else: a checkout, a shared folder.
 */
export const WORKING_DIR_ENV_KEYS: readonly string[] = [
  'NO_COLOR',
  'FORCE_COLOR',
  'DEBUG',
  'CI',
  'TERM',
  'RAIOPS_CONNECT_TIMEOUT_MS',
  'RAIOPS_QUERY_TIMEOUT_MS',
]

/** The settings that choose RAIOPS_HOME: never read from a `.env`, not even the one inside it. */
const HOME_KEYS = new Set(['RAIOPS_HOME', 'XDG_DATA_HOME'])

export interface Environment {
  env: Record<string, string | undefined>
  /** One line each, for stderr: a `.env` or some of its settings that were ignored, and why. */
  warnings: string[]
}

function readDotenv(file: string): Record<string, string> {
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>
  } catch (error) {
    throw new ConfigError(`${file} could not be read: ${(error as Error).message}`, {hint: 'fix or remove the file'})
  }
}

/**
 * RAIOPS_HOME as the environment gives it, else under XDG_DATA_HOME, else
 * ~/.local/share/raiops; null when the one given is not absolute (an error loadConfig reports).
 */
function homeOf(env: {RAIOPS_HOME?: string; XDG_DATA_HOME?: string}): string | null {
  if (env.RAIOPS_HOME) return isAbsolute(env.RAIOPS_HOME) ? resolve(env.RAIOPS_HOME) : null
  const dataHome = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return resolve(dataHome, 'raiops')
}

/** Why `file` may not be trusted (owned by someone else, writable by others), or null when it may. */
function untrusted(file: string): string | null {
  const {uid, mode} = statSync(file)
  const me = process.getuid?.()
  if (me !== undefined && uid !== me) return 'it is not owned by you'
  if ((mode & 0o022) !== 0) return 'others can write it (chmod 600 it)'
  return null
}

/**
 * The environment raiops runs with. The real environment wins; under it,
 * `$RAIOPS_HOME/.env` (raiops' own directory; honoured only when owned by the
 * user and writable by nobody else; never for RAIOPS_HOME itself), and a
 * `.env` in the working directory for the WORKING_DIR_ENV_KEYS only. A setting
 * of the working directory's `.env` that is left out is named in a warning.
 */
export function loadEnvironment(env: NodeJS.ProcessEnv, dir: string): Environment {
  const warnings: string[] = []
  const home = homeOf(env)
  const homeFile = home === null ? null : join(home, '.env')
  let fromHome: Record<string, string> = {}
  if (homeFile !== null && existsSync(homeFile)) {
    const reason = untrusted(homeFile)
    if (reason) warnings.push(`ignoring ${homeFile}: ${reason}`)
    else fromHome = Object.fromEntries(Object.entries(readDotenv(homeFile)).filter(([key]) => !HOME_KEYS.has(key)))
  }
  const localFile = resolve(dir, '.env')
  const fromDir: Record<string, string> = {}
  if (localFile !== homeFile && existsSync(localFile)) {
    const ignored: string[] = []
    for (const [key, value] of Object.entries(readDotenv(localFile))) {
      if (WORKING_DIR_ENV_KEYS.includes(key)) fromDir[key] = value
      else if (key in envSchema.shape) ignored.push(key)
    }
    if (ignored.length > 0) {
      ignored.sort()
      warnings.push(
        `ignoring ${ignored.join(', ')} in ${localFile}: set ${ignored.length === 1 ? 'it' : 'them'} in the environment or in ${homeFile ?? '$RAIOPS_HOME/.env'}`,
      )
    }
  }
  return {env: {...fromHome, ...fromDir, ...env}, warnings}
}

/** Validates the environment into a config, or throws a one-line ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): RaiopsConfig {
  const relevant: Record<string, string | undefined> = {}
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key]
    if (value !== undefined && value !== '') relevant[key] = value
  }
  const result = envSchema.safeParse(relevant)
  if (!result.success) {
    const issue = result.error.issues[0]
    const name = String(issue.path[0] ?? 'environment')
    throw new ConfigError(`${name}: ${issue.message}`, {hint: `fix ${name} in the environment or in a .env`})
  }
  const parsed = result.data
  const home = homeOf(parsed) as string
  return {
    home,
    databaseUrl: parsed.RAIOPS_DATABASE_URL,
    masterKey: parsed.RAIOPS_MASTER_KEY,
    masterKeyFile: parsed.RAIOPS_MASTER_KEY_FILE ?? join(home, 'master.key'),
    fleet: {connectTimeoutMs: parsed.RAIOPS_CONNECT_TIMEOUT_MS, queryTimeoutMs: parsed.RAIOPS_QUERY_TIMEOUT_MS},
    webhookSecrets: parsed.RAIOPS_WEBHOOK_SECRETS ?? [],
    token: parsed.RAIOPS_TOKEN,
    ghostDomain: parsed.RAIOPS_GHOST_DOMAIN,
    placementCapacity: parsed.RAIOPS_PLACEMENT_CAPACITY,
    billingGraceDays: parsed.RAIOPS_BILLING_GRACE_DAYS,
    jobs: {
      retryLimit: parsed.RAIOPS_JOB_RETRY_LIMIT,
      retryDelayMs: parsed.RAIOPS_JOB_RETRY_DELAY_MS,
      retryMaxMs: parsed.RAIOPS_JOB_RETRY_MAX_MS,
      leaseMs: parsed.RAIOPS_JOB_LEASE_MS,
      hang: parsed.RAIOPS_JOB_HANG ?? null,
    },
    alerts: {
      smtpUrl: parsed.RAIOPS_SMTP_URL ?? null,
      emailFrom: parsed.RAIOPS_ALERT_EMAIL_FROM ?? null,
      webhookSecret: parsed.RAIOPS_ALERT_WEBHOOK_SECRET ?? null,
      sendTimeoutMs: parsed.RAIOPS_ALERT_SEND_TIMEOUT_MS,
      repeatIntervalMs: parsed.RAIOPS_ALERT_REPEAT_INTERVAL ?? 4 * 3_600_000,
      hang: parsed.RAIOPS_ALERT_HANG ?? null,
    },
    billingPolicies: {
      limitedDiscounts: parsed.RAIOPS_BILLING_LIMITED_DISCOUNTS,
      pastDueDays: parsed.RAIOPS_BILLING_PAST_DUE_DAYS,
      pause: parsed.RAIOPS_BILLING_PAUSE,
      churnAt: parsed.RAIOPS_BILLING_CHURN_AT,
      mergeMinutes: parsed.RAIOPS_BILLING_MERGE_MINUTES,
    },
  }
}
