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
    parse?: ParseInput
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
function parseErrorMessage(name: string, e: {message?: string; flags?: unknown; args?: unknown; parse?: ParseInput}, argv: readonly string[]): string {
  if (name === 'NonExistentFlagsError' && Array.isArray(e.flags)) {
    const flags = e.flags.map(String)
    // `--flag=value`, or a value glued to a short flag (`-pSECRET`, as mysql takes a password): only the flag is shown.
    const glued = (flag: string) => /^-[^-]./.test(flag)
    const valued = flags.some((flag) => flag.includes('=') || glued(flag))
    const known = Object.keys(e.parse?.input?.flags ?? {})
    const described = flags.map((flag) => (glued(flag) ? flag.slice(0, 2) : withSuggestion(flag.split('=')[0], known)))
    return `Nonexistent flag${flags.length === 1 ? '' : 's'}: ${described.join(', ')}${valued ? ' (the value given is not shown)' : ''}`
  }
  if (name === 'UnexpectedArgsError' && Array.isArray(e.args)) {
    const args = e.args.map(String)
    return `Unexpected argument${args.length === 1 ? '' : 's'}: ${args.map((arg) => describeStrayArgument(arg, argv)).join(', ')}`
  }
  if (name === 'RequiredArgsError' && Array.isArray(e.args)) {
    return (e.args as Array<{name?: string; description?: string}>)
      .map((arg) => `${(arg.name ?? 'an argument').toUpperCase()} is required${arg.description ? `: ${arg.description}` : ''}`)
      .join('; ')
  }
  if (name === 'FailedFlagValidationError' || name === 'ViolatedFlagConstraintError') return flagValidationMessage(e)
  return e.message ?? 'bad usage'
}

/** `--formt` as `--formt (did you mean --format?)` when a declared flag is that near; only flag names, never a value. */
function withSuggestion(typed: string, known: readonly string[]): string {
  const match = /^--([^=]+)$/.exec(typed)
  const suggestion = match ? closest(match[1], known) : undefined
  return suggestion ? `${typed} (did you mean --${suggestion}?)` : typed
}

/** oclif's flag definitions, which its parse errors carry. */
type ParseInput = {input?: {flags?: Record<string, {description?: string}>}}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

/**
 * oclif's "The following errors occurred: …" as one plain line: a missing flag
 * with what it is for, a pair of flags that exclude each other said once (never
 * with the value typed), the rest as oclif words it.
 */
function flagValidationMessage(e: {message?: string; parse?: ParseInput}): string {
  const flags = e.parse?.input?.flags ?? {}
  const reasons = (e.message ?? '')
    .replace(ANSI, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^The following errors? occurred:$/.test(line) && !/^See more help with/.test(line))
  const missing = reasons.map((reason) => /^Missing required flag ([\w-]+)$/.exec(reason)?.[1]).filter((flag) => flag !== undefined)
  const said = new Set<string>()
  // One missing flag with what it is for; several by name (their descriptions are in --help).
  if (missing.length === 1) {
    const description = flags[missing[0]]?.description
    said.add(`--${missing[0]} is required${description ? `: ${description}` : ''}`)
  } else if (missing.length > 1) {
    const names = missing.map((flag) => `--${flag}`)
    said.add(`${names.slice(0, -1).join(', ')} and ${names.at(-1)} are required`)
  }
  for (const reason of reasons) {
    const exclusive = /^--([\w-]+)(?:=.*)? cannot also be provided when using --([\w-]+)$/s.exec(reason)
    if (/^Missing required flag /.test(reason)) continue
    if (exclusive) {
      const [a, b] = [exclusive[1], exclusive[2]].sort()
      said.add(`--${a} and --${b} cannot be used together: give one of them`)
    } else {
      said.add(reason.replace(/^(.)/, (first) => first.toLowerCase()))
    }
  }
  return said.size > 0 ? [...said].join('; ') : 'bad usage'
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
