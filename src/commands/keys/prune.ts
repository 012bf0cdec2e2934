import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderPrune} from '../../cli/reporters/keys.js'
import {pruneKeys, type PruneKeysResult} from '../../lib/keys/rotate.js'

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
    const result = await pruneKeys(await this.context(), {config: this.runtime.config, dryRun: flags['dry-run']})
    this.print(renderPrune(result))
    return result
  }
}
