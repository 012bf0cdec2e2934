import {spawn} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {CLI_BIN, cliEnv} from './cli.js'
import type {Env} from './session.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * Runs argv[1:] on a new pseudo-terminal of ROWS x COLUMNS: what arrives on this
 * process's stdin is typed at it (Ctrl-C as \x03 becomes SIGINT, as at a real
 * terminal), what it shows comes out on stdout, and its exit status is the last
 * line on stderr ("[exit N]", N negative for a signal).
 */
const PTY_DRIVER = `
import fcntl, os, pty, select, struct, sys, termios
rows, cols = int(os.environ['PTY_ROWS']), int(os.environ['PTY_COLS'])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
stdin_open = True
pty_open = True
status = None
while pty_open or status is None:
    watched = ([fd] if pty_open else []) + ([0] if stdin_open else [])
    ready, _, _ = select.select(watched, [], [], 0.05)
    if 0 in ready:
        data = os.read(0, 4096)
        if data and pty_open: os.write(fd, data)
        elif not data: stdin_open = False
    if fd in ready:
        try: data = os.read(fd, 65536)
        except OSError: data = b''
        if data: os.write(1, data)
        else: pty_open = False
    if status is None:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done: status = os.waitstatus_to_exitcode(st)
sys.stderr.write('[exit %d]\\n' % status)
`

/** A command at a terminal: what it has shown so far, keys typed at it, its end. */
export interface TerminalSession {
  /** Everything shown so far, with the terminal's control sequences. */
  readonly raw: string
  /** What was shown, control sequences removed (what a person reads, roughly). */
  text(): string
  /** Types `keys` (\r is Enter, \x03 is Ctrl-C). */
  type(keys: string): void
  /** Waits until `pattern` appears in the text shown after character `from` (default: anywhere); fails after `timeoutMs`. */
  waitFor(pattern: RegExp, options?: {timeoutMs?: number; from?: number}): Promise<void>
  /** The exit code (negative: killed by that signal); the pseudo-terminal is closed by then. */
  exited: Promise<number>
  kill(): void
}

/** Strips colour, cursor and screen control sequences. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;?]*[A-Za-z]|\u001B\][^\u0007]*\u0007|\r/g, '')
}

/** Starts `raiops ARGS` on a pseudo-terminal (python3's pty), `columns` wide. */
export function startTerminal(args: string[], options: {env?: Env; columns?: number; rows?: number} = {}): TerminalSession {
  const env: Record<string, string> = {
    ...cliEnv({TERM: 'xterm', ...options.env}),
    PTY_ROWS: String(options.rows ?? 24),
    PTY_COLS: String(options.columns ?? 80),
  }
  // A terminal, not CI: spinners and prompts behave as a person sees them.
  delete env.CI
  const child = spawn('python3', ['-c', PTY_DRIVER, process.execPath, CLI_BIN, ...args], {cwd: root, env, stdio: ['pipe', 'pipe', 'pipe']})
  let raw = ''
  let driverErr = ''
  child.stdout.on('data', (d) => (raw += d))
  child.stderr.on('data', (d) => (driverErr += d))
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', () => {
      const match = /\[exit (-?\d+)\]\s*$/.exec(driverErr)
      if (match) resolve(Number(match[1]))
      else reject(new Error(`the pseudo-terminal driver failed: ${driverErr}`))
    })
  })
  return {
    get raw() {
      return raw
    },
    text: () => plain(raw),
    type: (keys) => void child.stdin.write(keys),
    async waitFor(pattern, {timeoutMs = 15_000, from = 0} = {}) {
      const started = Date.now()
      while (!pattern.test(plain(raw).slice(from))) {
        if (child.exitCode !== null || Date.now() - started > timeoutMs)
          throw new Error(
            `waited for ${pattern} ${child.exitCode === null ? `for ${timeoutMs} ms` : 'but the command ended'}; the terminal shows:\n${plain(raw).slice(-2000)}`,
          )
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    },
    exited,
    kill: () => void child.kill('SIGKILL'),
  }
}
