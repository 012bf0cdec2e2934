import {ExitCode, RaiopsError, type ExitCode as ExitCodeValue} from '../lib/errors/index.js'
import {scrubText} from '../lib/redact/index.js'
import {closest} from '../lib/text/closest.js'

/** An error as a command reports it: exit code, a code for --json, one line and what to do. */
export interface MappedError {
  exitCode: ExitCodeValue
  code: string
  message: string
  hint?: string
}

const PARSE_ERRORS = new Set([
  'CLIParseError',
  'RequiredArgsError',
  'RequiredFlagError',
  'FailedFlagValidationError',
  'NonExistentFlagsError',
  'UnexpectedArgsError',
  'FlagInvalidOptionError',
  'ArgInvalidOptionError',
])

/** The message on one line, without the frame oclif puts around an error thrown while parsing a flag. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with/.test(l))
    .join(' ')
    .replace(/^Parsing (--[\w-]+)\s+(.*)$/, (_, flag: string, rest: string) => (rest.startsWith(flag) ? rest : `${flag}: ${rest}`))
}

/**
 * The error as the user sees it: one line, exit code, scrubbed of secrets.
 * `argv` is the command line, so a parse error can tell a value typed after
 * a flag (never shown) from a stray argument.
 */
export function mapError(error: unknown, argv: readonly string[] = []): MappedError {
  if (error instanceof RaiopsError) {
    return {
      exitCode: error.exitCode,
      code: error.code,
      message: scrubText(oneLine(error.message)),
      hint: error.hint && scrubText(error.hint),
    }
  }
  const e = error as {
    name?: string
    message?: string
    oclif?: {exit?: number}
    constructor?: {name?: string}
    flags?: unknown
    args?: unknown
    parse?: ParseState
  }
  const name = e?.constructor?.name ?? e?.name ?? ''
  if (PARSE_ERRORS.has(name) || (e?.oclif?.exit === 2 && e?.message)) {
    return {
      exitCode: ExitCode.badInput,
      code: 'BAD_USAGE',
      message: scrubText(oneLine(parseErrorMessage(name, e, argv))),
      hint: 'see --help',
    }
  }
  return {
    exitCode: ExitCode.unexpected,
    code: 'UNEXPECTED',
    message: scrubText(oneLine(e?.message ?? String(error))),
    hint: 'run again with --verbose for details',
  }
}

/**
 * oclif's parse error, without any value typed on the command line for a flag
 * that does not exist or takes none: a mistyped `--password=…` or
 * `--password-stdin hunter2` must not print the password back.
 */
function parseErrorMessage(name: string, e: {message?: string; flags?: unknown; args?: unknown; parse?: ParseState}, argv: readonly string[]): string {
  if (name === 'NonExistentFlagsError' && Array.isArray(e.flags)) {
    const flags = e.flags.map(String)
    const valued = flags.some((flag) => flag.includes('='))
    const known = Object.keys(e.parse?.input?.flags ?? {})
    const described = flags.map((flag) => withSuggestion(flag.split('=')[0], known))
    return `Nonexistent flag${flags.length === 1 ? '' : 's'}: ${described.join(', ')}${valued ? ' (the value given is not shown)' : ''}`
  }
  if (name === 'UnexpectedArgsError' && Array.isArray(e.args)) {
    const args = e.args.map(String)
    return `Unexpected argument${args.length === 1 ? '' : 's'}: ${args.map((arg) => describeStrayArgument(arg, argv)).join(', ')}`
  }
  return e.message ?? 'bad usage'
}

/** What oclif's parse errors carry of the command's declared flags. */
interface ParseState {
  input?: {flags?: Record<string, unknown>}
}

/** `--formt` as `--formt (did you mean --format?)` when a declared flag is that near; only flag names, never a value. */
function withSuggestion(typed: string, known: readonly string[]): string {
  const match = /^--([^=]+)$/.exec(typed)
  const suggestion = match ? closest(match[1], known) : undefined
  return suggestion ? `${typed} (did you mean --${suggestion}?)` : typed
}

/** A stray argument as it may be shown: itself, unless it was typed as a flag's value. */
function describeStrayArgument(arg: string, argv: readonly string[]): string {
  for (const [index, typed] of argv.entries()) {
    const flag = /^(--?[^=\s]+)=(.*)$/s.exec(typed)
    if (flag && flag[2] === arg) return `the value given to ${flag[1]} (not shown; it takes none)`
    const before = argv[index - 1]
    if (typed === arg && before !== undefined && /^--?[^-=]/.test(before) && !before.includes('=')) return `a value after ${before} (not shown; it takes none)`
  }
  return arg
}
