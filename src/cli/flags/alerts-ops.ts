import {Args, Flags} from '@oclif/core'

import {SEVERITIES} from '../../lib/alerts/types.js'

/** An alert's id (alerts:ack): checked by the service, a positive number, else exit 2. */
export const alertArg = Args.string({name: 'ID', description: 'alert id (see alerts:list)', required: true})
/** A silence's id (alerts:unsilence). */
export const silenceArg = Args.string({name: 'ID', description: 'silence id (see alerts:silences)', required: true})

const matcher = (what: string) =>
  Flags.string({
    description: `${what}: name=value, name!=value, name=~regex or name!~regex (repeatable; every one must match)`,
    multiple: true,
  })

export const alertListFlags = {
  all: Flags.boolean({description: 'also the alerts resolved or gone inactive since --since'}),
  since: Flags.string({description: 'with --all: an ISO time or a duration back from now (default 24h)', dependsOn: ['all']}),
  rule: Flags.string({description: 'only the alerts of this rule (by name)'}),
  severity: Flags.option({options: SEVERITIES, description: 'only alerts of this severity'})(),
  matcher: matcher('only alerts whose labels match'),
  limit: Flags.integer({description: 'at most this many alerts', default: 500, min: 1, max: 100_000}),
}

export const alertHistoryFlags = {
  rule: Flags.string({description: 'only the changes of this rule (by name)'}),
  matcher: matcher('only changes of alerts whose labels match'),
  since: Flags.string({description: 'only changes since: an ISO time or a duration back from now (24h, 7d)'}),
  limit: Flags.integer({description: 'at most this many changes, newest first', default: 100, min: 1, max: 100_000}),
}

export const silenceFlags = {
  matcher: matcher('silence the alerts whose labels match'),
  reason: Flags.string({description: 'why (one line, shown with the silence and audited)', required: true}),
  for: Flags.string({description: 'how long from now: a duration such as 2h or 90m (at most 30d)', exclusive: ['until']}),
  until: Flags.string({description: 'until this time: ISO 8601 such as 2026-12-01T18:00:00Z (at most 30 days ahead)', exclusive: ['for']}),
}

export const silenceListFlags = {
  all: Flags.boolean({description: 'every silence, ended or lifted ones too, newest first'}),
  limit: Flags.integer({description: 'at most this many silences', default: 100, min: 1, max: 10_000}),
}
