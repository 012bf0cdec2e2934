import {isAbsolute} from 'node:path'
import {z} from 'zod'

import {COLUMN_LENGTHS, columnLength, fitsColumn} from '../db/limits.js'
import {UserError} from '../errors/index.js'
import {RDS_ENGINES, type RdsEngine} from './types.js'

/** How long an impersonation link may live: an RDS's default lifetime is checked against these too. */
export const MIN_TTL_SECONDS = 30
export const MAX_TTL_SECONDS = 300

/** The values that describe an RDS, as an operator gives them (flags, prompts). */
export interface RdsFields {
  name: string
  engine: RdsEngine
  host?: string | null
  port?: number | null
  username?: string | null
  password?: string | null
  raiDatabase: string
  providersDatabase?: string | null
  appUrl?: string | null
  master?: boolean
}

export const DEFAULT_PORTS: Record<RdsEngine, number | null> = {mysql: 3306, postgres: 5432, sqlite: null}

/** The flag each field comes from, so an error names what the operator typed. */
export const FIELD_FLAGS: Record<keyof RdsFields | string, string> = {
  name: '--name',
  engine: '--engine',
  host: '--host',
  port: '--port',
  username: '--username',
  password: '--password-stdin',
  raiDatabase: '--rai-database',
  providersDatabase: '--providers-database',
  appUrl: '--app-url',
  master: '--master',
}

const identifier = z
  .string()
  .trim()
  .min(1, {message: 'must not be empty'})
  .max(64, {message: 'must be at most 64 characters'})
  .regex(/^[A-Za-z0-9_$-]+$/, {message: 'may hold only letters, digits, _, $ and -'})

/** Optional text stored in `rds_instances.column`: empty means none; longer than the column is refused. */
const nullableText = (column: keyof typeof COLUMN_LENGTHS.rds_instances) =>
  fitsColumn('rds_instances', column)
    .nullish()
    .transform((v) => (v === undefined || v === null || v.trim() === '' ? null : v.trim()))

export const rdsNameSchema = z
  .string()
  .trim()
  .min(1, {message: 'must not be empty'})
  .max(columnLength('rds_instances', 'name'), {message: `must be at most ${columnLength('rds_instances', 'name')} characters`})
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {message: 'may hold only letters, digits, ".", "_" and "-", starting with a letter or digit'})
  .refine((v) => !/^\d+$/.test(v), {message: 'must not be only digits (ids are numbers)'})

const fieldsSchema = z
  .object({
    name: rdsNameSchema,
    engine: z.enum(RDS_ENGINES, {errorMap: () => ({message: `must be one of ${RDS_ENGINES.join(', ')}`})}),
    host: nullableText('host'),
    port: z
      .number({invalid_type_error: 'must be a number'})
      .int({message: 'must be a whole number'})
      .min(1, {message: 'must be from 1 to 65535'})
      .max(65_535, {message: 'must be from 1 to 65535'})
      .nullish(),
    username: nullableText('username'),
    password: z.string().nullish(),
    raiDatabase: fitsColumn('rds_instances', 'rai_database').trim().min(1, {message: 'must not be empty'}),
    providersDatabase: nullableText('providers_database'),
    appUrl: nullableText('app_url').refine((v) => v === null || /^https?:\/\/[^\s/]+/.test(v), {
      message: 'must be an http(s) URL, as https://app.example.com',
    }),
    master: z.boolean().default(false),
  })
  .superRefine((value, ctx) => {
    if (value.engine === 'sqlite') {
      if (!isAbsolute(value.raiDatabase))
        ctx.addIssue({code: z.ZodIssueCode.custom, path: ['raiDatabase'], message: 'must be an absolute file path for sqlite'})
      return
    }
    if (!value.host) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['host'], message: 'must not be empty'})
    else if (/\s|\//.test(value.host))
      ctx.addIssue({code: z.ZodIssueCode.custom, path: ['host'], message: 'must be a host name or address, without spaces or slashes'})
    if (!value.username) ctx.addIssue({code: z.ZodIssueCode.custom, path: ['username'], message: 'must not be empty'})
    if (!identifier.safeParse(value.raiDatabase).success)
      ctx.addIssue({code: z.ZodIssueCode.custom, path: ['raiDatabase'], message: 'must be a database name (letters, digits, _, $, -)'})
    if (value.providersDatabase && !identifier.safeParse(value.providersDatabase).success) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['providersDatabase'],
        message: 'must be a database name (letters, digits, _, $, -)',
      })
    }
  })

export type ValidRdsFields = {
  name: string
  engine: RdsEngine
  host: string | null
  port: number | null
  username: string | null
  password: string | null
  raiDatabase: string
  providersDatabase: string | null
  appUrl: string | null
  master: boolean
}

/** Validates and normalises RDS fields; the first problem is a one-line UserError naming the flag. */
export function validateRdsFields(input: RdsFields): ValidRdsFields {
  const result = fieldsSchema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]
    const field = String(issue.path[0] ?? 'input')
    const flag = input.engine === 'sqlite' && field === 'raiDatabase' ? '--file' : (FIELD_FLAGS[field] ?? field)
    throw new UserError(`${flag} ${issue.message}`)
  }
  const v = result.data
  const sqlite = v.engine === 'sqlite'
  return {
    name: v.name,
    engine: v.engine,
    host: sqlite ? null : v.host,
    port: sqlite ? null : (v.port ?? DEFAULT_PORTS[v.engine]),
    username: sqlite ? null : v.username,
    password: sqlite ? null : (v.password ?? null),
    raiDatabase: v.raiDatabase,
    providersDatabase: v.providersDatabase,
    appUrl: v.appUrl,
    master: v.master,
  }
}

/** An RDS's impersonation settings, as rds:edit sets them. */
export interface ImpersonationSettings {
  enabled: boolean
  /** The `aud` its RAI application expects; null: its app URL. */
  audience: string | null
  /** The default lifetime of its links; null: the longest, 5 minutes. */
  ttlSeconds: number | null
}

const impersonationSchema = z.object({
  enabled: z.boolean(),
  audience: nullableText('impersonation_audience').refine((v) => v === null || !/\s/.test(v), {
    message: 'must be one word or URL, as https://eu.rai.example.com',
  }),
  ttlSeconds: z
    .number()
    .int({message: 'must be whole seconds'})
    .min(MIN_TTL_SECONDS, {message: `must be from ${MIN_TTL_SECONDS}s to ${MAX_TTL_SECONDS / 60}m`})
    .max(MAX_TTL_SECONDS, {message: `must be from ${MIN_TTL_SECONDS}s to ${MAX_TTL_SECONDS / 60}m`})
    .nullable(),
})

const IMPERSONATION_FLAGS: Record<string, string> = {
  enabled: '--impersonation',
  audience: '--impersonation-audience',
  ttlSeconds: '--impersonation-ttl',
}

/** Validates an RDS's impersonation settings; the first problem is a one-line UserError naming the flag. */
export function validateImpersonation(input: ImpersonationSettings): ImpersonationSettings {
  const result = impersonationSchema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new UserError(`${IMPERSONATION_FLAGS[String(issue.path[0])] ?? 'impersonation'} ${issue.message}`)
  }
  return result.data
}
