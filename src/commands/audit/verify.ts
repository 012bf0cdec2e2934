import {BaseCommand} from '../../base-command.js'
import {verifyAuditChain, type ChainVerification} from '../../lib/audit/verify.js'
import {ExitCode} from '../../lib/errors/index.js'

export default class AuditVerify extends BaseCommand<ChainVerification> {
  static override summary = 'walk the audit hash chain and report the first altered entry'
  static override description = `Recomputes every entry's hash from its content and the previous entry's hash, in sequence order. An edited value, a deleted entry, two entries swapped or entries removed from the end break the chain: the first bad entry is named and the exit code is 1. Exit 0 when the chain is intact.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override permission = 'audit.view' as const

  async run(): Promise<ChainVerification> {
    await this.parse(AuditVerify)
    const result = await verifyAuditChain((await this.context()).db)
    if (!this.jsonEnabled()) {
      process.stdout.write(
        result.ok
          ? `${this.color.green('intact')}: ${result.entries} entries, head sequence ${result.headSeq} (${result.headHash.slice(0, 16)}…)\n`
          : `${this.color.red('broken')} at sequence ${result.firstBad?.seq}${result.firstBad?.id === null || result.firstBad?.id === undefined ? '' : ` (entry ${result.firstBad.id})`}: ${result.firstBad?.reason}\n`,
      )
    }
    if (!result.ok) this.exitWith(ExitCode.unexpected)
    return result
  }
}
