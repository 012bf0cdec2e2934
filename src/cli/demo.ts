import type {ChalkInstance} from 'chalk'
import {spawn} from 'node:child_process'
import {existsSync, realpathSync} from 'node:fs'
import {delimiter, join} from 'node:path'

import {demoEnvironment} from '../lib/demo/build.js'
import {foreignSettings, type DemoOutput} from '../lib/demo/output.js'
import {demoTour, type TourStep} from '../lib/demo/tour.js'
import {escapeControl} from '../lib/text/escape.js'
import {shellLine, shellQuote} from '../lib/text/shell.js'
import {demoFleetSummary, demoHeadline, demoKeptNote, demoUsage} from './reporters/demo.js'

/** How to run this raiops from a shell: `raiops` when that is on PATH, else its bin/run.js (with an alias line). */
export function shellInvocation(root: string, path = process.env.PATH ?? ''): {command: string; alias: string | null} {
  const bin = join(root, 'bin', 'run.js')
  const real = (file: string) => {
    try {
      return realpathSync(file)
    } catch {
      return null
    }
  }
  const target = real(bin)
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, 'raiops')
    if (existsSync(candidate) && real(candidate) === target) return {command: bin, alias: null}
  }
  return {command: bin, alias: `alias raiops=${shellQuote(bin)}`}
}

/** Runs each step as its own raiops process (`bin`) on the demo in `dir`, its output shown as it comes; `log` prints a line. */
export async function runTour(
  steps: TourStep[],
  options: {dir: string; bin: string; color: ChalkInstance; noColor: boolean; log: (line: string) => void},
): Promise<void> {
  const {color: c, log} = options
  const env: NodeJS.ProcessEnv = {...process.env}
  for (const name of Object.keys(env)) if (name.startsWith('RAIOPS_')) delete env[name]
  Object.assign(env, demoEnvironment(options.dir))
  const home = env.RAIOPS_HOME as string
  if (options.noColor) env.NO_COLOR = '1'
  const rule = c.dim('─'.repeat(60))
  log('')
  log(c.bold("The tour: an operator's first day. Each step runs for real on the demo."))
  for (const [index, step] of steps.entries()) {
    log('')
    log(rule)
    log(c.bold(`${index + 1}/${steps.length}  ${step.title}`))
    log(c.dim(escapeControl(step.about)))
    log(`${c.cyan('$')} ${c.bold(escapeControl(shellLine(['raiops', ...step.args])))}`)
    const code = await runStep(options.bin, step.args, env, home)
    if (code !== 0) {
      const expected = step.expectedExit?.code === code ? step.expectedExit.why : 'not expected on the demo: the output above says why'
      log(c.yellow(`(exit ${code}: ${escapeControl(expected)})`))
    }
  }
}

function runStep(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolveCode, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {env, cwd, stdio: ['ignore', 'inherit', 'inherit']})
    child.on('error', reject)
    child.on('close', (code, signal) => resolveCode(code ?? (signal === 'SIGINT' ? 130 : 1)))
  })
}

/** Where the demo is shown: a line to stdout, a note to stderr, colours. */
export interface DemoTerminal {
  color: ChalkInstance
  noColor: boolean
  log: (line: string) => void
  note: (line: string) => void
}

/**
 * The demo on the terminal: what was built (or found), its data, the tour when
 * it runs (a new demo without --quiet, or --tour), then how to use it.
 */
export async function showDemo(
  demo: DemoOutput,
  options: {dir: string; seconds: string; quiet: boolean; tour: boolean; bin: string},
  terminal: DemoTerminal,
): Promise<void> {
  const {color, log} = terminal
  log(demoHeadline(color, demo, {dir: options.dir, seconds: options.seconds, tour: options.tour}))
  const kept = demoKeptNote(demo)
  if (kept) terminal.note(kept)
  log(demoFleetSummary(demo))
  const tourRan = demo.status === 'created' ? !options.quiet : options.tour
  if (tourRan) await runTour(demoTour(demo), {dir: options.dir, bin: options.bin, color, noColor: terminal.noColor, log})
  log(demoUsage(color, demo, {dir: options.dir, tourRan, foreign: foreignSettings(process.env)}))
}
