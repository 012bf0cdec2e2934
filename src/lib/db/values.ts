/**
 * Timestamps cross three engines: MySQL and PostgreSQL return Date objects,
 * SQLite (through better-sqlite3) returns the epoch milliseconds knex stored.
 * Rows are written with Date values and read back through these helpers.
 */
export function toIso(value: unknown): string | null {
  if (value === null || value === undefined) return null
  // A MariaDB zero date ('0000-00-00', which its default sql_mode lets a fleet write) comes back an Invalid Date: no time.
  if (value instanceof Date) return validIso(value)
  if (typeof value === 'number') return validIso(new Date(value))
  if (typeof value === 'bigint') return validIso(new Date(Number(value)))
  const text = String(value)
  if (/^\d+$/.test(text)) return validIso(new Date(Number(text)))
  // MySQL DATETIME read as a string has no zone: raiops writes UTC.
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`)
  return Number.isNaN(date.getTime()) ? text : date.toISOString()
}

function validIso(date: Date): string | null {
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

export function toIsoRequired(value: unknown): string {
  const iso = toIso(value)
  if (iso === null) throw new Error('expected a timestamp, got null')
  return iso
}

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 'true'
}

/** PostgreSQL's text of a BIGINT as a number where a JavaScript number holds it exactly, else the text. */
export function int8FromText(text: string): number | string {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : text
}

/**
 * An integer column as a number: a 64-bit column (the money columns, `bigint`)
 * comes back from PostgreSQL as a string and may come back as a string or a
 * BigInt from other drivers. Throws when it is not a whole number a JavaScript
 * number holds exactly (above 2^53): raiops refuses such amounts on input, so
 * one in the database was written by something else.
 */
export function toMinor(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`expected a whole number a JavaScript number holds exactly, got ${String(value)}`)
  return n
}

export function toNumberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null
  const n = Number(value)
  return Number.isFinite(n) ? n : null
}
