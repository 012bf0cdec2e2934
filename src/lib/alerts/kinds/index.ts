import type {AnyRuleKind} from '../kind.js'
import {auditChainBroken} from './audit.js'
import {billingOverdue, trialEnding} from './billing.js'
import {engineHeartbeat} from './engine.js'
import {jobsFailed, jobsStuck} from './jobs.js'
import {leaseOverdue} from './leases.js'
import {rdsDegraded, rdsDown} from './rds.js'
import {syncFailing, syncStale} from './sync.js'

/** Every kind of alert rule raiops knows, by name. */
export type RuleKindRegistry = ReadonlyMap<string, AnyRuleKind>

const KINDS: AnyRuleKind[] = [
  rdsDown,
  rdsDegraded,
  syncStale,
  syncFailing,
  auditChainBroken,
  leaseOverdue,
  jobsFailed,
  jobsStuck,
  billingOverdue,
  trialEnding,
  engineHeartbeat,
]

export const RULE_KINDS: RuleKindRegistry = new Map(KINDS.map((k) => [k.kind, k]))
