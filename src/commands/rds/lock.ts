import {RdsStateCommand} from '../../cli/rds-state-command.js'

export default class RdsLock extends RdsStateCommand {
  static override summary = 'lock an RDS: no new tenants and no changes to its tenants'
  static override description =
    'Marks the RDS as locked: no new tenants are placed on it and raiops makes no changes to its tenants (maintenance, incidents). The state is one of online, draining, locked (see rds:online, rds:drain, rds:lock).'
  protected readonly state = 'locked' as const
}
