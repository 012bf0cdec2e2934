import {Flags} from '@oclif/core'

/** The filters audit:list, audit:export and audit:tail share. */
export const auditFilterFlags = {
  actor: Flags.string({description: 'only entries by this actor (`*` wildcards: "alice@*")'}),
  action: Flags.string({description: 'only this action (`*` wildcards: "rds.*")'}),
  tenant: Flags.integer({description: 'only entries about this tenant (tenant_master id)', min: 1}),
  rds: Flags.string({description: 'only entries about this RDS (id or name)'}),
  since: Flags.string({description: 'from this time on: ISO date or time, or a duration back from now (24h, 7d)'}),
  until: Flags.string({description: 'before this time: ISO date or time, or a duration back from now'}),
}
