import {describe, expect, it} from 'vitest'

import {step, type InstanceState, type StepEvent} from '../../src/lib/alerts/state.js'
import type {AlertState} from '../../src/lib/alerts/types.js'

const MIN = 60_000

/** One evaluation: at minute `at`, whether the condition holds, and whether the run follows a gap. */
interface Eval {
  at: number
  active: boolean
  gap?: boolean
}

interface Case {
  name: string
  forMin: number
  keepMin?: number
  evals: Eval[]
  /** The state after each evaluation, and what is told (f: fired, r: resolved, -: nothing). */
  states: AlertState[]
  events: string
}

function run(c: Case): {states: AlertState[]; events: string; last: InstanceState | null} {
  let state: InstanceState | null = null
  const states: AlertState[] = []
  let events = ''
  for (const e of c.evals) {
    const result = step({
      previous: state,
      active: e.active,
      now: e.at * MIN,
      forMs: c.forMin * MIN,
      keepFiringForMs: (c.keepMin ?? 0) * MIN,
      gap: e.gap ?? false,
    })
    state = result.next
    states.push(state.state)
    events += eventChar(result.event)
  }
  return {states, events, last: state}
}

const eventChar = (e: StepEvent): string => (e === 'fired' ? 'f' : e === 'resolved' ? 'r' : '-')
const evals = (spec: string, every = 5): Eval[] =>
  // `1` active, `0` not, `G1`/`G0` the same after a gap (the clock jumps 30 minutes first).
  spec.split(' ').reduce<{at: number; list: Eval[]}>(
    (acc, token) => {
      const gap = token.startsWith('G')
      const at = acc.at + (gap ? 30 : every)
      return {at, list: [...acc.list, {at, active: token.endsWith('1'), gap}]}
    },
    {at: 0, list: []},
  ).list

const CASES: Case[] = [
  {
    name: 'for 10m: pending until it held 10 minutes, then firing',
    forMin: 10,
    evals: evals('1 1 1 1'),
    states: ['pending', 'pending', 'firing', 'firing'],
    events: '--f-',
  },
  {name: 'for 0: firing at once', forMin: 0, evals: evals('1 1 0'), states: ['firing', 'firing', 'resolved'], events: 'f-r'},
  {name: 'pending that clears goes inactive, never told', forMin: 10, evals: evals('1 0 0'), states: ['pending', 'inactive', 'inactive'], events: '---'},
  {
    name: 'resolved, then true again: pending again, and fires again',
    forMin: 5,
    evals: evals('1 1 0 1 1'),
    states: ['pending', 'firing', 'resolved', 'pending', 'firing'],
    events: '-fr-f',
  },
  {
    name: 'keep_firing_for 10m: stays firing while the condition was last true less than 10 minutes ago',
    forMin: 0,
    keepMin: 10,
    evals: evals('1 0 0 0'),
    states: ['firing', 'firing', 'resolved', 'resolved'],
    events: 'f-r-',
  },
  {
    name: 'keep_firing_for: true again within it, no new firing',
    forMin: 0,
    keepMin: 10,
    evals: evals('1 0 1 0 0 0'),
    states: ['firing', 'firing', 'firing', 'firing', 'resolved', 'resolved'],
    events: 'f---r-',
  },
  {name: 'a gap: firing not seen active becomes unknown, never resolved', forMin: 0, evals: evals('1 G0'), states: ['firing', 'unknown'], events: 'f-'},
  {
    name: 'after the gap, on time and still not active: resolved (told)',
    forMin: 0,
    evals: evals('1 G0 0'),
    states: ['firing', 'unknown', 'resolved'],
    events: 'f-r',
  },
  {
    name: 'after the gap, on time and active: firing again without a new firing',
    forMin: 0,
    evals: evals('1 G0 1'),
    states: ['firing', 'unknown', 'firing'],
    events: 'f--',
  },
  {name: 'a gap while firing and active: stays firing', forMin: 5, evals: evals('1 1 G1'), states: ['pending', 'firing', 'firing'], events: '-f-'},
  {
    name: 'a gap while pending and active: its for starts again',
    forMin: 10,
    evals: evals('1 G1 1 1'),
    states: ['pending', 'pending', 'pending', 'firing'],
    events: '---f',
  },
  {
    name: 'a gap while pending and not active: unknown, then inactive on time',
    forMin: 10,
    evals: evals('1 G0 0'),
    states: ['pending', 'unknown', 'inactive'],
    events: '---',
  },
  {
    name: 'unknown pending, active on time: pending again',
    forMin: 10,
    evals: evals('1 G0 1 1 1'),
    states: ['pending', 'unknown', 'pending', 'pending', 'firing'],
    events: '----f',
  },
  {name: 'two gaps in a row: still unknown', forMin: 0, evals: evals('1 G0 G0 0'), states: ['firing', 'unknown', 'unknown', 'resolved'], events: 'f--r'},
  {name: 'never active: nothing happens', forMin: 5, evals: evals('0 0 G0 0'), states: ['inactive', 'inactive', 'inactive', 'inactive'], events: '----'},
]

describe('the alert state machine', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const {states, events} = run(c)
      expect(states).toEqual(c.states)
      expect(events).toEqual(c.events)
    })
  }

  it('records when it became active, fired, was last true and resolved', () => {
    const {last} = run({name: '', forMin: 5, keepMin: 0, evals: evals('1 1 1 0'), states: [], events: ''})
    expect(last).toEqual({state: 'resolved', activeAt: 5 * MIN, firedAt: 10 * MIN, lastTrueAt: 15 * MIN, resolvedAt: 20 * MIN})
  })

  it('a new episode after resolved starts afresh and says so (an acknowledgement no longer holds)', () => {
    const resolved: InstanceState = {state: 'resolved', activeAt: 0, firedAt: MIN, lastTrueAt: MIN, resolvedAt: 2 * MIN}
    const result = step({previous: resolved, active: true, now: 10 * MIN, forMs: 5 * MIN, keepFiringForMs: 0, gap: false})
    expect(result).toEqual({
      next: {state: 'pending', activeAt: 10 * MIN, firedAt: null, lastTrueAt: 10 * MIN, resolvedAt: null},
      changed: true,
      event: null,
      newEpisode: true,
    })
  })
})
