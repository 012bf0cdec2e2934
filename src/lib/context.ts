import type {Knex} from 'knex'

import type {AuditContext} from './audit/writer.js'
import type {Keyring} from './crypto/keyring.js'
import type {FleetOptions} from './fleet/connection.js'
import type {ConnectionRegistry} from './fleet/registry.js'

/**
 * What a service needs to do its work, handed to it by the command (or a test):
 * the control database, who is acting, the keyring (loaded and checked on first
 * use) and the connection registry for the fleet.
 */
export interface OpsContext {
  db: Knex
  audit: AuditContext
  keyring(): Promise<Keyring>
  fleet: ConnectionRegistry
  fleetOptions: FleetOptions
  now(): Date
}
