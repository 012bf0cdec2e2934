import type {AlertState} from './types.js'

/**
 * The state machine of one alert instance, pure: where it was, whether its
 * condition holds at this evaluation, and the rule's durations give where it
 * is now and what is worth telling. Times are epoch milliseconds. The engine
 * (./engine.ts) stores what this returns; nothing here reads a clock.
 *
 * ```
 *               active, for = 0 ─────────────────────────────┐
 *               active                   held for `for`      ▼
 *   inactive ──────────────▶ pending ──────────────────▶ firing ◀──┐ active (last_true_at = now)
 *   resolved ◀──┐             │ not active                 │  └─────┘
 *      ▲        │             ▼                            │ not active for keep_firing_for
 *      │        │          inactive (never told)           ▼
 *      │        └──────────────────────────────────── resolved (told, if its firing was)
 *      │
 *   gap (no run for more than twice the interval): pending or firing and not active ──▶ unknown
 *   the next run on time: unknown ─active─▶ firing if it had fired (not told again), else pending
 *                         unknown ─not active─▶ resolved if it had fired (told), else inactive
 * ```
 */
export interface InstanceState {
  state: AlertState
  /** When the condition became true: the start of pending (of this episode). */
  activeAt: number | null
  /** When it started firing (this episode); null if it has not. */
  firedAt: number | null
  /** The last evaluation at which the condition held. */
  lastTrueAt: number | null
  resolvedAt: number | null
}

export interface StepInput {
  /** Where it was; null for an instance never seen (the same as inactive). */
  previous: InstanceState | null
  /** Whether its condition holds at this evaluation. */
  active: boolean
  now: number
  forMs: number
  keepFiringForMs: number
  /** Whether this run follows a gap (no finished run for more than twice the interval). */
  gap: boolean
}

/** What is worth telling about a step: a new firing, a resolution, or nothing. */
export type StepEvent = 'fired' | 'resolved' | null

export interface StepResult {
  next: InstanceState
  /** Whether `next.state` differs from the previous state (a transition is recorded). */
  changed: boolean
  event: StepEvent
  /** A new episode began (from inactive, resolved or never seen): an acknowledgement of the previous one no longer holds. */
  newEpisode: boolean
}

const NOT_SEEN: InstanceState = {state: 'inactive', activeAt: null, firedAt: null, lastTrueAt: null, resolvedAt: null}

/** One evaluation of one instance. */
export function step(input: StepInput): StepResult {
  const previous = input.previous ?? NOT_SEEN
  const next = computeNext(previous, input)
  const newEpisode = input.active && (previous.state === 'inactive' || previous.state === 'resolved')
  let event: StepEvent = null
  if (next.state === 'firing' && previous.state !== 'firing' && !(previous.state === 'unknown' && previous.firedAt !== null)) event = 'fired'
  if (next.state === 'resolved' && previous.state !== 'resolved') event = 'resolved'
  return {next, changed: next.state !== previous.state, event, newEpisode}
}

function computeNext(p: InstanceState, input: StepInput): InstanceState {
  const {active, now, forMs, keepFiringForMs, gap} = input
  switch (p.state) {
    case 'inactive':
    case 'resolved':
      if (!active) return p
      // A new episode: pending, or firing at once without a `for`.
      return forMs <= 0
        ? {state: 'firing', activeAt: now, firedAt: now, lastTrueAt: now, resolvedAt: null}
        : {state: 'pending', activeAt: now, firedAt: null, lastTrueAt: now, resolvedAt: null}
    case 'pending': {
      if (!active) return gap ? {...p, state: 'unknown'} : {...p, state: 'inactive'}
      // Across a gap the condition was not seen holding all along: its `for` starts again.
      const activeAt = gap || p.activeAt === null ? now : p.activeAt
      if (now - activeAt >= forMs) return {...p, state: 'firing', activeAt, firedAt: now, lastTrueAt: now}
      return {...p, activeAt, lastTrueAt: now}
    }
    case 'firing':
      if (active) return {...p, lastTrueAt: now}
      if (gap) return {...p, state: 'unknown'}
      if (p.lastTrueAt !== null && now - p.lastTrueAt < keepFiringForMs) return p
      return {...p, state: 'resolved', resolvedAt: now}
    case 'unknown':
      if (p.firedAt !== null) {
        if (active) return {...p, state: 'firing', lastTrueAt: now}
        return gap ? p : {...p, state: 'resolved', resolvedAt: now}
      }
      if (active) {
        // Its `for` starts again: the condition was not seen holding across the gap.
        return forMs <= 0 ? {...p, state: 'firing', activeAt: now, firedAt: now, lastTrueAt: now} : {...p, state: 'pending', activeAt: now, lastTrueAt: now}
      }
      return gap ? p : {...p, state: 'inactive'}
  }
}
