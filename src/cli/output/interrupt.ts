/** The exit code of a command ended by `signal`: 130 for Ctrl-C, 143 for SIGTERM. */
export function signalExitCode(signal: NodeJS.Signals): 130 | 143 {
  return signal === 'SIGINT' ? 130 : 143
}

/**
 * Ctrl-C and SIGTERM for one command run. Work that can stop cleanly (a sync,
 * a watch, a follow, a server) asks for `stoppable()`: the first signal aborts
 * it and the command ends on its own. Any other command, or a second signal,
 * ends the process at once with 130 (143 for SIGTERM), after `beforeExit`
 * (which stops a spinner and gives the terminal back).
 */
export class Interrupts {
  /** The signal that arrived first, if one did. */
  interruptedBy?: NodeJS.Signals
  private controller?: AbortController
  private installed = false

  constructor(private readonly beforeExit: () => void = () => undefined) {}

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.interruptedBy || !this.controller) {
      this.beforeExit()
      process.exit(signalExitCode(this.interruptedBy ?? signal))
    }
    this.interruptedBy = signal
    this.controller.abort(new Error(`stopped by ${signal}`))
  }

  install(): void {
    if (this.installed) return
    this.installed = true
    process.on('SIGINT', this.onSignal)
    process.on('SIGTERM', this.onSignal)
  }

  /** Removes the listeners: a later Ctrl-C ends the process as usual. */
  release(): void {
    this.installed = false
    process.removeListener('SIGINT', this.onSignal)
    process.removeListener('SIGTERM', this.onSignal)
  }

  /** A signal the first Ctrl-C or SIGTERM aborts instead of ending the process (one per run, shared). */
  stoppable(): AbortSignal {
    this.install()
    this.controller ??= new AbortController()
    return this.controller.signal
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), {once: true})
  })
}

/** Serves until `stop` aborts (Ctrl-C or SIGTERM), then lets the requests in flight finish and closes, saying so on stderr. */
export async function closeWhenStopped(server: {close(): Promise<void>}, stop: AbortSignal, interruptedBy: () => NodeJS.Signals | undefined): Promise<void> {
  await aborted(stop)
  process.stderr.write(`${interruptedBy() ?? 'stopped'}: finishing the requests in flight\n`)
  await server.close()
  process.stderr.write('stopped\n')
}
