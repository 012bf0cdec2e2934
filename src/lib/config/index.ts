import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {isAbsolute, join, resolve} from 'node:path'
import {parseEnv} from 'node:util'
import {z} from 'zod'

import {ConfigError} from '../errors/index.js'

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
    .transform((value) => value.split(',').map((secret) => secret.trim()).filter((secret) => secret !== ''))
    .refine((secrets) => secrets.length > 0 && secrets.every((secret) => secret.length >= 16), 'comma-separated secrets of at least 16 characters each')
    .optional(),
  XDG_DATA_HOME: absolutePath.optional(),
  // Output: read by the command base before the rest is validated, so they are plain strings.
  NO_COLOR: z.string().optional(),
  FORCE_COLOR: z.string().optional(),
  DEBUG: z.string().optional(),
  CI: z.string().optional(),
  TERM: z.string().optional(),
})

export type Env = z.infer<typeof envSchema>

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
}

/** Reads `.env` from `dir` (when present) under the real environment, which wins. */
export function environmentWithDotenv(env: NodeJS.ProcessEnv, dir: string): Record<string, string | undefined> {
  const file = join(dir, '.env')
  if (!existsSync(file)) return {...env}
  let parsed: Record<string, string>
  try {
    parsed = parseEnv(readFileSync(file, 'utf8')) as Record<string, string>
  } catch (error) {
    throw new ConfigError(`${file} could not be read: ${(error as Error).message}`, {hint: 'fix or remove the file'})
  }
  return {...parsed, ...env}
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
    throw new ConfigError(`${name}: ${issue.message}`, {hint: `fix ${name} in the environment or in .env`})
  }
  const parsed = result.data
  const dataHome = parsed.XDG_DATA_HOME ?? join(homedir(), '.local', 'share')
  const home = resolve(parsed.RAIOPS_HOME ?? join(dataHome, 'raiops'))
  return {
    home,
    databaseUrl: parsed.RAIOPS_DATABASE_URL,
    masterKey: parsed.RAIOPS_MASTER_KEY,
    masterKeyFile: parsed.RAIOPS_MASTER_KEY_FILE ?? join(home, 'master.key'),
    fleet: {connectTimeoutMs: parsed.RAIOPS_CONNECT_TIMEOUT_MS, queryTimeoutMs: parsed.RAIOPS_QUERY_TIMEOUT_MS},
    webhookSecrets: parsed.RAIOPS_WEBHOOK_SECRETS ?? [],
    token: parsed.RAIOPS_TOKEN,
  }
}
