import {z} from 'zod'

import {verifyAuditChain} from '../../audit/verify.js'
import {defineRuleKind} from '../kind.js'
import {oneLine} from './params.js'

export const auditChainBroken = defineRuleKind({
  kind: 'audit_chain_broken',
  description: 'the audit chain does not verify (an entry edited, removed or out of order), as audit:verify checks it',
  labelNames: [],
  params: z.object({}).strict(),
  async evaluate(ctx) {
    // The whole chain, page by page: one rule, read once per run.
    const result = await verifyAuditChain(ctx)
    if (result.ok) return {noData: false, active: []}
    const bad = result.firstBad
    return {
      noData: false,
      active: [
        {
          labels: {},
          summary: bad ? `the audit chain breaks at entry ${bad.seq}: ${oneLine(bad.reason)}` : 'the audit chain does not verify',
          value: bad?.seq ?? null,
        },
      ],
    }
  },
})
