import {appendAudit, lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {decryptSecret, encryptSecret, type SecretLocation} from '../crypto/secret-box.js'
import {insertReturningId, isUniqueViolation, type Db} from '../db/control-db.js'
import {RDS_TABLE} from '../db/tables.js'
import {BusyError, ConnectionError, UserError} from '../errors/index.js'
import {fanOut} from '../fleet/fan-out.js'
import {testConnection} from '../fleet/probe.js'
import {registerActiveKey} from '../keys/register.js'
import {acquireLease, LEASE_TTL_MS, leaseName} from '../lease/lease.js'
import {findMaster, findRds, getRds, listRdsRows, toRdsView} from './repository.js'
import type {RdsConnectionSpec, RdsInstanceRow, RdsState, RdsView} from './types.js'
import {validateImpersonation, validateRdsFields, type RdsFields, type ValidRdsFields} from './validation.js'

const passwordLocation = (id: number): SecretLocation => ({table: RDS_TABLE, column: 'password_enc', rowId: id})

/** The audit view of an RDS: everything but secrets and volatile health. */
function auditValues(view: RdsView): Record<string, unknown> {
  const {health: _health, createdAt: _c, updatedAt: _u, passwordSet, impersonation, ...rest} = view
  return {
    ...rest,
    password: passwordSet ? 'set' : null,
    impersonationEnabled: impersonation.enabled,
    impersonationAudience: impersonation.audience,
    impersonationTtlSeconds: impersonation.ttlSeconds,
  }
}

/** The plain connection values of a registered RDS, its password decrypted. */
export async function connectionSpecFor(ctx: OpsContext, row: RdsInstanceRow): Promise<RdsConnectionSpec> {
  const id = Number(row.id)
  const password = row.password_enc ? decryptSecret(await ctx.keyring(), row.password_enc, passwordLocation(id)) : null
  return {
    id,
    name: row.name,
    engine: row.engine,
    host: row.host,
    port: row.port === null ? null : Number(row.port),
    username: row.username,
    password,
    database: row.rai_database,
  }
}

function specFromFields(id: number, fields: ValidRdsFields): RdsConnectionSpec {
  return {
    id,
    name: fields.name,
    engine: fields.engine,
    host: fields.host,
    port: fields.port,
    username: fields.username,
    password: fields.password,
    database: fields.raiDatabase,
  }
}

/**
 * A registry change: one transaction that first takes the change lock, so its
 * checks hold until it commits. A unique-key race that slips past them is still
 * reported as bad input, not as a driver error.
 */
async function changeTransaction<T>(ctx: OpsContext, work: (tx: Db) => Promise<T>): Promise<T> {
  try {
    return await ctx.db.transaction(async (tx) => {
      await lockForChange(tx)
      return work(tx)
    })
  } catch (error) {
    if (isUniqueViolation(error))
      throw new UserError('another change to the same RDS was saved at the same time', {hint: 'look at `raiops rds:list` and try again'})
    throw error
  }
}

export interface ConnectionTestResult {
  ok: boolean
  latencyMs: number | null
  serverVersion: string | null
  error: string | null
}

/** Tries the connection before it is saved; a failure names the cause and saves nothing. */
async function assertConnects(ctx: OpsContext, spec: RdsConnectionSpec): Promise<ConnectionTestResult> {
  const deadlineMs = ctx.fleetOptions.connectTimeoutMs + 2000
  const result = await testConnection(ctx.fleet, spec, {deadlineMs})
  if (!result.ok) {
    throw new ConnectionError(`cannot connect to ${spec.name}: ${result.error}`, {
      hint: 'check the values, or pass --no-test to save without testing',
    })
  }
  return {ok: true, latencyMs: result.latencyMs, serverVersion: result.serverVersion, error: null}
}

async function assertNameFree(db: Db, name: string, exceptId?: number): Promise<void> {
  const existing = await findRds(db, name)
  if (existing && Number(existing.id) !== exceptId) {
    throw new UserError(`an RDS named "${name}" already exists (id ${existing.id})`, {hint: 'choose another --name'})
  }
}

async function assertNoOtherMaster(db: Db, exceptId?: number): Promise<void> {
  const master = await findMaster(db, exceptId)
  if (master) {
    throw new UserError(`"${master.name}" (id ${master.id}) is already the master RDS; only one may be`, {
      hint: `run \`raiops rds:edit ${master.name} --no-master\` first`,
    })
  }
}

export interface AddRdsOptions {
  /** Test the connection before saving (default true). */
  test?: boolean
}

export interface AddRdsResult {
  rds: RdsView
  test: ConnectionTestResult | null
}

export async function addRds(ctx: OpsContext, input: RdsFields & AddRdsOptions): Promise<AddRdsResult> {
  const {test: testFirst, ...given} = input
  const options: AddRdsOptions = {test: testFirst}
  const fields = validateRdsFields(given)
  await assertNameFree(ctx.db, fields.name)
  if (fields.master) await assertNoOtherMaster(ctx.db)
  const test = options.test === false ? null : await assertConnects(ctx, specFromFields(-1, fields))
  const keyring = fields.password ? await ctx.keyring() : undefined
  const now = ctx.now()
  const view = await changeTransaction(ctx, async (tx) => {
    // Checked again under the lock: another operator may have added one meanwhile.
    await assertNameFree(tx, fields.name)
    if (fields.master) await assertNoOtherMaster(tx)
    const id = await insertReturningId(tx, RDS_TABLE, {
      name: fields.name,
      engine: fields.engine,
      host: fields.host,
      port: fields.port,
      username: fields.username,
      password_enc: null,
      rai_database: fields.raiDatabase,
      providers_database: fields.providersDatabase,
      app_url: fields.appUrl,
      is_master: fields.master,
      is_active: true,
      state: 'online',
      health_status: 'unknown',
      created_at: now,
      updated_at: now,
    })
    if (keyring && fields.password) {
      await registerActiveKey(tx, keyring, ctx.audit, now)
      await tx(RDS_TABLE)
        .where({id})
        .update({password_enc: encryptSecret(keyring, fields.password, passwordLocation(id))})
    }
    const created = toRdsView((await tx(RDS_TABLE).where({id}).first())!)
    await appendAudit(tx, ctx.audit, {action: 'rds.add', targetType: 'rds_instance', targetId: id, rdsInstanceId: id, newValues: auditValues(created)}, now)
    return created
  })
  return {rds: view, test}
}

export async function listRds(ctx: Pick<OpsContext, 'db'>): Promise<RdsView[]> {
  return (await listRdsRows(ctx.db)).map(toRdsView)
}

export async function showRds(ctx: Pick<OpsContext, 'db'>, input: {ref: string}): Promise<RdsView> {
  return toRdsView(await getRds(ctx.db, input.ref))
}

/**
 * An RDS's stored password, decrypted, for an operator who must see it: the
 * access itself is audited (rds.reveal, never with the password), in the same
 * transaction that reads the row.
 */
export async function revealRdsPassword(
  ctx: Pick<OpsContext, 'db' | 'audit' | 'now' | 'keyring'>,
  input: {ref: string},
): Promise<{rds: RdsView; password: string | null}> {
  const {ref} = input
  const keyring = await ctx.keyring()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const row = await getRds(tx, ref)
    const password = row.password_enc ? decryptSecret(keyring, row.password_enc, passwordLocation(Number(row.id))) : null
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'rds.reveal',
        targetType: 'rds_instance',
        targetId: Number(row.id),
        rdsInstanceId: Number(row.id),
        newValues: {revealed: 'password', stored: password !== null},
      },
      ctx.now(),
    )
    return {rds: toRdsView(row), password}
  })
}

export interface RdsChanges extends Partial<Omit<RdsFields, 'engine'>> {
  active?: boolean
  /** Whether tenant:impersonate may issue links for its tenants. */
  impersonation?: boolean
  /** The `aud` its RAI application expects; null or empty: its app URL. */
  impersonationAudience?: string | null
  /** The default lifetime of its links, 30 to 300 s; null: 5 minutes. */
  impersonationTtlSeconds?: number | null
}

export interface EditRdsResult {
  rds: RdsView
  changed: string[]
  test: ConnectionTestResult | null
}

const CONNECTION_FIELDS = ['host', 'port', 'username', 'password', 'raiDatabase'] as const

export interface EditRdsInput extends AddRdsOptions {
  /** The RDS, by id or name. */
  ref: string
  changes: RdsChanges
}

export async function editRds(ctx: OpsContext, input: EditRdsInput): Promise<EditRdsResult> {
  const {ref, changes, ...options} = input
  const row = await getRds(ctx.db, ref)
  const id = Number(row.id)
  const current = toRdsView(row)
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as RdsChanges
  if (Object.keys(given).length === 0) throw new UserError('nothing to change', {hint: 'pass at least one flag, as --port 3307'})
  const merged = validateRdsFields({
    name: given.name ?? current.name,
    engine: current.engine,
    host: given.host !== undefined ? given.host : current.host,
    port: given.port !== undefined ? given.port : current.port,
    username: given.username !== undefined ? given.username : current.username,
    password: given.password ?? null,
    raiDatabase: given.raiDatabase ?? current.raiDatabase,
    providersDatabase: given.providersDatabase !== undefined ? given.providersDatabase : current.providersDatabase,
    appUrl: given.appUrl !== undefined ? given.appUrl : current.appUrl,
    master: given.master ?? current.isMaster,
  })
  const impersonation = validateImpersonation({
    enabled: given.impersonation ?? current.impersonation.enabled,
    audience: given.impersonationAudience !== undefined ? given.impersonationAudience : current.impersonation.audience,
    ttlSeconds: given.impersonationTtlSeconds !== undefined ? given.impersonationTtlSeconds : current.impersonation.ttlSeconds,
  })
  if (merged.name !== current.name) await assertNameFree(ctx.db, merged.name, id)
  if (merged.master && !current.isMaster) await assertNoOtherMaster(ctx.db, id)

  const update: Record<string, unknown> = {}
  const changed: string[] = []
  const set = (field: string, column: string, before: unknown, after: unknown) => {
    if (before !== after) {
      update[column] = after
      changed.push(field)
    }
  }
  set('name', 'name', current.name, merged.name)
  set('host', 'host', current.host, merged.host)
  set('port', 'port', current.port, merged.port)
  set('username', 'username', current.username, merged.username)
  set('raiDatabase', 'rai_database', current.raiDatabase, merged.raiDatabase)
  set('providersDatabase', 'providers_database', current.providersDatabase, merged.providersDatabase)
  set('appUrl', 'app_url', current.appUrl, merged.appUrl)
  set('isMaster', 'is_master', current.isMaster, merged.master)
  if (given.active !== undefined) set('isActive', 'is_active', current.isActive, given.active)
  set('impersonationEnabled', 'impersonation_enabled', current.impersonation.enabled, impersonation.enabled)
  set('impersonationAudience', 'impersonation_audience', current.impersonation.audience, impersonation.audience)
  set('impersonationTtlSeconds', 'impersonation_ttl_seconds', current.impersonation.ttlSeconds, impersonation.ttlSeconds)
  if (merged.password !== null) changed.push('password')
  if (changed.length === 0) return {rds: current, changed, test: null}

  let test: ConnectionTestResult | null = null
  const connectionChanged = changed.some((f) => (CONNECTION_FIELDS as readonly string[]).includes(f))
  if (connectionChanged && options.test !== false) {
    const password = merged.password ?? (await connectionSpecFor(ctx, row)).password
    test = await assertConnects(ctx, {...specFromFields(id, merged), password, id: -id})
  }
  const keyring = merged.password !== null ? await ctx.keyring() : undefined
  const now = ctx.now()
  const view = await changeTransaction(ctx, async (tx) => {
    if (merged.name !== current.name) await assertNameFree(tx, merged.name, id)
    if (merged.master && !current.isMaster) await assertNoOtherMaster(tx, id)
    if (keyring && merged.password !== null) {
      await registerActiveKey(tx, keyring, ctx.audit, now)
      update.password_enc = encryptSecret(keyring, merged.password, passwordLocation(id))
    }
    await tx(RDS_TABLE)
      .where({id})
      .update({...update, updated_at: now})
    const updated = toRdsView((await tx(RDS_TABLE).where({id}).first())!)
    const before = auditValues(current)
    const after = auditValues(updated)
    // A new password is recorded as "changed" against what was there ("set" or none): the audit redacts both,
    // and records that they differ.
    const pick = (values: Record<string, unknown>) => Object.fromEntries(changed.map((f) => [f, f === 'password' && values === after ? 'changed' : values[f]]))
    await appendAudit(
      tx,
      ctx.audit,
      {action: 'rds.edit', targetType: 'rds_instance', targetId: id, rdsInstanceId: id, oldValues: pick(before), newValues: pick(after)},
      now,
    )
    return updated
  })
  return {rds: view, changed, test}
}

export interface RemoveRdsResult {
  removed: RdsView
  tenantsRemoved: number
  routingRowsRemoved: number
}

export async function removeRds(ctx: OpsContext, input: {ref: string; force?: boolean}): Promise<RemoveRdsResult> {
  const {ref, ...options} = input
  const row = await getRds(ctx.db, ref)
  // The routing cache loses this RDS's rows: a routing sync running meanwhile would write them back
  // (a rebuild swaps in the rows it read), so removing waits for none and holds the routing lease.
  const lease = await acquireLease(ctx.db, leaseName('routing'), {ttlMs: LEASE_TTL_MS}).catch((error: unknown) => {
    if (!(error instanceof BusyError)) throw error
    throw new BusyError(`RDS "${row.name}" cannot be removed while the routing sync runs: ${error.message}`, {
      hint: 'run rds:remove again once it has finished',
    })
  })
  try {
    return await removeUnderLease(ctx, row, options)
  } finally {
    await lease.release()
  }
}

async function removeUnderLease(ctx: OpsContext, row: RdsInstanceRow, options: {force?: boolean}): Promise<RemoveRdsResult> {
  const id = Number(row.id)
  const view = toRdsView(row)
  const now = ctx.now()
  return changeTransaction(ctx, async (tx) => {
    const tenantIds = (await tx('tenant_master').where({rds_instance_id: id}).pluck('id')).map(Number)
    if (tenantIds.length > 0 && !options.force) {
      throw new UserError(`RDS "${row.name}" still has ${tenantIds.length} tenant(s) in tenant_master`, {
        hint: 'move them first, or pass --force to remove them from the registry with it',
      })
    }
    let routingRowsRemoved = 0
    if (tenantIds.length > 0) {
      for (const table of ['tenant_billing', 'billing_events', 'payments', 'impersonations']) {
        const refs = await countWhereIn(tx, table, 'tenant_master_id', tenantIds)
        if (refs > 0) {
          throw new UserError(`RDS "${row.name}" has tenants with ${refs} row(s) in ${table}; they cannot be removed`, {
            hint: 'deactivate it instead: `raiops rds:edit ' + row.name + ' --no-active`',
          })
        }
      }
      routingRowsRemoved = await deleteWhereIn(tx, 'user_email_routing_cache', 'tenant_master_id', tenantIds)
      await deleteWhereIn(tx, 'tenant_master', 'id', tenantIds)
    }
    routingRowsRemoved += await tx('user_email_routing_cache').where({rds_instance_id: id}).delete()
    await tx(RDS_TABLE).where({id}).delete()
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'rds.remove',
        targetType: 'rds_instance',
        targetId: id,
        rdsInstanceId: id,
        oldValues: {...auditValues(view), tenants: tenantIds.length},
      },
      now,
    )
    return {removed: view, tenantsRemoved: tenantIds.length, routingRowsRemoved}
  })
}

async function countWhereIn(tx: Db, table: string, column: string, ids: number[]): Promise<number> {
  let total = 0
  for (let i = 0; i < ids.length; i += 500) {
    const [{n}] = await tx(table)
      .whereIn(column, ids.slice(i, i + 500))
      .count({n: '*'})
    total += Number(n)
  }
  return total
}

async function deleteWhereIn(tx: Db, table: string, column: string, ids: number[]): Promise<number> {
  let total = 0
  for (let i = 0; i < ids.length; i += 500)
    total += await tx(table)
      .whereIn(column, ids.slice(i, i + 500))
      .delete()
  return total
}

export interface StateChangeResult {
  rds: RdsView
  previous: RdsState
  changed: boolean
}

/** online: takes new tenants; draining: keeps its tenants, takes no new ones; locked: no changes at all. */
export async function setRdsState(ctx: OpsContext, input: {ref: string; state: RdsState}): Promise<StateChangeResult> {
  const {ref, state} = input
  const row = await getRds(ctx.db, ref)
  const id = Number(row.id)
  if (row.state === state) return {rds: toRdsView(row), previous: row.state, changed: false}
  const now = ctx.now()
  const view = await changeTransaction(ctx, async (tx) => {
    await tx(RDS_TABLE).where({id}).update({state, updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: `rds.${state === 'online' ? 'online' : state === 'draining' ? 'drain' : 'lock'}`,
        targetType: 'rds_instance',
        targetId: id,
        rdsInstanceId: id,
        oldValues: {state: row.state},
        newValues: {state},
      },
      now,
    )
    return toRdsView((await tx(RDS_TABLE).where({id}).first())!)
  })
  return {rds: view, previous: row.state, changed: true}
}

export interface RdsTestResult {
  id: number
  name: string
  engine: string
  ok: boolean
  latencyMs: number | null
  serverVersion: string | null
  error: string | null
}

/** Connects to each RDS, runs SELECT 1 and reads the server version, concurrently with a deadline each. */
export async function testRds(ctx: OpsContext, input: {refs: string[]; all?: boolean; concurrency?: number; deadlineMs?: number}): Promise<RdsTestResult[]> {
  const {refs, ...options} = input
  const rows = options.all || refs.length === 0 ? await listRdsRows(ctx.db, {activeOnly: true}) : await Promise.all(refs.map((ref) => getRds(ctx.db, ref)))
  const deadlineMs = options.deadlineMs ?? ctx.fleetOptions.connectTimeoutMs + 2000
  // A wrong master key stops the run here; one unreadable secret only fails its own RDS, in its task.
  if (rows.some((row) => row.password_enc)) await ctx.keyring()
  const results = await fanOut(rows, async (row, signal) => testConnection(ctx.fleet, await connectionSpecFor(ctx, row), {deadlineMs, signal}), {
    concurrency: options.concurrency ?? 8,
    deadlineMs,
  })
  return results.map((r) => {
    const base = {id: Number(r.item.id), name: r.item.name, engine: r.item.engine}
    if (!r.ok) return {...base, ok: false, latencyMs: null, serverVersion: null, error: r.error}
    const probe = r.value
    return probe.ok
      ? {...base, ok: true, latencyMs: probe.latencyMs, serverVersion: probe.serverVersion, error: null}
      : {...base, ok: false, latencyMs: null, serverVersion: null, error: probe.error}
  })
}
