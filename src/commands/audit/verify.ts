import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderVerification} from '../../cli/reporters/audit.js'
import {verifyAuditTrail, type VerifiedChain} from '../../lib/audit/checkpoint.js'
import {ExitCode} from '../../lib/errors/index.js'

export default class AuditVerify extends BaseCommand<VerifiedChain> {
  static override summary = 'walk the audit hash chain and report the first altered entry'
  static override description = `Recomputes every entry's hash from its content and the previous entry's hash, in sequence order. An edited value, a deleted entry, two entries swapped or entries removed from the end break the chain: the first bad entry is named and the exit code is 1. Exit 0 when the chain is intact.

A chain re-computed by someone who can write the table passes that walk; signed checkpoints (\`raiops audit:checkpoint\`) catch it: with --checkpoint, each file's signature is verified with the public key, the entry at its sequence must carry its hash, and no entry up to it may be missing.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --checkpoint checkpoints/*.json',
    '<%= config.bin %> <%= command.id %> --checkpoint head.json --public-key audit-signing.key.pub --json',
  ]

  static override permission = 'audit.view' as const
  static override flags = {
    checkpoint: Flags.string({description: 'a checkpoint file written by audit:checkpoint (repeatable)', multiple: true}),
    'public-key': Flags.string({description: 'the public key the checkpoints verify with [default: $RAIOPS_HOME/audit-signing.key.pub]'}),
  }

  async run(): Promise<VerifiedChain> {
    const {flags} = await this.parse(AuditVerify)
    const home = this.runtime.config.home
    const result = await verifyAuditTrail(await this.context(), {home, checkpointFiles: flags.checkpoint ?? [], publicKeyFile: flags['public-key']})
    this.print(renderVerification(this.color, result, result.checkpoints.length))
    if (!result.ok) this.exitWith(ExitCode.unexpected)
    return result
  }
}
