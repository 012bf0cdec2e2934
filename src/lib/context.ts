import type {Knex} from 'knex'

import type {AuditContext} from './audit/writer.js'
import type {Principal} from './auth/principal.js'
import type {Keyring} from './crypto/keyring.js'
import type {FleetOptions} from './db/knex-config.js'
import type {ConnectionRegistry} from './db/registry.js'

/**
 * What a service needs to do its work, handed to it by the command (or a test):
 * the control database, who is acting, the keyring (loaded and checked on first
 * use) and the connection registry for the fleet.
 */
export interface OpsContext {
  db: Knex
  audit: AuditContext
  /**
   * Who acts, with what they hold, for the services that change operators,
   * tokens, sessions and roles: never optional, so that none of them can run
   * unrestricted by omission. Refused (exit 5) when nobody is signed in.
   */
  principal(): Promise<Principal>
  keyring(): Promise<Keyring>
  fleet: ConnectionRegistry
  fleetOptions: FleetOptions
  now(): Date
}

/** What a service that changes operators, tokens, sessions or roles takes. */
export type PrincipalContext = Pick<OpsContext, 'db' | 'audit' | 'principal' | 'now'>
