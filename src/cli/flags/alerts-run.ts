import {Flags} from '@oclif/core'

import {DEFAULT_INTERVAL_MS} from '../../lib/alerts/types.js'
import {parseDuration} from '../../lib/time/duration.js'
import {FAIL_ON} from '../reporters/alerts-run.js'

/** alerts:run's flags. */
export const alertsRunFlags = {
  'fail-on': Flags.option({options: FAIL_ON, description: 'exit 4 when an unmuted alert fires: any (firing), or at critical, or at warning or above'})(),
  interval: Flags.custom<number>({
    description: 'how often cron runs this (e.g. 5m): a run more than twice this after the previous one follows a gap',
    default: async () => DEFAULT_INTERVAL_MS,
    defaultHelp: async () => '5m',
    parse: async (input) => parseDuration(input, '--interval'),
  })(),
}
