import {accessSync, constants, statfsSync} from 'node:fs'
import {dirname} from 'node:path'

import {ConfigError} from '../errors/index.js'
import type {ControlDbTarget} from './url.js'

interface ErrorLike {
  code?: unknown
  path?: unknown
  cause?: unknown
}

type Problem = 'full' | 'read-only' | 'denied' | 'io'

/** The codes a MySQL or PostgreSQL server answers a write with when its disk is full or it is read-only. */
const SERVER_CODES = new Set(['ER_RECORD_FILE_FULL', 'ER_DISK_FULL', '53100', 'ER_OPTION_PREVENTS_STATEMENT', '25006'])

/** What a driver's or the file system's error code says about where raiops stores things, if anything. */
function problemOf(code: string): Problem | null {
  if (['SQLITE_FULL', 'ENOSPC', 'EDQUOT', 'ER_RECORD_FILE_FULL', 'ER_DISK_FULL', '53100'].includes(code)) return 'full'
  // MySQL started with --read-only, a PostgreSQL hot standby.
  if (code.startsWith('SQLITE_READONLY') || ['EROFS', 'ER_OPTION_PREVENTS_STATEMENT', '25006'].includes(code)) return 'read-only'
  if (code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') return 'denied'
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'EIO') return 'io'
  return null
}

/** The first error in the `cause` chain whose code says something about storage. */
function storageCause(error: unknown): {code: string; path?: string} | null {
  let current = error as ErrorLike | null | undefined
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    if (typeof current.code === 'string' && problemOf(current.code))
      return {code: current.code, path: typeof current.path === 'string' ? current.path : undefined}
    current = current.cause as ErrorLike | null | undefined
  }
  return null
}

/** Why `dir` cannot take a write, as the file system answers: full, read-only, denied, or nothing known. */
function probe(dir: string): Problem | null {
  try {
    accessSync(dir, constants.W_OK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    return code === 'EROFS' ? 'read-only' : code === 'EACCES' || code === 'EPERM' ? 'denied' : null
  }
  try {
    const {bavail, bsize} = statfsSync(dir)
    // Less than 64 KiB left: SQLite cannot grow its file or its shared-memory index.
    if (bavail * bsize < 65_536) return 'full'
  } catch {
    // No statfs here: nothing more to learn.
  }
  return null
}

const HINTS: Record<Problem, (where: string) => string> = {
  full: (where) => `free some space there (df -h ${where}), then run the command again`,
  'read-only': () => 'remount it read-write, or set RAIOPS_HOME (or RAIOPS_DATABASE_URL) to a place raiops can write',
  denied: () => 'fix its owner or mode, or set RAIOPS_HOME (or RAIOPS_DATABASE_URL) to a place raiops can write',
  io: () => 'check the disk and the file, then run the command again',
}

const SAYS: Record<Problem, string> = {
  full: 'the disk is full',
  'read-only': 'it is on a read-only file system',
  denied: 'permission denied',
  io: 'an I/O error',
}

/**
 * A full disk, a read-only or forbidden place, or an I/O error where raiops
 * stores things (the SQLite control database, a file in RAIOPS_HOME, the
 * server of the control database), as one line naming the place, instead of
 * the driver's words ("COMMIT; - database or disk is full"). Null for any
 * other error. What failed was rolled back: nothing was written.
 */
export function describeStorageError(error: unknown, target: ControlDbTarget | undefined): ConfigError | null {
  const found = storageCause(error)
  if (!found) return null
  const fromSqlite = found.code.startsWith('SQLITE_')
  const path = found.path ?? (fromSqlite ? target?.sqliteFile : undefined)
  let problem = problemOf(found.code) as Problem
  if (path) {
    // SQLite says "I/O error" or "unable to open" for a full or read-only disk alike: ask the file system.
    if (problem === 'io') problem = probe(dirname(path)) ?? 'io'
    return new ConfigError(`cannot write ${path}: ${SAYS[problem]}; nothing was written`, {
      hint: HINTS[problem](dirname(path)),
      cause: error,
    })
  }
  if (!SERVER_CODES.has(found.code) || !target || target.engine === 'sqlite') return null
  const server: Record<Problem, string> = {
    full: 'its server is out of disk space',
    'read-only': 'its server is read-only',
    denied: 'its server refused the write',
    io: 'its server reports an I/O error',
  }
  return new ConfigError(`cannot write to the control database ${target.display}: ${server[problem]}; nothing was written`, {
    hint: 'ask the database administrator, then run the command again',
    cause: error,
  })
}
