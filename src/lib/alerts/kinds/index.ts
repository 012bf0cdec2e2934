import type {AnyRuleKind} from '../kind.js'

/** Every kind of alert rule raiops knows, by name. */
export type RuleKindRegistry = ReadonlyMap<string, AnyRuleKind>

const KINDS: AnyRuleKind[] = []

export const RULE_KINDS: RuleKindRegistry = new Map(KINDS.map((k) => [k.kind, k]))
