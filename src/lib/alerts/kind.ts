import type {z} from 'zod'

import type {OpsContext} from '../context.js'
import type {Labels} from './types.js'

/**
 * What a kind's evaluation reads with: the control database (and the configured
 * billing grace days, so that the billing kinds agree with `billing:alerts`),
 * with the evaluation time (never the wall clock).
 */
export type EvaluationContext = Pick<OpsContext, 'db' | 'billingGraceDays'>

export interface EvaluationTime {
  /** The run's evaluation time. */
  now: Date
  /** The evaluation time of the last run that finished before this one; null for the first run. */
  previousRunAt: Date | null
  /** What the rules of one run may share (a read several kinds need), by a key of the kind's own; absent: nothing is shared. */
  shared?: Map<string, unknown>
}

/** One label set whose condition holds now, with what to tell about it. */
export interface ActiveSample {
  /** The labels that identify it within the rule (`{rds: 'eu-2'}`); the rule's own labels are added by the engine. */
  labels: Labels
  /** One line an operator reads: `down since 10:02: connection refused`. */
  summary: string
  /** The measured figure, when there is one (an age in seconds, a count, an amount). */
  value?: number | null
}

/**
 * What an evaluation found: the label sets whose condition holds now (every
 * other instance of the rule is false), or `noData` when there was nothing to
 * look at (no RDS registered, no sync ever run): the rule's NoData policy
 * decides what that means. A thrown error is the rule's Error policy's business.
 */
export type Evaluation = {noData: false; active: ActiveSample[]} | {noData: true}

/**
 * A kind of alert rule: what a rule's `kind` names. Its parameters are checked
 * by `params` (a strict zod object with defaults: `{}` must parse) when a rule
 * is created or edited; `evaluate` reads the control database in a bounded
 * number of queries, whatever the number of RDS, tenants or instances.
 */
export interface RuleKind<P extends Record<string, unknown> = Record<string, unknown>> {
  /** Stored in alert_rules.kind: `rds_down`. */
  kind: string
  /** One line for `alerts:rules:kinds` and the README. */
  description: string
  /** The labels its samples carry (`['rds']`), for help and for inhibition. */
  labelNames: readonly string[]
  params: z.ZodType<P, z.ZodTypeDef, unknown>
  evaluate(ctx: EvaluationContext, params: P, at: EvaluationTime): Promise<Evaluation>
}

/** A kind with its parameter type erased, as registries hold them. */
export type AnyRuleKind = RuleKind<Record<string, unknown>>

/** Declares a kind with its parameter type checked, returned erased for a registry. */
export function defineRuleKind<P extends Record<string, unknown>>(kind: RuleKind<P>): AnyRuleKind {
  return kind as unknown as AnyRuleKind
}
