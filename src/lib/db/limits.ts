import {z} from 'zod'

/**
 * The length of every text column that stores what an operator types, as the
 * migrations declare it (test/integration/column-limits.test.ts holds them to
 * it). Inputs are checked against these before anything is written: MySQL and
 * PostgreSQL refuse a longer value with a raw INSERT error, SQLite stores it.
 */
export const COLUMN_LENGTHS = {
  rds_instances: {
    name: 64,
    host: 255,
    username: 128,
    rai_database: 512,
    providers_database: 512,
    app_url: 512,
    impersonation_audience: 255,
  },
  operators: {name: 255, email: 255},
  api_tokens: {name: 128},
  raiops_roles: {name: 64, description: 255},
  impersonations: {ticket: 128},
} as const

type Table = keyof typeof COLUMN_LENGTHS

/** The length of `table.column`. */
export function columnLength<T extends Table>(table: T, column: keyof (typeof COLUMN_LENGTHS)[T]): number {
  return COLUMN_LENGTHS[table][column] as number
}

/** A string that fits `table.column`; the message says the limit. */
export function fitsColumn<T extends Table>(table: T, column: keyof (typeof COLUMN_LENGTHS)[T]): z.ZodString {
  const length = columnLength(table, column)
  return z.string().max(length, {message: `must be at most ${length} characters`})
}
