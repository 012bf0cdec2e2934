import {Flags} from '@oclif/core'

import {parseDuration} from '../../lib/time/duration.js'
import {parseTimeFlag} from '../../lib/time/parse-time.js'
import type {TokenExpiry} from '../../lib/token/tokens.js'

/** token:create's flags. */
export const tokenCreateFlags = {
  name: Flags.string({description: 'a name for the token (lower case, digits, . _ -)', required: true}),
  role: Flags.string({description: 'the role it acts with', required: true}),
  // A duration counts from the moment the token is created, so it is handed on as one.
  expires: Flags.custom<TokenExpiry>({
    description: 'when it expires: a duration from now (90d) or a date (2027-01-01); "never" for no expiry',
    required: true,
    parse: async (input) =>
      input === 'never'
        ? {expiresAt: null}
        : /^\d{4}-/.test(input)
          ? {expiresAt: parseTimeFlag(input, '--expires')}
          : {expiresInMs: parseDuration(input, '--expires')},
  })(),
}
