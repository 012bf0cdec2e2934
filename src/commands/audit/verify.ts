import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {BaseCommand} from '../../cli/base-command.js'
import {renderVerification} from '../../cli/reporters/audit.js'
import {loadVerifyKey, readCheckpoint} from '../../lib/audit/checkpoint.js'
import {verifyAuditChain, type ChainVerification} from '../../lib/audit/verify.js'
import {ExitCode} from '../../lib/errors/index.js'

type Verified = ChainVerification & {checkpoints: Array<{file: string; seq: number; at: string}>}

export default class AuditVerify extends BaseCommand<Verified> {
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

  async run(): Promise<Verified> {
    const {flags} = await this.parse(AuditVerify)
    const files = flags.checkpoint ?? []
    const publicKey = files.length > 0 ? loadVerifyKey(flags['public-key'] ?? join(this.runtime.config.home, 'audit-signing.key.pub')) : undefined
    const checkpoints = publicKey ? await Promise.all(files.map((file) => readCheckpoint(file, publicKey))) : []
    const result = await verifyAuditChain(await this.context(), {checkpoints})
    this.print(renderVerification(this.color, result, checkpoints.length))
    if (!result.ok) this.exitWith(ExitCode.unexpected)
    return {...result, checkpoints: checkpoints.map(({file, seq, at}) => ({file, seq, at}))}
  }
}
