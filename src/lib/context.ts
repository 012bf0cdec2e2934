import type {Knex} from 'knex'

import type {AuditContext} from './audit/writer.js'
import type {Principal} from './auth/types.js'
import type {AlertSettings} from './config/index.js'
import type {Keyring} from './crypto/keyring.js'
import type {FleetOptions} from './db/knex-config.js'
import type {ConnectionRegistry} from './db/registry.js'

/**
 * What a service needs to do its work, handed to it by the command (or a test).
 * Every service has the shape `(ctx, input)`: `ctx` is this context, or a `Pick`
 * of it naming exactly the fields the service uses, and `input` one typed object.
 */
export interface OpsContext {
  /** The control database. A service that changes data opens its own transaction on it. */
  db: Knex
  /**
   * The actor as the audit trail records it (operator, token, or raiops itself)
   * and where the command ran: a service that changes data appends its entries
   * with it, `appendAudit(tx, ctx.audit, entry, now)`, inside its transaction.
   */
  audit: AuditContext
  /**
   * Who acts, with what they hold, for the services that change operators,
   * tokens, sessions and roles: never optional, so that none of them can run
   * unrestricted by omission. Refused (exit 5) when nobody is signed in.
   */
  principal(): Promise<Principal>
  /** The keyring, loaded and checked against the registry on first use. */
  keyring(): Promise<Keyring>
  /** Connections to the fleet's RDS, opened on demand and destroyed when the command ends. */
  fleet: ConnectionRegistry
  fleetOptions: FleetOptions
  /**
   * The clock. A service reads it once (`const now = ctx.now()`) and uses that
   * instant for every row and audit entry of its change; tests pin it.
   */
  now(): Date
  /** RAIOPS_BILLING_GRACE_DAYS, for the subscription status the health score reads (default 7). */
  billingGraceDays?: number
  /** How alert notifications are sent (RAIOPS_SMTP_URL, RAIOPS_ALERT_*); unset, the channels have no server and no secret. */
  alerts?: AlertSettings
}

/**
 * What every service that changes data takes at least: the control database,
 * the actor its audit entries name, and the clock. Required, never optional, so
 * that no change can be made without someone to answer for it.
 */
export type ChangeContext = Pick<OpsContext, 'db' | 'audit' | 'now'>

/** What a service that changes operators, tokens, sessions or roles takes: the actor with what they hold. */
export type PrincipalContext = Pick<OpsContext, 'db' | 'audit' | 'principal' | 'now'>
