import {Args, Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import {parseSeconds} from '../../lib/time/duration.js'

/** An audit entry's id, as audit:show takes it. */
export const auditIdArg = Args.custom<number>({
  async parse(input) {
    if (!/^[1-9]\d{0,14}$/.test(input.trim()))
      throw new UserError(`the audit entry id must be a positive whole number, not "${input}"`, {hint: 'see `raiops audit:list` for the ids'})
    return Number(input)
  },
})({description: 'the entry id (see audit:list)', required: true})

/** The filters audit:list, audit:export and audit:tail share. */
export const auditFilterFlags = {
  actor: Flags.string({description: 'only entries by this actor (`*` wildcards: "alice@*")'}),
  action: Flags.string({description: 'only this action (`*` wildcards: "rds.*")'}),
  tenant: Flags.integer({description: 'only entries about this tenant (tenant_master id)', min: 1}),
  rds: Flags.string({description: 'only entries about this RDS (id or name)'}),
  since: Flags.string({description: 'from this time on: ISO date or time, or a duration back from now (24h, 7d)'}),
  until: Flags.string({description: 'before this time: ISO date or time, or a duration back from now'}),
}

/** audit:export's flags: the filters, the file and its format. */
export const auditExportFlags = {
  ...auditFilterFlags,
  format: Flags.option({options: ['csv', 'ndjson'] as const, char: 'f', description: 'file format', required: true})(),
  output: Flags.string({char: 'o', description: 'the file to write (mode 0600; - is stdout)', required: true}),
}

/** audit:tail's own flags. */
export const auditTailFlags = {
  ...auditFilterFlags,
  lines: Flags.integer({char: 'n', description: 'how many of the last entries to print first', default: 20, min: 0, max: 100_000}),
  follow: Flags.boolean({char: 'F', description: 'keep printing new entries as they land'}),
  interval: Flags.custom<number>({
    description: 'seconds between two polls when following',
    default: async () => 1000,
    defaultHelp: async () => '1',
    parse: async (input) => parseSeconds(input, '--interval', 3600),
  })(),
  'max-retries': Flags.integer({description: 'failed polls in a row before exiting 1', default: 30, min: 0, max: 1_000_000}),
}

/** audit:serve's flags. */
export const auditServeFlags = {
  host: Flags.string({description: 'the address to listen on', default: '127.0.0.1'}),
  port: Flags.integer({char: 'p', description: 'the port to listen on (0: any free port)', default: 8787, min: 0, max: 65_535}),
  tolerance: Flags.integer({
    description: 'seconds a signature timestamp may be off from now, either way',
    default: 300,
    min: 1,
    max: 86_400,
  }),
  quiet: Flags.boolean({char: 'q', description: 'log refused requests only'}),
}
