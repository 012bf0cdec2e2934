import {createRequire} from 'node:module'
import {formatWithOptions, type InspectOptions} from 'node:util'

import {isSecretKey, REDACTED, rememberSecret, scrubText} from './index.js'

/**
 * In a debug line, a run this long of digest or key characters (hex digests,
 * base64 keys and ciphertexts) is random data: SQL names and words hold no
 * digits, and paths are cut at every slash.
 */
const LONG_RANDOM = /[A-Za-z0-9+_-]{32,}={0,2}/g

interface DebugModule {
  log: (...args: unknown[]) => unknown
  inspectOpts?: InspectOptions
}

/** The copies of the `debug` package that print for raiops' dependencies (each may have its own). */
const DEBUG_USERS = ['knex', '@oclif/core'] as const

/**
 * Makes `DEBUG=…` output safe to paste into a ticket: every line knex (queries,
 * bindings: hashes, ciphertexts) and oclif (the command line) print through the
 * `debug` package is scrubbed first (see `scrubText`). The values of
 * secret-looking flags on the command line (`--password=…`, mistyped or not)
 * are remembered as secrets, so they are removed wherever they appear.
 */
export function installDebugScrubber(argv: readonly string[]): void {
  rememberFlagSecrets(argv)
  const require = createRequire(import.meta.url)
  for (const user of DEBUG_USERS) {
    let debug: DebugModule
    try {
      debug = createRequire(require.resolve(user))('debug') as DebugModule
    } catch {
      continue
    }
    debug.log = (...args: unknown[]) => process.stderr.write(`${scrubDebugLine(formatWithOptions(debug.inspectOpts ?? {}, ...args))}\n`)
  }
}

/**
 * A debug line without secrets: also no long random runs, and no value given
 * with `=` on the command line oclif prints (a mistyped `--pw=…` of any name).
 */
function scrubDebugLine(line: string): string {
  return scrubText(line)
    .replace(LONG_RANDOM, (run) => (/\d/.test(run) && /[A-Za-z]/.test(run) ? REDACTED : run))
    .replace(/(^|[\s'"[,])(--?[\w-]+)=[^\s'",\]]+/g, `$1$2=${REDACTED}`)
}

/**
 * Remembers, as secrets, the values typed for flags named like a secret: after
 * `=`, or as the next argument (also after `--password-stdin`, which takes none,
 * so what follows it is a mistyped secret or nothing that needs showing).
 */
function rememberFlagSecrets(argv: readonly string[]): void {
  argv.forEach((arg, index) => {
    const flag = /^--?([\w-]+)(?:=(.*))?$/s.exec(arg)
    if (!flag || !isSecretKey(flag[1].replaceAll('-', '_')) || /file$/.test(flag[1])) return
    const next = argv[index + 1]
    if (flag[2] !== undefined) rememberSecret(flag[2])
    else if (next !== undefined && !next.startsWith('-')) rememberSecret(next)
  })
}
