import {Command, Flags, Interfaces} from '@oclif/core'
import type {ChalkInstance} from 'chalk'

import {maskAuditView, type AuditChange, type AuditView} from '../lib/audit/read.js'
import {assertPermitted} from '../lib/auth/identity.js'
import type {Permission} from '../lib/auth/permissions.js'
import {maskEmail, maskEmails, seesPii} from '../lib/auth/pii.js'
import {ExitCode, UserError, type ExitCode as ExitCodeValue} from '../lib/errors/index.js'
import {scrubText} from '../lib/redact/index.js'
import {Runtime} from '../lib/runtime.js'
import {escapeControl} from '../lib/text/escape.js'
import {mapError, type MappedError} from './errors.js'
import {makeChalk} from './output/color.js'
import {terminalWidth} from './output/fit.js'
import {Interrupts, signalExitCode} from './output/interrupt.js'
import {outputTarget, writeOutputText} from './output/output-file.js'
import {LIST_FORMATS, renderList, selectColumns, type Column, type ListFormat, type TableLayout} from './output/render.js'
import {spinnerAllowed, startSpinner, type Progress} from './output/spinner.js'
import {watchFrames} from './output/watch.js'
import {isPromptInterrupt} from './prompts/prompt.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

/** What a sync says as Ctrl-C stops it. */
export const STOPPING_SYNC = 'the current batch is finished or rolled back, the lock released'

/** Flags every command that prints a table takes: tables fit the terminal unless --wide, times are relative unless --utc, every column unless --columns. */
export const tableFlags = {
  wide: Flags.boolean({description: 'show every column of a table in full, however wide (tables fit the terminal otherwise)'}),
  utc: Flags.boolean({description: 'show times in tables in UTC (ISO 8601) instead of relative ("5 min ago")'}),
  columns: Flags.string({
    description: 'show only these columns of a table or CSV, in this order: header names, comma-separated (id,name,health)',
    parse: async (input) =>
      input
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '')
        .join(','),
  }),
}

/** Flags every list or report command takes. */
export const listFlags = {
  format: Flags.option({options: LIST_FORMATS, default: 'table' as ListFormat, description: 'output format', char: 'f'})(),
  output: Flags.string({char: 'o', description: 'write the output to this file (mode 0600; - is stdout) instead of stdout'}),
  ...tableFlags,
}

/**
 * The base of every raiops command. A subclass parses its flags, calls one
 * service from src/lib with `await this.context()`, and returns the result:
 * what run() returns is the `--json` output. This class owns configuration,
 * the lazy control database and fleet connections (torn down in bounded time),
 * output helpers that stay silent under --json, and error → exit-code mapping.
 */
export abstract class BaseCommand<T> extends Command {
  static override enableJsonFlag = true

  /** The permission a caller needs to run the command (enforced before any work); null: anyone (signing in, init). */
  static permission: Permission | null

  /**
   * Flags that need a permission beside the command's (`{reveal: 'rds.secrets'}`),
   * checked as soon as the flags are parsed, when the flag was given; access:explain
   * and access:list read it too.
   */
  static flagPermissions?: Readonly<Record<string, Permission>>

  static override baseFlags = {
    'no-color': Flags.boolean({helpGroup: 'GLOBAL', description: 'disable colours (also NO_COLOR=1)'}),
    'no-input': Flags.boolean({helpGroup: 'GLOBAL', description: 'never prompt; a missing value is an error'}),
    verbose: Flags.boolean({helpGroup: 'GLOBAL', description: 'print stack traces on errors'}),
  }

  protected runtime!: Runtime
  private chalkInstance?: ChalkInstance
  private activeProgress?: Progress

  abstract override run(): Promise<T>

  override async init(): Promise<void> {
    // From the start, Ctrl-C ends the run: at once, or (work under stopSignal()) cleanly.
    this.interrupts.install()
    await super.init()
    const permission = (this.constructor as typeof BaseCommand).permission
    this.runtime = new Runtime({
      env: process.env,
      cwd: process.cwd(),
      commandLine: [this.id ?? '', ...this.argv],
      permission,
      commandId: this.id,
    })
    // A setting the user wrote was not used: said also under --json. It names files and settings a .env held, never values.
    for (const warning of this.runtime.envWarnings) this.warn(warning)
    // The permission is checked before the flags are even parsed: a refused caller learns nothing more.
    await this.runtime.authorize()
  }

  /** The environment with `.env` underneath it; plain process.env before init. */
  private get env(): Record<string, string | undefined> {
    try {
      return this.runtime?.env ?? process.env
    } catch {
      return process.env
    }
  }

  protected get color(): ChalkInstance {
    this.chalkInstance ??= makeChalk({noColorFlag: this.argv.includes('--no-color'), env: this.env, isTTY: Boolean(process.stdout.isTTY)})
    return this.chalkInstance
  }

  /** The service context: control database, keyring, fleet, audit identity. */
  protected context() {
    return this.runtime.context()
  }

  /** The flags, parsed; a flag given that needs a permission the caller lacks is refused (exit 5) before any work. */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv)
    if (parsed.flags.columns !== undefined && this.jsonEnabled())
      throw new UserError('--columns chooses the columns of a table or CSV; it cannot be combined with --json', {hint: 'drop --columns, or --json'})
    for (const [flag, permission] of Object.entries((this.constructor as typeof BaseCommand).flagPermissions ?? {})) {
      const value: unknown = parsed.flags[flag]
      if (value === undefined || value === false || parsed.metadata.flags[flag]?.setFromDefault) continue
      assertPermitted(await this.runtime.identity(), permission, `${this.id} --${flag}`)
    }
    return parsed
  }

  /** Whether prompting is allowed: a TTY on stdin and no --no-input. */
  protected interactive(): boolean {
    return Boolean(process.stdin.isTTY) && !this.argv.includes('--no-input') && !this.jsonEnabled()
  }

  /** Progress on stderr: a spinner on a TTY, nothing under --json, in CI or when piped. */
  protected async progress(text: string): Promise<Progress> {
    this.activeProgress?.stop()
    const spinner = await startSpinner(text, !this.jsonEnabled() && spinnerAllowed(this.env, Boolean(process.stderr.isTTY)))
    // The spinner left running when an error is thrown is failed by catch(), before the error line.
    const done = (end: () => void) => {
      if (this.activeProgress === progress) this.activeProgress = undefined
      end()
    }
    const progress: Progress = {
      update: (t) => spinner.update(t),
      log: (line) => spinner.log(line),
      stop: () => done(() => spinner.stop()),
      succeed: (t) => done(() => spinner.succeed(t)),
      fail: (t) => done(() => spinner.fail(t)),
    }
    this.activeProgress = progress
    return progress
  }

  /**
   * `work` under a progress spinner (see `progress`), stopped when it ends. When
   * it throws, `catch()` marks the spinner failed before the error line, unless
   * `stopOnError` (the error explains itself: the spinner just goes).
   */
  protected async withProgress<R>(text: string, work: (progress: Progress) => Promise<R>, options: {stopOnError?: boolean} = {}): Promise<R> {
    const progress = await this.progress(text)
    try {
      const result = await work(progress)
      progress.stop()
      return result
    } catch (error) {
      if (options.stopOnError) progress.stop()
      throw error
    }
  }

  /** Ctrl-C and SIGTERM: the first ends the run (cleanly, for work under `stopSignal()`), a second at once. */
  private readonly interrupts = new Interrupts(() => {
    this.activeProgress?.stop()
    this.runtime?.discardCreatedControlDb()
  })

  /** The signal that stopped the run, once Ctrl-C or SIGTERM arrived during `stopSignal()` work. */
  protected get interruptedBy(): NodeJS.Signals | undefined {
    return this.interrupts.interruptedBy
  }

  /**
   * An AbortSignal for long work that must stop cleanly: Ctrl-C or SIGTERM aborts
   * it (the work rolls back or commits its current batch and releases its locks),
   * and the command then exits 130 or 143; a second Ctrl-C exits at once.
   * `stopping`, when given, is said on stderr as the work winds down.
   */
  protected stopSignal(stopping?: string): AbortSignal {
    const signal = this.interrupts.stoppable()
    signal.addEventListener(
      'abort',
      () => {
        this.activeProgress?.stop()
        if (stopping) process.stderr.write(`stopping (${this.interruptedBy}): ${stopping}; press Ctrl-C again to quit at once\n`)
      },
      {once: true},
    )
    return signal
  }

  /** After work under `stopSignal()`: the exit code of the signal that stopped it, if one did. */
  protected exitIfInterrupted(): void {
    if (this.interruptedBy) this.exitWith(signalExitCode(this.interruptedBy))
  }

  /** After work under `stopSignal()`: exit 3 when part of it failed, or the code of the signal that stopped it. */
  protected exitAfterStoppableWork(partial: boolean): void {
    if (partial) this.exitWith(ExitCode.partial)
    this.exitIfInterrupted()
  }

  /**
   * Tenants' users' emails as this caller may see them: masked (`j***@example.com`)
   * unless their role grants pii.view. Applied to what is printed and to --json alike.
   */
  protected pii<V>(value: V): V {
    return seesPii(this.runtime.resolvedIdentity?.permissions) ? value : maskEmails(value)
  }

  /** An audit entry as this caller may see it (see `pii`), with its changed fields when it has them (audit:show). */
  protected piiAudit<V extends AuditView & {changes?: AuditChange[]}>(entry: V): V {
    if (seesPii(this.runtime.resolvedIdentity?.permissions)) return entry
    const masked = maskAuditView(entry, maskEmails)
    if (!entry.changes) return masked
    return {
      ...masked,
      changes: entry.changes.map((change) => ({...change, field: maskEmails(change.field), old: maskEmails(change.old), new: maskEmails(change.new)})),
    }
  }

  /** Text for stdout (a result as people read it), silent under --json, whose result stdout carries. */
  protected print(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text)
  }

  /** The warnings of this run, in the order given (see `warn`). */
  private readonly warnings: string[] = []

  /**
   * A warning: something the caller should act on. Said on stderr (also under
   * --json: stdout carries the result) and, under --json, added to an object
   * result as `warnings`, so a script sees it too (as sf-plugins-core does).
   */
  override warn(input: string | Error): string | Error {
    const message = typeof input === 'string' ? input : input.message
    this.warnings.push(message)
    process.stderr.write(`Warning: ${escapeControl(message)}\n`)
    return input
  }

  /** The --json output: what run() returned, with this run's warnings when there were some and the result is an object. */
  protected override toSuccessJson(result: unknown): unknown {
    if (this.warnings.length === 0 || result === null || typeof result !== 'object' || Array.isArray(result)) return result
    return {...result, warnings: [...this.warnings]}
  }

  /** A note for the person at the terminal (stderr), silent under --json. */
  protected note(message: string): void {
    this.logToStderr(message)
  }

  /** Sets the exit code without throwing: the result is still printed. */
  protected exitWith(code: ExitCodeValue | 130 | 143): void {
    process.exitCode = code
  }

  /**
   * How this run's tables are laid out (see `tableFlags`): as wide as the terminal
   * (COLUMNS, else stdout's width when it is one) unless --wide or written to a
   * file; with no terminal and no COLUMNS, unlimited. Times relative to `now`
   * (when the table is rendered by default), or UTC with --utc; only the
   * --columns named (refused under --json as the flags are parsed).
   */
  protected tableLayout(flags: {wide?: boolean; utc?: boolean; output?: string; columns?: string}, now?: Date): TableLayout {
    const toFile = flags.output !== undefined && flags.output !== '-'
    const columns = flags.columns === undefined ? undefined : flags.columns.split(',')
    return {width: flags.wide || toFile ? undefined : terminalWidth(this.env, process.stdout), utc: Boolean(flags.utc), now, columns}
  }

  /**
   * Renders a list in --format (table, json, csv, ndjson) to stdout or --output,
   * a table laid out as `tableLayout` says. Under --json nothing is rendered: the
   * returned rows are the output.
   */
  protected renderList<Row>(
    rows: readonly Row[],
    columns: readonly Column<Row>[],
    flags: {format: ListFormat; output?: string; wide?: boolean; utc?: boolean; columns?: string},
    now?: Date,
  ): void {
    const output = flags.output === '-' ? undefined : flags.output
    if (this.jsonEnabled() && !output) return
    const format = this.jsonEnabled() ? 'json' : flags.format
    const layout = this.tableLayout(flags, now)
    selectColumns(columns, layout.columns) // an unknown column is refused even when there is nothing to show
    const text = rows.length === 0 && format === 'table' ? '' : renderList(rows, columns, format, layout)
    if (output) {
      this.writeOutputFile(output, text)
      this.note(`wrote ${rows.length} row(s) to ${escapeControl(output)}`)
      return
    }
    if (rows.length === 0 && format === 'table') this.note('nothing to show')
    else process.stdout.write(text)
  }

  /**
   * Prints rendered output, or writes it to --output (`-`: stdout); under --json
   * only a file is written (the JSON goes to stdout).
   */
  protected emitOutput(text: string, output: string | undefined, options: {mode?: number} = {}): void {
    if (output && output !== '-') {
      this.writeOutputFile(output, text, options)
      this.note(`wrote ${escapeControl(output)}`)
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text)
    }
  }

  /**
   * Whether `--output` is `-` (standard output), refused under --json, whose
   * result stdout carries. Commands whose --output is required ask before any work.
   */
  protected outputIsStdout(output: string): boolean {
    // `-`, /dev/stdout, /dev/fd/1 or a link to one of them: a second document on stdout beside --json's.
    if (outputTarget(output).kind !== 'stdout') return false
    if (this.jsonEnabled()) throw new UserError(`--output ${output} and --json both write to standard output`, {hint: 'name a file, or drop --json'})
    return true
  }

  /**
   * Writes rendered output to `--output FILE` (mode 0600 unless `mode` says
   * otherwise): a regular file atomically, a device or FIFO (`/dev/stdout`)
   * written through, `-` to stdout; see `outputTarget`.
   */
  protected writeOutputFile(file: string, text: string, options: {mode?: number} = {}): void {
    this.outputIsStdout(file)
    writeOutputText(file, text, options)
  }

  /**
   * `load()` once, shown with `show` (printed, unless --json); or, with
   * `watchMs`, loaded and shown every `watchMs` on the terminal until Ctrl-C
   * (see `watchFrames`), which stops a load in progress too (`load` gets the
   * signal) and exits 130. Either way the last result is returned, the
   * `--json` output.
   */
  protected async showOrWatch<R>(
    watchMs: number | undefined,
    load: (signal?: AbortSignal) => Promise<R>,
    render: (result: R) => string,
    show: (text: string, result: R) => void = (text) => this.print(text),
  ): Promise<R> {
    if (watchMs === undefined) {
      const result = await load()
      show(render(result), result)
      return result
    }
    let last: R | undefined
    await watchFrames({
      intervalMs: watchMs,
      frame: async (signal) => render((last = await load(signal))),
      heading: () => this.color.dim(`every ${watchMs / 1000} s · ${new Date().toISOString()} · Ctrl-C to stop`),
      errorText: (error) => this.errorLine(mapError(this.runtime.storageError(error) ?? error, this.argv)),
      signal: this.stopSignal(),
    })
    process.exitCode = ExitCode.ok
    this.exitIfInterrupted()
    return last as R
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    if (error?.constructor?.name === 'ExitError') throw error
    if (isPromptInterrupt(error)) {
      // Ctrl-C at a prompt: the person meant to stop; nothing to explain.
      this.activeProgress?.stop()
      process.exitCode = 130
      return
    }
    this.activeProgress?.fail()
    const mapped = this.piiError(mapError(this.runtime?.storageError(error) ?? error, this.argv))
    process.exitCode = mapped.exitCode
    if (this.jsonEnabled()) {
      process.stdout.write(
        `${JSON.stringify({error: {code: mapped.code, message: mapped.message, hint: mapped.hint ?? null, exitCode: mapped.exitCode}}, null, 2)}\n`,
      )
    } else {
      process.stderr.write(`${this.errorLine(mapped)}\n`)
    }
    if (this.argv.includes('--verbose') || /(^|,)raiops/.test(this.env.DEBUG ?? '')) {
      // The frames only, under the message as shown above: the raw message may hold what the user typed.
      const frames = (error?.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line))
      process.stderr.write(`${scrubText([`${escapeControl(error?.name ?? 'Error')}: ${escapeControl(mapped.message)}`, ...frames].join('\n'))}\n`)
    }
  }

  /**
   * Whether this command's errors may name a tenant's user (by email): then they
   * are masked as its output is (see `pii`).
   */
  protected errorsNameUsers = false

  private piiError(mapped: MappedError): MappedError {
    if (!this.errorsNameUsers || seesPii(this.runtime?.resolvedIdentity?.permissions)) return mapped
    return {...mapped, message: maskEmail(mapped.message), hint: mapped.hint === undefined ? undefined : maskEmail(mapped.hint)}
  }

  /** An error as one human line: its message and hint come from drivers and from what the user typed, so they are shown escaped. */
  private errorLine(mapped: MappedError): string {
    return `${this.color.red('Error:')} ${escapeControl(mapped.message)}${mapped.hint ? ` — ${escapeControl(mapped.hint)}` : ''}`
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.interrupts.release()
    // A control database file this run created and did not finish setting up (init stopped part-way) is not left behind.
    await this.runtime?.close({discardCreated: error !== undefined})
    await super.finally(error)
  }
}
