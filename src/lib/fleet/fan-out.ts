import {describeDriverError} from '../db/driver-errors.js'
import {DeadlineError, withDeadline} from '../deadline.js'
import {UserError} from '../errors/index.js'

/** The reason an item's signal is aborted with when its deadline passes. */

export type FanOutResult<I, T> =
  | {item: I; ok: true; value: T; ms: number}
  | {
      item: I
      ok: false
      /** One line naming the cause (describeDriverError), never a secret. */
      error: string
      /** True when the item's deadline passed: its work was abandoned and its signal aborted. */
      timedOut: boolean
      ms: number
    }

export interface FanOutOptions<I, T> {
  /** How many items run at once (≥ 1). A slot is freed when its item settles or its deadline passes. */
  concurrency: number
  /** Per-item limit in ms, counted from the moment the item starts. */
  deadlineMs: number
  /** Called as each item settles (progress display). Must not throw; what it throws is ignored. */
  onResult?: (result: FanOutResult<I, T>, index: number) => void
  /** Stops the whole run (Ctrl-C): work in progress is abandoned (its signal aborted), nothing more starts, and the reason is thrown. */
  signal?: AbortSignal
}

/**
 * Runs `fn` over `items` with bounded concurrency and a per-item deadline.
 * One slow or dead server costs at most its deadline and never blocks the
 * others; failures are reported in the results (in input order), never thrown.
 * `fn` should stop its work when `signal` aborts; if it does not, its promise
 * is abandoned (its outcome ignored) all the same.
 */
export async function fanOut<I, T>(
  items: readonly I[],
  fn: (item: I, signal: AbortSignal) => Promise<T>,
  options: FanOutOptions<I, T>,
): Promise<Array<FanOutResult<I, T>>> {
  const {concurrency, deadlineMs, onResult, signal} = options
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UserError(`concurrency must be a whole number of at least 1, not ${String(concurrency)}`)
  }
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) {
    throw new UserError(`the deadline must be a positive number of milliseconds, not ${String(deadlineMs)}`)
  }
  const results = new Array<FanOutResult<I, T>>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length && !signal?.aborted) {
      const index = next++
      const result = await runOne(items[index], fn, deadlineMs, signal)
      if (signal?.aborted) return
      results[index] = result
      if (onResult) {
        try {
          onResult(result, index)
        } catch {
          // progress display only
        }
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(concurrency, items.length)}, worker))
  // Stopped from outside: the run did not finish, and its partial results are not a report.
  signal?.throwIfAborted()
  return results
}

async function runOne<I, T>(
  item: I,
  fn: (item: I, signal: AbortSignal) => Promise<T>,
  deadlineMs: number,
  stop: AbortSignal | undefined,
): Promise<FanOutResult<I, T>> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  return withDeadline<FanOutResult<I, T>>(
    async (signal) => {
      try {
        const value = await fn(item, signal)
        return {item, ok: true, value, ms: elapsed()}
      } catch (error) {
        return {item, ok: false, error: describeDriverError(error), timedOut: false, ms: elapsed()}
      }
    },
    {
      deadlineMs,
      onDeadline: () => ({item, ok: false, error: new DeadlineError(deadlineMs).message, timedOut: true, ms: elapsed()}),
      signal: stop,
      onAbort: () => ({item, ok: false, error: 'stopped', timedOut: false, ms: elapsed()}),
    },
  )
}

export interface Shard {
  /** K in `--shard K/N`, 1-based. */
  index: number
  /** N in `--shard K/N`. */
  count: number
}

/** Parses `--shard K/N` (1 ≤ K ≤ N): the K-th of N cron workers sharing the fleet. */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  if (!match) {
    throw new UserError(`invalid shard "${text}": expected K/N, e.g. 1/4`, {hint: 'K is this worker (1…N), N the number of workers'})
  }
  const index = Number(match[1])
  const count = Number(match[2])
  if (!Number.isSafeInteger(count) || count < 1) throw new UserError(`invalid shard "${text}": N must be at least 1`)
  if (!Number.isSafeInteger(index) || index < 1 || index > count) {
    throw new UserError(`invalid shard "${text}": K must be between 1 and ${count}`)
  }
  return {index, count}
}

/**
 * Whether the RDS with this id belongs to the shard: ids are dealt round-robin
 * by id modulo N, so ids 1…N land on shards 1…N ((id − 1) mod N = K − 1).
 * Every id is in exactly one of the N shards.
 */
export function inShard(id: number, shard: Shard): boolean {
  const slot = (((id - 1) % shard.count) + shard.count) % shard.count
  return slot === shard.index - 1
}
