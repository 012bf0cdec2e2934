import {resolve} from 'node:path'

import {UserError} from '../errors/index.js'
import {escapeControl} from '../text/escape.js'
import {shellLine, shellQuote} from '../text/shell.js'
import {buildDemo, type DemoRequest, type DemoResult} from './build.js'
import {demoTryNext} from './tour.js'

/** What `raiops demo --json` returns: the demo, and how to use it. */
export interface DemoOutput extends DemoResult {
  /** The environment that points raiops at the demo. */
  env: {RAIOPS_HOME: string}
  /** Shell lines that point raiops at the demo: RAIOPS_HOME, and `raiops` itself when it is not on PATH. */
  setup: string[]
  /** Commands to try on the demo, after the setup lines. */
  tryNext: string[]
}

/** The variables that would point a raiops run somewhere else than the demo. */
const FOREIGN_SETTINGS = ['RAIOPS_DATABASE_URL', 'RAIOPS_MASTER_KEY', 'RAIOPS_MASTER_KEY_FILE', 'RAIOPS_TOKEN'] as const

/** The settings of `env` that would point raiops away from the demo. */
export function foreignSettings(env: Record<string, string | undefined>): string[] {
  return FOREIGN_SETTINGS.filter((name) => env[name])
}

/**
 * The demo and how to use it from a shell: RAIOPS_HOME, an `unset` of the
 * settings that would point elsewhere, the alias when `raiops` is not on PATH,
 * then the commands to try.
 */
export function demoOutput(result: DemoResult, options: {alias: string | null; env: Record<string, string | undefined>}): DemoOutput {
  const setup = [`export RAIOPS_HOME=${shellQuote(result.home)}`]
  const foreign = foreignSettings(options.env)
  if (foreign.length > 0) setup.push(`unset ${foreign.join(' ')}`)
  if (options.alias) setup.push(options.alias)
  const tryNext = demoTryNext(result).map((args) => shellLine(['raiops', ...args]))
  return {...result, env: {RAIOPS_HOME: result.home}, setup, tryNext}
}

/**
 * The demo directory, absolute. A path the shell did not expand (`--dir=~/demo`)
 * or one with control characters (it could not be pasted back) is refused.
 */
export function demoDir(given: string): string {
  if (/^~($|\/)/.test(given))
    throw new UserError(`--dir ${escapeControl(given)} starts with ~, which the shell did not expand`, {
      hint: 'write --dir "$HOME/…" or --dir ~/… (with a space, not =)',
    })
  if (escapeControl(given) !== given)
    throw new UserError(`--dir ${escapeControl(given)} holds control characters`, {hint: 'choose a directory name without them'})
  return resolve(given)
}

/** `demo`: the demo built (or found) as `request` says, how to use it (see `demoOutput`), and how long that took. */
export async function setUpDemo(
  request: DemoRequest & {alias: string | null; env: Record<string, string | undefined>},
): Promise<{output: DemoOutput; seconds: string}> {
  const {alias, env, ...build} = request
  const started = performance.now()
  const result = await buildDemo(build)
  return {output: demoOutput(result, {alias, env}), seconds: ((performance.now() - started) / 1000).toFixed(1)}
}
