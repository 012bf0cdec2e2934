import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {rdsTestFlags} from '../../cli/flags/rds.js'
import {rdsTestColumns} from '../../cli/reporters/rds.js'
import {ExitCode, UserError} from '../../lib/errors/index.js'
import {type RdsTestResult} from '../../lib/rds/connection-test.js'
import {testRds} from '../../lib/rds/connection-test.js'

export default class RdsTest extends BaseCommand<RdsTestResult[]> {
  static override summary = 'test the connection to one, several or all RDS instances'
  static override description = `Connects, runs SELECT 1 (the latency shown is its round trip) and reads the server version. Several instances are tested concurrently, each within its own deadline, so a dead server costs its deadline and never blocks the others.

Exit code 0 when every tested RDS answered, 3 when any did not (the output still lists every result).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> main',
    '<%= config.bin %> <%= command.id %> 3 eu-2',
    '<%= config.bin %> <%= command.id %> --all --json',
  ]

  static override permission = 'rds.view' as const
  static override strict = false
  static override args = {rds: Args.string({description: 'RDS names or ids', required: false})}
  static override flags = rdsTestFlags

  async run(): Promise<RdsTestResult[]> {
    const {argv, flags} = await this.parse(RdsTest)
    const refs = argv as string[]
    if (refs.length === 0 && !flags.all) throw new UserError('name an RDS to test, or pass --all')
    const ctx = await this.context()
    const results = await this.withProgress(`testing ${refs.length > 0 ? refs.join(', ') : 'every active RDS'}`, () =>
      testRds(ctx, {refs, all: flags.all, deadlineMs: flags.timeout * 1000}),
    )
    this.renderList(results, rdsTestColumns(this.color), flags)
    if (results.some((r) => !r.ok)) this.exitWith(ExitCode.partial)
    return results
  }
}
