import {Args, Flags} from '@oclif/core'

import type {RuleChanges} from '../../lib/alerts/rules.js'
import {ERROR_POLICIES, NO_DATA_POLICIES, SEVERITIES} from '../../lib/alerts/types.js'
import {UserError} from '../../lib/errors/index.js'

export const ruleNameArg = Args.string({name: 'NAME', description: 'the rule name (see alerts:rules:list)', required: true})

/** What a rule is made of, as create and edit take it. */
export const ruleFlags = {
  param: Flags.string({
    char: 'p',
    multiple: true,
    description: "a parameter of the rule's kind, key=value (repeatable; alerts:rules:kinds lists them); on edit, key= puts it back to its default",
  }),
  for: Flags.string({description: 'how long the condition must hold before the alert fires: 0 (at once) or a duration such as 5m'}),
  'keep-firing-for': Flags.string({description: 'how long an alert keeps firing after its condition clears (against flapping): 0 or a duration such as 10m'}),
  severity: Flags.option({options: SEVERITIES, description: 'how bad it is; subscriptions choose by it'})(),
  label: Flags.string({multiple: true, description: "a label added to the rule's alerts, name=value (repeatable); on edit, name= removes it"}),
  'no-data': Flags.option({
    options: NO_DATA_POLICIES,
    description: 'when there is nothing to look at (no RDS yet): alert (nodata), nothing (ok) or keep the states (keep-last)',
  })(),
  'on-error': Flags.option({options: ERROR_POLICIES, description: 'when the evaluation fails: alert (error), nothing (ok) or keep the states (keep-last)'})(),
  description: Flags.string({description: 'what the rule is for, shown in notifications'}),
}

/** `key=value` pairs of a repeatable flag; a pair without `=` is a UserError naming the flag. */
export function keyValues(pairs: readonly string[] | undefined, flag: string): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UserError(`${flag} must be key=value, not "${pair}"`, {hint: `for example ${flag} ${flag === '--label' ? 'team=ops' : 'maxAge=2h'}`})
    out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim()
  }
  return out
}

/** The rule flags as the services take them: only what was given. */
export function ruleChanges(flags: {
  param?: string[]
  for?: string
  'keep-firing-for'?: string
  severity?: string
  label?: string[]
  'no-data'?: string
  'on-error'?: string
  description?: string
}): RuleChanges {
  return {
    params: keyValues(flags.param, '--param'),
    for: flags.for,
    keepFiringFor: flags['keep-firing-for'],
    severity: flags.severity,
    labels: keyValues(flags.label, '--label'),
    noData: flags['no-data'],
    onError: flags['on-error'],
    description: flags.description,
  }
}
