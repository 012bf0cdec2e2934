import {z} from 'zod'

import {defineRuleKind} from '../kind.js'
import {describeAge, durationMs, durationParam} from './params.js'

/**
 * The engine's own heartbeat: the run before this one evaluated more than
 * maxGap ago (cron stopped, or runs kept failing), raised by the first run
 * after the gap. The very first run (no run before it) is not late. Reads
 * nothing: the engine hands over when the previous run evaluated.
 */
export const engineHeartbeat = defineRuleKind({
  kind: 'engine_heartbeat',
  description: 'no alert evaluation for longer than maxGap before this run (cron stopped or alerts:run kept failing)',
  labelNames: [],
  params: z.object({maxGap: durationParam('maxGap', '15m', 'the longest time between two evaluations')}).strict(),
  async evaluate(_ctx, params, at) {
    if (at.previousRunAt === null) return {noData: false, active: []}
    const gapMs = at.now.getTime() - at.previousRunAt.getTime()
    if (gapMs <= durationMs(params.maxGap, 'maxGap')) return {noData: false, active: []}
    return {
      noData: false,
      active: [
        {
          labels: {},
          summary: `no alert evaluation for ${describeAge(gapMs)} before this run (the previous one evaluated at ${at.previousRunAt.toISOString()}); is cron running alerts:run?`,
          value: Math.round(gapMs / 1000),
        },
      ],
    }
  },
})
