import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderPlacement} from '../../cli/reporters/placement.js'
import {explainPlacement, type PlacementReport} from '../../lib/placement/placement.js'

export default class PlacementExplain extends BaseCommand<PlacementReport> {
  static override summary = 'show where a new tenant would be placed, and why'
  static override description =
    'Ranks every RDS as tenant:create places a tenant: only active, online servers not down at their last health check are candidates (draining takes no new tenants, locked takes nothing); the one with the lowest load (tenants plus reservations of jobs in progress, over RAIOPS_PLACEMENT_CAPACITY) comes first, health then latency breaking ties. Excluded servers say why. Nothing is written.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --for-locations 3',
    '<%= config.bin %> <%= command.id %> --json',
  ]
  static override permission = 'rds.view' as const
  static override flags = {
    'for-locations': Flags.integer({description: 'the new tenant will have this many locations (shown beside each candidate)', min: 0, max: 10_000}),
  }

  async run(): Promise<PlacementReport> {
    const {flags} = await this.parse(PlacementExplain)
    const report = await explainPlacement(await this.context(), {capacity: this.runtime.config.placementCapacity, forLocations: flags['for-locations']})
    this.print(renderPlacement(this.color, report))
    return report
  }
}
