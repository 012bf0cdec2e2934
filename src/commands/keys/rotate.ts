import {BaseCommand} from '../../base-command.js'
import {rotateKeys, type RotateKeysResult} from '../../lib/crypto/rotate.js'

export default class KeysRotate extends BaseCommand<RotateKeysResult> {
  static override summary = 're-encrypt every stored secret under the active master key'
  static override description = `Put the new key first in the keyring and keep the old one after it, then run this command: every secret is decrypted with its own key and re-encrypted with the active (first) key, in one transaction. When it reports no secret left under the old key id, remove that key from the keyring.

The keyring comes from RAIOPS_MASTER_KEY ("newkid:base64,oldkid:base64") or from the key file (one "kid:base64" per line, first is active).`

  static override examples = [
    'RAIOPS_MASTER_KEY="k2:$(openssl rand -base64 32),$(cat ~/.local/share/raiops/master.key)" <%= config.bin %> <%= command.id %>',
  ]

  static override permission = 'system.manage' as const

  async run(): Promise<RotateKeysResult> {
    await this.parse(KeysRotate)
    const result = await rotateKeys(await this.context())
    const from = Object.entries(result.fromKids)
      .map(([kid, n]) => `${n} from ${kid}`)
      .join(', ')
    this.log(
      result.reencrypted > 0
        ? `re-encrypted ${result.reencrypted} secret(s) under key ${result.activeKid} (${from}); ${result.alreadyCurrent} were already current`
        : `every secret (${result.alreadyCurrent}) is already under key ${result.activeKid}: nothing changed`,
    )
    return result
  }
}
