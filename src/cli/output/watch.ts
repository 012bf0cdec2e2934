import {aborted} from './interrupt.js'

/** What a watch shows and how it words a frame's heading and a later frame's error. */
export interface WatchOptions {
  intervalMs: number
  /** One frame's text; `signal` aborts when the watch is stopped, so a frame in progress (a probe of a silent server) stops too. */
  frame: (signal: AbortSignal) => Promise<string>
  heading: () => string
  errorText: (error: unknown) => string
  /** Aborted by Ctrl-C or SIGTERM: the watch ends at once, even in the middle of a frame. */
  signal: AbortSignal
}

/**
 * Shows `frame()` every `intervalMs` until `signal` aborts (Ctrl-C). On a terminal
 * each frame replaces the last on the alternate screen, and on exit the
 * terminal is restored with the last frame left on it; piped, frames are
 * appended with a heading line between them. An error in a later frame is
 * shown in its place and the watch goes on; the first frame's error ends it.
 */
export async function watchFrames({intervalMs, frame, heading, errorText, signal}: WatchOptions): Promise<void> {
  const tty = Boolean(process.stdout.isTTY)
  const stopped = aborted(signal).then(() => null)
  let last: string | null = null
  let screen = false
  try {
    for (let round = 0; !signal.aborted; round++) {
      let text: string | null
      try {
        text = await Promise.race([frame(signal), stopped])
      } catch (error) {
        if (signal.aborted) break
        if (round === 0) throw error
        text = `${errorText(error)}\n`
      }
      if (text === null) break
      last = text
      if (tty) {
        if (!screen) process.stdout.write('\u001B[?1049h\u001B[?25l')
        screen = true
        process.stdout.write(`\u001B[H\u001B[2J${heading()}\n\n${text}`)
      } else {
        process.stdout.write(`${round > 0 ? '\n' : ''}${heading()}\n${text}`)
      }
      let timer: NodeJS.Timeout | undefined
      const slept = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), intervalMs)
      })
      const awake = await Promise.race([slept, stopped])
      clearTimeout(timer)
      if (awake === null) break
    }
  } finally {
    if (screen) process.stdout.write(`\u001B[?25h\u001B[?1049l${last ?? ''}`)
  }
}
