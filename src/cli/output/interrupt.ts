/** Ctrl-C or SIGTERM as a way to end a command cleanly (see `untilStopped`). */
export interface Stop {
  /** Resolves with the first SIGINT or SIGTERM. */
  stopped: Promise<NodeJS.Signals>
  /** Aborted by the first SIGINT or SIGTERM. */
  signal: AbortSignal
  /** Removes the listeners: a later Ctrl-C ends the process as usual. */
  release(): void
}

/**
 * Listens for Ctrl-C and SIGTERM until `release()`, for a command that runs
 * until stopped (a watch, a follow, a server) and then ends cleanly. The
 * listeners stay in place after the first signal: one still there keeps
 * signal-exit (loaded by the spinner) from re-raising it mid-cleanup.
 */
export function untilStopped(): Stop {
  const controller = new AbortController()
  let resolve!: (signal: NodeJS.Signals) => void
  const stopped = new Promise<NodeJS.Signals>((done) => {
    resolve = done
  })
  const onSignal = (received: NodeJS.Signals) => {
    resolve(received)
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    stopped,
    signal: controller.signal,
    release() {
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    },
  }
}

/** `work` with a signal that Ctrl-C or SIGTERM aborts (see `untilStopped`), the listeners removed when it ends. */
export async function runUntilStopped<R>(work: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const stop = untilStopped()
  try {
    return await work(stop.signal)
  } finally {
    stop.release()
  }
}

/** Serves until Ctrl-C or SIGTERM, then lets the requests in flight finish and closes, saying so on stderr. */
export async function closeWhenStopped(server: {close(): Promise<void>}): Promise<void> {
  const stop = untilStopped()
  const signal = await stop.stopped
  stop.release()
  process.stderr.write(`${signal}: finishing the requests in flight\n`)
  await server.close()
  process.stderr.write('stopped\n')
}
