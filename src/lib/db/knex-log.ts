import type {Knex} from 'knex'

/** A knex logger that keeps knex's warnings off the console, handing them to `onWarning` if given. */
export function quietLog(onWarning: ((message: string) => void) | undefined): Knex.Logger {
  const forward = (message: unknown) => {
    if (onWarning) onWarning(String(message instanceof Error ? message.message : message).split('\n')[0])
  }
  return {warn: forward, error: forward, debug: () => {}, deprecate: () => {}}
}
