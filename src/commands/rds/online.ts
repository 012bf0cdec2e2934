import {RdsStateCommand} from '../../cli/rds-state-command.js'

export default class RdsOnline extends RdsStateCommand {
  static override summary = 'put an RDS back online: it takes new tenants again'
  static override description =
    'Marks the RDS as online: it takes new tenants and accepts changes (the normal state). The state is one of online, draining, locked (see rds:online, rds:drain, rds:lock).'
  protected readonly state = 'online' as const
}
