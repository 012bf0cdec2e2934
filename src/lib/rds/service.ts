import {appendAudit, lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import {decryptSecret, encryptSecret} from '../crypto/secret-box.js'
import {insertReturningId, type Db} from '../db/control-db.js'
import {RDS_TABLE} from '../db/tables.js'
import {ConnectionError, UserError} from '../errors/index.js'
import {testConnection} from '../fleet/probe.js'
import {registerActiveKey} from '../keys/register.js'
import {auditValues, changeTransaction, passwordLocation} from './change.js'
import {findMaster, findRds, getRds, listRdsRows, toRdsView} from './repository.js'
import type {RdsConnectionSpec, RdsInstanceRow, RdsState, RdsView} from './types.js'
import {validateImpersonation, validateRdsFields, type RdsFields, type ValidRdsFields} from './validation.js'

/** The columns of an RDS row a connection is made from. */
export type RdsConnectionRow = Pick<RdsInstanceRow, 'id' | 'name' | 'engine' | 'host' | 'port' | 'username' | 'password_enc' | 'rai_database'>

/** The plain connection values of a registered RDS, its password decrypted. */
export async function connectionSpecFor(ctx: Pick<OpsContext, 'keyring'>, row: RdsConnectionRow): Promise<RdsConnectionSpec> {
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

/** Whether an RDS is the master already (rds:add's question defaults to yes when none is). */
export async function hasMasterRds(ctx: Pick<OpsContext, 'db'>): Promise<boolean> {
  return (await findMaster(ctx.db)) !== undefined
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
