import {auditSummary} from '../../audit/read.js'
import {verifyAuditChain} from '../../audit/verify.js'
import {ago} from '../../text/age.js'
import {type SectionReport, type StatusContext, type StatusSection} from '../types.js'

/** The audit trail: how many entries, the newest one, and whether the hash chain is intact. */
export const auditSection: StatusSection = {
  key: 'audit',
  title: 'Audit chain',
  async collect(ctx: StatusContext): Promise<SectionReport> {
    const [{entries, last}, chain] = await Promise.all([auditSummary(ctx), verifyAuditChain(ctx)])
    const lastEntry = last ? {id: last.id, occurredAt: last.occurredAt, actor: `${last.actorType}:${last.actor}`, action: last.action} : null
    const data = {entries, intact: chain.ok, headSeq: chain.headSeq, firstBad: chain.firstBad ?? null, lastEntry}
    if (entries === 0 && chain.ok) return {state: 'never', summary: 'no entries yet', facts: [], data}
    const facts = lastEntry ? [{label: 'last', value: `${lastEntry.action} by ${lastEntry.actor}, ${ago(lastEntry.occurredAt, ctx.now())}`}] : []
    if (!chain.ok) {
      facts.unshift({label: 'first bad', value: `sequence ${chain.firstBad?.seq}: ${chain.firstBad?.reason} — run \`raiops audit:verify\``})
      return {state: 'fail', summary: `${entries} entries, chain broken`, facts, data}
    }
    return {state: 'ok', summary: `${entries} entries, chain intact`, facts, data}
  },
}
