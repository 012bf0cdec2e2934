/** The reason a piece of work's signal is aborted with when its deadline passes. */
export class DeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`timed out after ${deadlineMs} ms`)
    this.name = 'DeadlineError'
  }
}

export interface DeadlineOptions<T> {
  /** The work's limit in ms, counted from the call. */
  deadlineMs: number
  /** The outcome when the deadline passes first (evaluated then, so it may read the time or the work's progress). */
  onDeadline: () => T
  /** A reason to stop from outside (a fan-out's deadline, Ctrl-C). Already aborted: the outcome is onAbort's at once. */
  signal?: AbortSignal
  /** The outcome when `signal` aborts first. */
  onAbort?: (reason: unknown) => T
}

/**
 * Runs `work` against a deadline and an outside signal: the outcome is the
 * work's, or onDeadline's / onAbort's as soon as either comes first, whatever
 * the work is doing. The work's own signal aborts then (with a DeadlineError at
 * the deadline) so it can stop; if it does not, it is abandoned all the same,
 * its outcome ignored. A work that throws must turn its error into an outcome
 * itself: what it throws is thrown here.
 */
export function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, options: DeadlineOptions<T>): Promise<T> {
  const {deadlineMs, onDeadline, signal, onAbort} = options
  const controller = new AbortController()
  return new Promise<T>((resolve, reject) => {
    let settled = false
    const stop = (outcome: () => T, reason: unknown): void => {
      if (settled) return
      settled = true
      cleanUp()
      try {
        resolve(outcome())
      } catch (error) {
        reject(error)
      }
      controller.abort(reason)
    }
    const timer = setTimeout(() => stop(onDeadline, new DeadlineError(deadlineMs)), deadlineMs)
    const abort = (): void => stop(() => (onAbort ? onAbort(signal?.reason) : onDeadline()), signal?.reason)
    const cleanUp = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', abort)
    }
    if (signal?.aborted) abort()
    else signal?.addEventListener('abort', abort, {once: true})

    let running: Promise<T>
    try {
      running = Promise.resolve(work(controller.signal))
    } catch (error) {
      running = Promise.reject(error)
    }
    running.then(
      (value) => {
        cleanUp()
        if (settled) return
        settled = true
        resolve(value)
      },
      (error: unknown) => {
        cleanUp()
        if (settled) return
        settled = true
        reject(error)
      },
    )
  })
}
