import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {keyringSource, pruneKeys, type PruneKeysResult} from '../../lib/keys/rotate.js'
import {escapeControlDeep} from '../../lib/text/escape.js'

export default class KeysPrune extends BaseCommand<PruneKeysResult> {
  static override summary = 'take the master keys no secret uses any more out of the key file'
  static override description = `After \`keys:rotate\`: every key of the key file that no stored secret is encrypted with is taken out of it (atomically, mode 0600), except the active (first) key, which is always kept. A removed key is retired in the control database and never encrypts again, so a run still holding an old keyring cannot write a secret the key file no longer opens. --dry-run shows what would go.

With RAIOPS_MASTER_KEY set, raiops cannot edit it: the command names the keys to drop from it and changes nothing.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ]

  static override permission = 'system.manage' as const
  static override flags = {
    'dry-run': Flags.boolean({description: 'show which keys would be removed, change nothing'}),
  }

  async run(): Promise<PruneKeysResult> {
    const {flags} = await this.parse(KeysPrune)
    const ctx = await this.context()
    const result = await pruneKeys(ctx, {source: await keyringSource(ctx, {config: this.runtime.config}), dryRun: flags['dry-run']})
    // Key ids come from the key file or RAIOPS_MASTER_KEY.
    const shown = escapeControlDeep(result)
    const used = shown.kept.map((kid) => `${kid} (${shown.inUse[kid]} secret(s)${kid === shown.activeKid ? ', active' : ''})`).join(', ')
    if (shown.removed.length === 0) this.log(`nothing to remove from ${shown.keyFile}: every key is in use or active: ${used}`)
    else this.log(`${shown.dryRun ? 'would remove' : 'removed'} ${shown.removed.join(', ')} from ${shown.keyFile}; kept ${used}`)
    return result
  }
}
