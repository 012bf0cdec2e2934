import type {Knex} from 'knex'
import {randomBytes} from 'node:crypto'

import type {AuditContext} from '../../src/lib/audit/writer.js'
import {SYSTEM_PRINCIPAL, type Principal} from '../../src/lib/auth/principal.js'
import type {ChangeContext, OpsContext} from '../../src/lib/context.js'
import {parseKeyring, type Keyring} from '../../src/lib/crypto/keyring.js'
import {ConnectionRegistry} from '../../src/lib/db/registry.js'

export const TEST_AUDIT: AuditContext = {actorType: 'system', actor: 'test@localhost', source: {host: 'localhost', command: 'vitest'}}

export function randomKeyring(kid = 'test1'): Keyring {
  return parseKeyring(`${kid}:${randomBytes(32).toString('base64')}`, 'test keyring')
}

/**
 * The smallest context a service that changes data takes: the control database,
 * the test's actor and a clock (pinned to `now` when given). It also serves the
 * services that read only the database, or the database and the clock.
 */
export function changeContext(db: Knex, options: {audit?: AuditContext; now?: Date} = {}): ChangeContext {
  return {db, audit: options.audit ?? TEST_AUDIT, now: () => options.now ?? new Date()}
}

/**
 * A service context over a real control database, as a command builds it;
 * raiops itself acts unless a `principal` is given.
 */
export function makeContext(
  db: Knex,
  options: {keyring?: Keyring; connectTimeoutMs?: number; queryTimeoutMs?: number; principal?: Principal} = {},
): OpsContext & {close(): Promise<void>} {
  const keyring = options.keyring ?? randomKeyring()
  const fleetOptions = {connectTimeoutMs: options.connectTimeoutMs ?? 2000, queryTimeoutMs: options.queryTimeoutMs ?? 5000}
  const fleet = new ConnectionRegistry(fleetOptions)
  return {
    db,
    audit: TEST_AUDIT,
    principal: async () => options.principal ?? SYSTEM_PRINCIPAL,
    keyring: async () => keyring,
    fleet,
    fleetOptions,
    now: () => new Date(),
    close: async () => void (await fleet.destroyAll({timeoutMs: 1000})),
  }
}
