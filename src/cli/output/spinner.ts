import {escapeControl} from '../../lib/text/escape.js'

/**
 * Progress on a terminal. The texts are plain (never coloured) and may name RDS
 * and tenants, so the spinner shows them escaped; `log` takes a line its
 * presenter has already escaped and coloured.
 */
export interface Progress {
  update(text: string): void
  /** A line above the spinner (a finished step), the spinner kept below it. */
  log(line: string): void
  succeed(text?: string): void
  fail(text?: string): void
  stop(): void
}

const silent: Progress = {update() {}, log() {}, succeed() {}, fail() {}, stop() {}}

/**
 * Whether a spinner may run: stderr a terminal, not CI, not a dumb terminal, and
 * a width known. A terminal that says it has 0 columns (script(1), some `docker
 * exec -t`) sends ora into an endless redraw, so it gets no spinner.
 */
export function spinnerAllowed(env: Record<string, string | undefined>, stderrIsTTY: boolean, columns: number | undefined = process.stderr.columns): boolean {
  return stderrIsTTY && !env.CI && env.TERM !== 'dumb' && (columns ?? 0) > 0
}

/** An ora spinner on stderr when allowed; otherwise a no-op, so callers never branch. */
export async function startSpinner(text: string, enabled: boolean): Promise<Progress> {
  if (!enabled) return silent
  const {default: ora} = await import('ora')
  // discardStdin would put a terminal in raw mode without reading it: Ctrl-C would be a byte nobody reads, not a SIGINT.
  const spinner = ora({text: escapeControl(text), stream: process.stderr, discardStdin: false}).start()
  return {
    update: (t) => void (spinner.text = escapeControl(t)),
    log: (line) => {
      spinner.clear()
      process.stderr.write(`${line}\n`)
      spinner.render()
    },
    succeed: (t) => void spinner.succeed(t === undefined ? t : escapeControl(t)),
    fail: (t) => void spinner.fail(t === undefined ? t : escapeControl(t)),
    stop: () => void spinner.stop(),
  }
}
