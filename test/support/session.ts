import {spawn, type ChildProcess} from 'node:child_process'
import {dirname, join} from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {format} from 'node:util'
import {expect} from 'vitest'

import {CLI_BIN, cliEnv, runCli, type CliOptions, type CliResult} from './cli.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export type Env = Record<string, string | undefined>

/**
 * How a command is run: `spawn` starts bin/run.js in a child process, as a user
 * does; `in-process` runs the same built command (dist/) inside the test's
 * process, for tests where the process boundary is not what is tested. Keep
 * spawning for signals, crashes, exit codes set by bin/run.js, `.env` and the
 * environment as a shell passes it, stdin that is not a simple pipe, start-up,
 * DEBUG output (scrubbed by bin/run.js) and TTY behaviour.
 */
export type Runner = 'spawn' | 'in-process'

/**
 * A user at a terminal with one RAIOPS_HOME: every command's output is kept in
 * `transcript`, so a test can check at the end that no secret ever reached it.
 */
export class CliSession {
  readonly transcript: string[] = []

  constructor(
    public env: Record<string, string>,
    private readonly options: {runner?: Runner; timeoutMs?: number} = {},
  ) {}

  /** Runs `raiops ARGS` with the session's environment (and `options.env` over it). */
  async run(args: string[], options: {input?: string; env?: Env; timeoutMs?: number; cwd?: string} = {}): Promise<CliResult> {
    const run = this.options.runner === 'in-process' ? runInProcess : runCli
    const result = await run(args, {
      env: {...this.env, ...options.env},
      input: options.input,
      cwd: options.cwd,
      timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
    })
    this.transcript.push(result.stdout, result.stderr)
    return result
  }

  /** Fails if any of `secrets` appears in any output of any command run so far. */
  expectNoSecretInTranscript(...secrets: Array<string | undefined>): void {
    const all = this.transcript.join('\n')
    for (const secret of secrets) if (secret !== undefined) expect(all).not.toContain(secret)
  }
}

export interface HomeOptions {
  /** Where RAIOPS_HOME is (the control database is a SQLite file in it unless `env` says otherwise). */
  home: string
  /** The first administrator's password, read from stdin by `init --password-stdin`. */
  password: string
  email?: string
  name?: string
  /** Extra environment for every command (RAIOPS_DATABASE_URL, RAIOPS_CONNECT_TIMEOUT_MS…). */
  env?: Record<string, string>
  runner?: Runner
  timeoutMs?: number
}

/** The environment of a home nothing outside the test decides: no key, no token, no database URL from the developer's shell. */
export function homeEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {RAIOPS_HOME: home, RAIOPS_MASTER_KEY: '', RAIOPS_DATABASE_URL: '', ...extra}
}

/**
 * A session over a fresh home initialised with `raiops init`: its administrator
 * exists and is signed in, so every later command runs as them.
 */
export async function initialisedHome(options: HomeOptions): Promise<CliSession> {
  const session = new CliSession(homeEnv(options.home, options.env), {runner: options.runner, timeoutMs: options.timeoutMs})
  const init = await session.run(['init', '--admin-email', options.email ?? 'ops@example.com', '--admin-name', options.name ?? 'Ops', '--password-stdin'], {
    input: `${options.password}\n`,
  })
  expect(init.code, init.stderr).toBe(0)
  return session
}

/** A command started in the background; its output collected as it comes. */
export interface BackgroundCli {
  child: ChildProcess
  output: {stdout: string; stderr: string}
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>
}

/**
 * Starts `raiops ARGS` in a child process and returns at once, for a test that
 * signals it (SIGINT to a `--follow`, SIGKILL mid-write) or watches its output
 * while it runs. Its stdin is closed.
 */
export function startCli(args: string[], options: {env?: Env} = {}): BackgroundCli {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {cwd: root, env: cliEnv(options.env), stdio: ['ignore', 'pipe', 'pipe']})
  const output = {stdout: '', stderr: ''}
  child.stdout?.on('data', (d) => (output.stdout += d))
  child.stderr?.on('data', (d) => (output.stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  running.add(child)
  void exited.then(() => running.delete(child))
  return {child, output, exited}
}

const running = new Set<ChildProcess>()

/** Kills (SIGKILL) every command `startCli` started that still runs: for an `afterAll`, so a failed test leaves none behind. */
export function killStartedClis(): void {
  for (const child of running) child.kill('SIGKILL')
}

/** Waits until `condition()` holds, polling every `intervalMs` (50); fails naming `what` after `timeoutMs` (20 s). */
export async function waitFor(condition: () => boolean, options: {timeoutMs?: number; what?: string; intervalMs?: number} = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}`)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50))
  }
}

type OclifMain = {run(argv: string[], root: string): Promise<unknown>}
let oclif: Promise<OclifMain> | undefined
let redaction: Promise<{forgetSecrets(): void}> | undefined
let queue: Promise<unknown> = Promise.resolve()

/**
 * Runs a built command in this process and reports it as `runCli` would: what it
 * wrote to stdout and stderr, and the exit code bin/run.js would have exited with.
 * The process's environment, stdin, cwd, output streams and exit code are borrowed
 * for the run and given back, so runs are serialised.
 */
export function runInProcess(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const next = queue.then(() => runOnce(args, options))
  queue = next.catch(() => undefined)
  return next
}

async function runOnce(args: string[], options: CliOptions): Promise<CliResult> {
  oclif ??= import('@oclif/core') as Promise<OclifMain>
  const {run} = await oclif
  // The built CLI's own copy of the redaction module: a spawned CLI starts knowing no secret, and so does each run here.
  redaction ??= import(pathToFileURL(join(root, 'dist', 'src', 'lib', 'redact', 'index.js')).href) as Promise<{forgetSecrets(): void}>
  ;(await redaction).forgetSecrets()
  const started = Date.now()
  let stdout = ''
  let stderr = ''
  const saved = {env: process.env, cwd: process.cwd(), exitCode: process.exitCode, stdin: Object.getOwnPropertyDescriptor(process, 'stdin')}
  const ttys = {
    out: Object.getOwnPropertyDescriptor(process.stdout, 'isTTY'),
    err: Object.getOwnPropertyDescriptor(process.stderr, 'isTTY'),
  }
  const writes = {
    out: process.stdout.write,
    err: process.stderr.write,
    log: console.log,
    error: console.error,
    warn: console.warn,
    info: console.info,
  }
  // The environment the spawned CLI gets.
  const env = cliEnv(options.env)
  const capture =
    (to: 'out' | 'err') =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      if (to === 'out') stdout += text
      else stderr += text
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined
      callback?.()
      return true
    }
  let code: number
  try {
    process.env = env
    if (options.cwd) process.chdir(options.cwd)
    process.exitCode = undefined
    Object.defineProperty(process, 'stdin', {value: Readable.from([Buffer.from(options.input ?? '')]), configurable: true, writable: true})
    process.stdout.write = capture('out') as typeof process.stdout.write
    process.stderr.write = capture('err') as typeof process.stderr.write
    // Captured as the spawned CLI's are piped: not a terminal, even when vitest runs in one.
    for (const stream of [process.stdout, process.stderr]) Object.defineProperty(stream, 'isTTY', {value: false, configurable: true, writable: true})
    // oclif's own output (this.log, --json, help) goes through console.
    console.log = console.info = (...a: unknown[]) => void (stdout += `${format(...a)}\n`)
    console.error = console.warn = (...a: unknown[]) => void (stderr += `${format(...a)}\n`)
    try {
      await run(args, root)
      code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0)
    } catch (error) {
      // What oclif's handle() does with an error a command rethrows (this.exit(), an unknown command): its exit code, its message.
      const e = error as {oclif?: {exit?: number}; message?: string; constructor?: {name?: string}}
      code = e.oclif?.exit ?? 1
      if (e.constructor?.name !== 'ExitError' && e.message) stderr += `${e.message}\n`
    }
  } finally {
    process.stdout.write = writes.out
    process.stderr.write = writes.err
    for (const [stream, tty] of [
      [process.stdout, ttys.out],
      [process.stderr, ttys.err],
    ] as const) {
      if (tty) Object.defineProperty(stream, 'isTTY', tty)
      else delete (stream as {isTTY?: boolean}).isTTY
    }
    Object.assign(console, {log: writes.log, error: writes.error, warn: writes.warn, info: writes.info})
    if (saved.stdin) Object.defineProperty(process, 'stdin', saved.stdin)
    process.env = saved.env
    if (options.cwd) process.chdir(saved.cwd)
    process.exitCode = saved.exitCode
  }
  return {code, stdout, stderr, ms: Date.now() - started}
}
