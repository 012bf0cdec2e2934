import type {OpsContext} from '../context.js'
import {toIsoRequired} from '../db/values.js'
import {chainHash, GENESIS_HASH, type AuditRecord} from './writer.js'

export interface ChainVerification {
  ok: boolean
  entries: number
  headSeq: number
  headHash: string
  /** The first entry whose content, order or presence does not match the chain. */
  firstBad?: {seq: number; id: number | null; reason: string}
}

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v))

/** Entries read per page while walking the chain. */
const PAGE = 5000

/** A signed statement of the head at some moment (see checkpoint.ts). */
export interface TrustedHead {
  seq: number
  hash: string
  at: string
}

/**
 * Walks the whole chain in sequence order, page by page, and recomputes every
 * hash; then holds it against the signed checkpoints given: the entry at each
 * checkpoint's sequence must carry its hash (a chain re-computed after an edit
 * does not), and no checkpointed entry may be missing (a truncated tail).
 */
export async function verifyAuditChain(ctx: Pick<OpsContext, 'db'>, input: {checkpoints?: readonly TrustedHead[]} = {}): Promise<ChainVerification> {
  const {db} = ctx
  const checkpoints = input.checkpoints ?? []
  const bySeq = new Map<number, TrustedHead[]>()
  for (const c of checkpoints) bySeq.set(c.seq, [...(bySeq.get(c.seq) ?? []), c])
  let prev = GENESIS_HASH
  let expectedSeq = 1
  let entries = 0
  for (;;) {
    const rows = await db('audit_logs').where('seq', '>=', expectedSeq).orderBy('seq', 'asc').limit(PAGE)
    for (const row of rows) {
      const seq = Number(row.seq)
      const bad = (reason: string): ChainVerification => ({
        ok: false,
        entries: entries + 1,
        headSeq: seq,
        headHash: prev,
        firstBad: {seq, id: Number(row.id), reason},
      })
      if (seq !== expectedSeq) return bad(seq > expectedSeq ? `entry ${expectedSeq} is missing` : `sequence ${seq} repeats`)
      if (row.prev_hash !== prev) return bad('prev_hash does not match the previous entry')
      const record: AuditRecord = {
        seq,
        occurred_at: toIsoRequired(row.occurred_at),
        actor_type: row.actor_type,
        actor: row.actor,
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        rds_instance_id: numOrNull(row.rds_instance_id),
        tenant_master_id: numOrNull(row.tenant_master_id),
        old_values: row.old_values,
        new_values: row.new_values,
        source: row.source,
      }
      if (chainHash(prev, record) !== row.hash) return bad('the content does not match its hash')
      const signed = bySeq.get(seq)?.find((c) => c.hash !== row.hash)
      if (signed) return bad(`differs from the checkpoint signed at ${signed.at}: the chain was rewritten at or before this entry`)
      prev = row.hash
      expectedSeq++
      entries++
    }
    if (rows.length < PAGE) break
  }
  const headSeq = expectedSeq - 1
  const beyond = checkpoints.filter((c) => c.seq > headSeq).sort((a, b) => b.seq - a.seq)[0]
  if (beyond) {
    return {
      ok: false,
      entries,
      headSeq,
      headHash: prev,
      firstBad: {
        seq: expectedSeq,
        id: null,
        reason: `entries up to sequence ${beyond.seq} (checkpoint signed at ${beyond.at}) were removed`,
      },
    }
  }
  const head = await db('audit_head').where({id: 1}).first('seq', 'hash')
  if (head && (Number(head.seq) !== headSeq || head.hash !== prev)) {
    return {
      ok: false,
      entries,
      headSeq,
      headHash: prev,
      firstBad: {seq: expectedSeq, id: null, reason: 'entries after this point were removed'},
    }
  }
  return {ok: true, entries, headSeq, headHash: prev}
}
