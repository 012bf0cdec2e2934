import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderRotation} from '../../cli/reporters/keys.js'
import {rotateMasterKey, type RotateKeysResult} from '../../lib/keys/rotate.js'

export default class KeysRotate extends BaseCommand<RotateKeysResult> {
  static override summary = 'put a new master key in the key file and re-encrypt every stored secret under it'
  static override description = `Generates a new master key and writes it into the key file first (the old keys kept after it; mode 0600; written atomically), then re-encrypts every secret under it in one transaction. A crash in between leaves every secret under a key the file still holds. Back up the key file afterwards; once the old keys are unused, \`keys:prune\` takes them out.

With RAIOPS_MASTER_KEY set, raiops cannot store a key there: put the new key first in RAIOPS_MASTER_KEY wherever raiops runs ("newkid:base64,oldkid:base64"), then run this command with --env-key-stored to re-encrypt under it. It is refused when the key file a run without RAIOPS_MASTER_KEY would read lacks that key.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --env-key-stored   # after RAIOPS_MASTER_KEY="k2:$(openssl rand -base64 32),$RAIOPS_MASTER_KEY" wherever raiops runs',
  ]

  static override permission = 'system.manage' as const
  static override flags = {
    'env-key-stored': Flags.boolean({
      description: 'with RAIOPS_MASTER_KEY set: confirm that it holds the new key first, and the old ones after it, wherever raiops runs',
    }),
  }

  async run(): Promise<RotateKeysResult> {
    const {flags} = await this.parse(KeysRotate)
    const result = await rotateMasterKey(await this.context(), {config: this.runtime.config, confirmedStored: flags['env-key-stored']})
    this.print(renderRotation(result))
    return result
  }
}
