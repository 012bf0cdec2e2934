import {RdsStateCommand} from '../../cli/rds-state-command.js'

export default class RdsDrain extends RdsStateCommand {
  static override summary = 'stop placing new tenants on an RDS (its tenants stay)'
  static override description =
    'Marks the RDS as draining: it keeps serving its tenants, but no new tenant is placed on it. Use it before moving tenants off a server. The state is one of online, draining, locked (see rds:online, rds:drain, rds:lock).'
  protected readonly state = 'draining' as const
}
