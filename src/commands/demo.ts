import {spawn} from 'node:child_process'
import {existsSync, realpathSync} from 'node:fs'
import {delimiter, join, resolve} from 'node:path'
import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {buildDemo, demoCommand, demoEnvironment, type DemoResult} from '../lib/demo/build.js'
import {UserError} from '../lib/errors/index.js'
import {DEMO_SIZES, type DemoSize} from '../lib/demo/fleet.js'
import {demoTour, demoTryNext, type TourStep} from '../lib/demo/tour.js'
import {escapeControl, escapeControlDeep} from '../lib/text/escape.js'
import {shellLine, shellQuote} from '../lib/text/shell.js'

/** What `--json` returns: the demo, and how to use it. */
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

export default class Demo extends BaseCommand<DemoOutput> {
  static override summary = 'build a self-contained demo of raiops (no database server needed) and take the tour'
  static override description = `Creates a demo in --dir with a home of its own (SQLite control database, master key, a signed-in admin), never touching your own RAIOPS_HOME, and a fleet of four RAI databases in SQLite files: a few hundred tenants with their users (bcrypt hashes as Laravel writes them, a few ghost users, accountants whose one email is a user of tenants on several servers), locations and the routing directory. The data comes from a fixed seed: every build is the same.

One RDS is the master (it holds the routing directory), one is draining, and one is registered but its database file is missing: it shows what a server that is down looks like, in health, syncs and exit codes.

It then takes the tour: the commands of an operator's first day, each run for real on the demo, with its output. It ends with commands to try next, to paste into a shell.

Run it again to see how to use the demo (a complete demo is left as it is); --reset deletes it (only a directory holding a demo) and builds it again. --size large builds tens of thousands of tenants and about a million routing rows, to feel the speed.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dir /tmp/raiops-demo --quiet',
    '<%= config.bin %> <%= command.id %> --reset',
    '<%= config.bin %> <%= command.id %> --size large --dir /tmp/raiops-large',
    '<%= config.bin %> <%= command.id %> --tour',
    '<%= config.bin %> <%= command.id %> --quiet --json',
  ]

  static override permission = null

  static override flags = {
    dir: Flags.string({description: 'where the demo lives: a new or empty directory, or one holding a demo', default: './raiops-demo'}),
    size: Flags.option({options: DEMO_SIZES, description: 'small: 4 RDS, a few hundred tenants; large: tens of thousands of tenants, ~1M routing rows [default: the demo\'s own size, else small]'})(),
    reset: Flags.boolean({description: 'delete the demo in --dir (only a directory holding a demo) and build it again'}),
    quiet: Flags.boolean({description: 'only build the demo: no tour', exclusive: ['tour']}),
    tour: Flags.boolean({description: 'take the tour again on a demo that is already built'}),
  }

  async run(): Promise<DemoOutput> {
    const {flags} = await this.parse(Demo)
    if (flags.tour && this.jsonEnabled()) throw new UserError('--tour shows the tour on the terminal: it does not go with --json', {hint: 'drop one of them'})
    const dir = demoDir(flags.dir)
    const progress = await this.progress(`building the demo in ${dir}`)
    const started = performance.now()
    let result: DemoResult
    try {
      result = await buildDemo({dir, size: flags.size as DemoSize | undefined, reset: flags.reset, onProgress: (message) => progress.update(message)})
    } finally {
      progress.stop()
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const invocation = this.invocation()
    const setup = this.setupLines(result.home, invocation)
    const tryNext = demoTryNext(result).map((args) => shellLine(['raiops', ...args]))
    const output: DemoOutput = {...result, env: {RAIOPS_HOME: result.home}, setup, tryNext}
    if (this.jsonEnabled()) return output

    const shown = escapeControlDeep(result)
    const bold = this.color.bold
    if (result.status === 'created') {
      this.log(`${this.color.green('✓')} built the raiops demo in ${shown.dir} in ${seconds} s (size ${result.size}, seed ${result.seed})`)
      if (result.keptEntries.length > 0) this.note(`left in place in ${shown.dir}, not being the demo's: ${escapeControl(result.keptEntries.join(', '))}`)
    } else {
      this.log(`The raiops demo is already in ${shown.dir} (size ${result.size}); ${flags.tour ? 'here is the tour again' : 'it is left as it is'}. \`${escapeControl(demoCommand(dir, '--reset'))}\` builds it again.`)
    }
    this.log(this.fleetSummary(result))
    const tourRuns = result.status === 'created' ? !flags.quiet : flags.tour
    if (tourRuns) await this.runTour(demoTour(result), dir, invocation)
    this.log('')
    const foreign = FOREIGN_SETTINGS.filter((name) => process.env[name])
    if (foreign.length > 0) this.log(this.color.yellow(`Your shell sets ${foreign.join(', ')}, which would point raiops elsewhere: the unset line below keeps it on the demo.`))
    this.log(bold(tourRuns ? 'Try next: paste these lines into your shell.' : 'Use the demo: paste these lines into your shell (the last ones take the tour and try other commands).'))
    for (const line of setup) this.log(`  ${escapeControl(line)}`)
    if (!tourRuns) this.log(`  ${escapeControl(demoCommand(dir, '--tour'))}`)
    for (const line of tryNext) this.log(`  ${escapeControl(line)}`)
    this.log(this.color.dim(`The demo admin (${result.admin}) is signed in until ${result.sessionExpiresAt}; \`${escapeControl(demoCommand(dir, ''))}\` again renews that. Delete ${shown.dir} when you are done.`))
    return output
  }

  private fleetSummary(result: DemoResult): string {
    const n = (value: number) => value.toLocaleString('en-US')
    const lines = [
      `  ${n(result.totals.tenants)} tenants, ${n(result.totals.users)} users (and ${n(result.totals.ghostUsers)} ghost users), ${n(result.totals.locations)} locations, ${n(result.totals.routing)} routing rows on ${result.rds.length} RDS:`,
    ]
    const width = Math.max(...result.rds.map((r) => r.name.length))
    for (const r of escapeControlDeep(result.rds)) {
      const role = [r.master ? 'master' : null, r.state, r.missing ? 'its database file is missing on purpose: the server that is down' : null].filter(Boolean).join(', ')
      lines.push(`    ${r.name.padEnd(width)}  ${n(r.tenants).padStart(7)} tenants  ${role}`)
    }
    return lines.join('\n')
  }

  /** How to run this raiops from a shell: `raiops` when that is on PATH, else this bin/run.js. */
  private invocation(): {command: string; alias: string | null} {
    const bin = join(this.config.root, 'bin', 'run.js')
    const real = (path: string) => {
      try {
        return realpathSync(path)
      } catch {
        return null
      }
    }
    const target = real(bin)
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue
      const candidate = join(dir, 'raiops')
      if (existsSync(candidate) && real(candidate) === target) return {command: bin, alias: null}
    }
    return {command: bin, alias: `alias raiops=${shellQuote(bin)}`}
  }

  private setupLines(home: string, invocation: {alias: string | null}): string[] {
    const lines = [`export RAIOPS_HOME=${shellQuote(home)}`]
    const foreign = FOREIGN_SETTINGS.filter((name) => process.env[name])
    if (foreign.length > 0) lines.push(`unset ${foreign.join(' ')}`)
    if (invocation.alias) lines.push(invocation.alias)
    return lines
  }

  /** Runs each step as its own raiops process on the demo, its output shown as it comes. */
  private async runTour(steps: TourStep[], dir: string, invocation: {command: string}): Promise<void> {
    const env: NodeJS.ProcessEnv = {...process.env}
    for (const name of Object.keys(env)) if (name.startsWith('RAIOPS_')) delete env[name]
    Object.assign(env, demoEnvironment(dir))
    const home = env.RAIOPS_HOME as string
    if (this.argv.includes('--no-color')) env.NO_COLOR = '1'
    const rule = this.color.dim('─'.repeat(60))
    this.log('')
    this.log(this.color.bold("The tour: an operator's first day. Each step runs for real on the demo."))
    for (const [index, step] of steps.entries()) {
      this.log('')
      this.log(rule)
      this.log(this.color.bold(`${index + 1}/${steps.length}  ${step.title}`))
      this.log(this.color.dim(escapeControl(step.about)))
      this.log(`${this.color.cyan('$')} ${this.color.bold(escapeControl(shellLine(['raiops', ...step.args])))}`)
      const code = await this.runStep(invocation.command, step.args, env, home)
      if (code !== 0) {
        const expected = step.expectedExit?.code === code ? step.expectedExit.why : 'not expected on the demo: the output above says why'
        this.log(this.color.yellow(`(exit ${code}: ${escapeControl(expected)})`))
      }
    }
  }

  private runStep(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
    return new Promise((resolveCode, reject) => {
      const child = spawn(process.execPath, [bin, ...args], {env, cwd, stdio: ['ignore', 'inherit', 'inherit']})
      child.on('error', reject)
      child.on('close', (code, signal) => resolveCode(code ?? (signal === 'SIGINT' ? 130 : 1)))
    })
  }
}

/**
 * The demo directory, absolute. A path the shell did not expand (`--dir=~/demo`)
 * or one with control characters (it could not be pasted back) is refused.
 */
function demoDir(given: string): string {
  if (/^~($|\/)/.test(given)) throw new UserError(`--dir ${escapeControl(given)} starts with ~, which the shell did not expand`, {hint: 'write --dir "$HOME/…" or --dir ~/… (with a space, not =)'})
  if (escapeControl(given) !== given) throw new UserError(`--dir ${escapeControl(given)} holds control characters`, {hint: 'choose a directory name without them'})
  return resolve(given)
}
