import {UserError} from '../../errors/index.js'
import {DEFAULT_MRR_POLICIES, type MrrPolicies} from './types.js'

/** The policies with every unset one at its default; a value out of range is a UserError. */
export function resolvePolicies(given: Partial<MrrPolicies> = {}): MrrPolicies {
  const policies: MrrPolicies = {...DEFAULT_MRR_POLICIES}
  for (const [key, value] of Object.entries(given) as [keyof MrrPolicies, unknown][]) {
    if (value !== undefined) (policies as unknown as Record<string, unknown>)[key] = value
  }
  const oneOf = (key: keyof MrrPolicies, options: readonly string[]) => {
    if (!options.includes(String(policies[key]))) {
      throw new UserError(`the billing policy ${key} must be ${options.join(' or ')}, not "${String(policies[key])}"`)
    }
  }
  oneOf('limitedDiscounts', ['ignore', 'apply'])
  oneOf('pause', ['contraction', 'churn'])
  oneOf('churnAt', ['period-end', 'cancellation'])
  const days = (key: 'pastDueDays' | 'mergeMinutes', max: number) => {
    const value = policies[key]
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new UserError(`the billing policy ${key} must be a whole number from 0 to ${max}, not "${String(value)}"`)
    }
  }
  days('pastDueDays', 3650)
  days('mergeMinutes', 1440)
  return policies
}

/** One policy as the report prints it in its header and JSON. */
export interface PolicyLine {
  /** The setting's name, or a fixed rule's (`termNormalisation`, `trials`, …). */
  key: string
  value: string | number
  /** Whether raiops lets you change it. */
  setting: boolean
  text: string
}

/** Every definition the figures rest on, in plain words: the settings with their values and the fixed rules. */
export function describePolicies(policies: MrrPolicies): PolicyLine[] {
  const p = policies
  return [
    {
      key: 'termNormalisation',
      value: 'term / months',
      setting: false,
      text: 'MRR is the price of a term divided by its months (yearly / 12, two-year / 24, three-year / 36), after permanent discounts, net of tax, rounded per tenant to the minor unit, half away from zero; totals are sums of those amounts',
    },
    {
      key: 'limitedDiscounts',
      value: p.limitedDiscounts,
      setting: true,
      text:
        p.limitedDiscounts === 'ignore'
          ? 'a discount with an end date does not reduce MRR (a permanent one does); a discount never takes MRR below 0'
          : 'a discount with an end date reduces MRR until it ends, and its end is an expansion (a permanent one always reduces MRR); a discount never takes MRR below 0',
    },
    {key: 'trials', value: 'excluded', setting: false, text: 'trials count 0; the first paid MRR after a trial is new'},
    {
      key: 'pastDueDays',
      value: p.pastDueDays,
      setting: true,
      text: `a past-due subscription counts for ${p.pastDueDays} days, then it is churn (delinquent churn); paying again later is reactivation`,
    },
    {
      key: 'pause',
      value: p.pause,
      setting: true,
      text:
        p.pause === 'contraction'
          ? 'a pause counts 0: its MRR leaves as contraction and the customer stays one; resuming is expansion; a cancellation while paused is a churned customer with 0 MRR churn'
          : 'a pause counts 0 and is churn; resuming is reactivation',
    },
    {
      key: 'churnAt',
      value: p.churnAt,
      setting: true,
      text:
        p.churnAt === 'period-end'
          ? 'a cancellation is churn at the end of the paid period (at the cancellation when nothing is paid beyond it)'
          : 'a cancellation is churn at the moment of cancellation',
    },
    {
      key: 'mergeMinutes',
      value: p.mergeMinutes,
      setting: true,
      text:
        p.mergeMinutes === 0
          ? 'each change of a tenant is its own movement (changes at the same instant are one)'
          : `changes of one tenant within ${p.mergeMinutes} minutes of its first are one movement, dated at the last of them`,
    },
    {key: 'refunds', value: 'ignored', setting: false, text: 'payments and refunds do not change MRR; MRR comes from subscriptions only'},
    {
      key: 'currencies',
      value: 'never summed',
      setting: false,
      text: 'each currency is reported on its own; a total across currencies exists only after a stated conversion, whose exchange-rate effect is its own line',
    },
  ]
}
