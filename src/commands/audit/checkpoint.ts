import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {checkpointSummary, signingKeyCreated} from '../../cli/reporters/audit.js'
import {signCheckpoint, type CheckpointFile} from '../../lib/audit/checkpoint.js'

export default class AuditCheckpoint extends BaseCommand<CheckpointFile & {file: string}> {
  static override summary = 'write a signed (Ed25519) statement of the audit chain head, to keep off the database host'
  static override description = `Signs the audit chain's current head (sequence, hash, time) with an Ed25519 key and writes the statement to --output. Whoever can write the audit table could re-compute the whole chain after an edit; they cannot sign a matching checkpoint. Keep the files somewhere the database host cannot write (object storage with a retention lock, a git repository), and give them to \`raiops audit:verify --checkpoint\`.

The key is $RAIOPS_HOME/audit-signing.key unless --key names another; the first run creates it (mode 0600) with its public key beside it (.pub). Keep the private key off the database host too.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --output checkpoints/$(date +%F).json',
    '<%= config.bin %> <%= command.id %> --output head.json --key /secure/audit-signing.key',
  ]

  static override permission = 'audit.manage' as const
  static override flags = {
    output: Flags.string({char: 'o', description: 'the checkpoint file to write (mode 0600; - is stdout)', required: true}),
    key: Flags.string({description: 'the Ed25519 signing key (PEM); created if missing [default: $RAIOPS_HOME/audit-signing.key]'}),
  }

  async run(): Promise<CheckpointFile & {file: string}> {
    const {flags} = await this.parse(AuditCheckpoint)
    const toStdout = this.outputIsStdout(flags.output)
    const checkpoint = await signCheckpoint(await this.context(), {
      home: this.runtime.config.home,
      keyFile: flags.key,
      onKeyCreated: (keyFile) => this.warn(signingKeyCreated(keyFile)),
    })
    this.writeOutputFile(flags.output, `${JSON.stringify(checkpoint, null, 2)}\n`)
    const summary = checkpointSummary(checkpoint, flags.output, toStdout)
    // With --output -, stdout carries the checkpoint itself.
    if (toStdout) process.stderr.write(summary)
    else this.print(summary)
    return {...checkpoint, file: flags.output}
  }
}
