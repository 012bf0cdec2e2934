import type {PruneKeysResult, RotateKeysResult} from '../../lib/keys/rotate.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

/** Where the new key is, and how many secrets were re-encrypted under it. */
export function renderRotation(result: RotateKeysResult): string {
  // Key ids come from the key file or RAIOPS_MASTER_KEY.
  const shown = escapeControlDeep(result)
  const from = Object.entries(shown.fromKids)
    .map(([kid, n]) => `${n} from ${kid}`)
    .join(', ')
  const where = shown.keyFile
    ? `new key ${shown.activeKid} written to ${shown.keyFile} (back it up)`
    : `RAIOPS_MASTER_KEY must hold key ${shown.activeKid} first wherever raiops runs`
  return result.reencrypted > 0
    ? `${where}; re-encrypted ${result.reencrypted} secret(s) under it (${from}); ${result.alreadyCurrent} were already current\n`
    : `${where}; every secret (${result.alreadyCurrent}) is under it\n`
}

/** Which keys went (or would go) from the key file and which stayed, each with the secrets under it. */
export function renderPrune(result: PruneKeysResult): string {
  // Key ids come from the key file or RAIOPS_MASTER_KEY.
  const shown = escapeControlDeep(result)
  const used = shown.kept.map((kid) => `${kid} (${shown.inUse[kid]} secret(s)${kid === shown.activeKid ? ', active' : ''})`).join(', ')
  return shown.removed.length === 0
    ? `nothing to remove from ${shown.keyFile}: every key is in use or active: ${used}\n`
    : `${shown.dryRun ? 'would remove' : 'removed'} ${shown.removed.join(', ')} from ${shown.keyFile}; kept ${used}\n`
}
