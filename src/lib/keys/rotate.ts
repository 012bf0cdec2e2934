import {existsSync} from 'node:fs'

import {appendAudit, lockForChange, type AuditContext} from '../audit/writer.js'
import type {ChangeContext, OpsContext} from '../context.js'
import {checkKeyring} from '../crypto/key-check.js'
import {generateKey, keyFingerprint, Keyring, loadKeyring, writeKeyFile, type KeySource} from '../crypto/keyring.js'
import {decryptSecret, encryptSecret, envelopeKid, type SecretLocation} from '../crypto/secret-box.js'
import type {Db} from '../db/control-db.js'
import {UserError} from '../errors/index.js'
import {registerActiveKey} from './register.js'
import {jsonFieldLocation, SECRET_COLUMNS, SECRET_JSON_FIELDS, type SecretJsonField} from './secrets.js'

/**
 * Where the keyring comes from, as the configuration says: the key file, which
 * keys:rotate and keys:prune edit, or RAIOPS_MASTER_KEY, which they cannot.
 */
export type KeyringSource =
  | {from: 'file'; keyFile: string}
  | {
      from: 'env'
      keyring: Keyring
      /** The key file a run without RAIOPS_MASTER_KEY would read. */
      keyFile: string
      /** The operator says RAIOPS_MASTER_KEY, new key first, is what every raiops run gets. */
      confirmedStored: boolean
    }

/** The keyring's source as the configuration gives it (RAIOPS_MASTER_KEY wins over the key file). */
async function keyringSource(ctx: Pick<OpsContext, 'keyring'>, input: {config: KeySource; confirmedStored?: boolean}): Promise<KeyringSource> {
  const {config, confirmedStored = false} = input
  return config.masterKey
    ? {from: 'env', keyring: await ctx.keyring(), keyFile: config.masterKeyFile, confirmedStored}
    : {from: 'file', keyFile: config.masterKeyFile}
}

export interface RotateKeysResult {
  activeKid: string
  reencrypted: number
  alreadyCurrent: number
  /** How many secrets each old key id held before the rotation. */
  fromKids: Record<string, number>
  /** The key file the new key was written to; null when the keyring is RAIOPS_MASTER_KEY. */
  keyFile: string | null
  /** The key ids of the keyring after the rotation, active first. */
  kids: string[]
}

interface Secret {
  table: string
  id: number
  envelope: string
  kid: string
  location: SecretLocation
  /** Writes `next` in its place, on the condition the row still holds what was read; the rows changed (0 or 1). */
  replace(tx: Db, next: string): Promise<number>
}

type JsonRecord = Record<string, unknown>
const isRecord = (value: unknown): value is JsonRecord => value !== null && typeof value === 'object' && !Array.isArray(value)

/** The object holding the field's last key, and the secret there; null when the object has no string there. */
function fieldIn(object: JsonRecord, field: SecretJsonField): {holder: JsonRecord; key: string; envelope: string; bound: string} | null {
  let holder: unknown = object
  for (const key of field.path.slice(0, -1)) holder = isRecord(holder) ? holder[key] : undefined
  const key = field.path[field.path.length - 1]
  const bound = object[field.boundTo]
  if (!isRecord(holder) || typeof holder[key] !== 'string' || typeof bound !== 'string') return null
  return {holder, key, envelope: holder[key], bound}
}

async function readSecrets(tx: Db): Promise<Secret[]> {
  const secrets: Secret[] = []
  for (const {table, column} of SECRET_COLUMNS) {
    const rows = (await tx(table).whereNotNull(column).select('id', column)) as Array<Record<string, string> & {id: number}>
    for (const row of rows) {
      const envelope = row[column]
      const id = Number(row.id)
      secrets.push({
        table,
        id,
        envelope,
        kid: envelopeKid(envelope) ?? 'unknown',
        location: {table, column, rowId: id},
        replace: async (db, next) =>
          Number(
            await db(table)
              .where({id, [column]: envelope})
              .update({[column]: next}),
          ),
      })
    }
  }
  for (const field of SECRET_JSON_FIELDS) {
    const {table, column} = field
    const rows = (await tx(table)
      .where(column, 'like', `%"${field.path[field.path.length - 1]}":"%`)
      .select('id', column)) as Array<Record<string, string> & {id: number}>
    for (const row of rows) {
      const text = row[column]
      let object: unknown
      try {
        object = JSON.parse(text)
      } catch {
        continue
      }
      const found = isRecord(object) ? fieldIn(object, field) : null
      if (!found) continue
      const id = Number(row.id)
      secrets.push({
        table,
        id,
        envelope: found.envelope,
        kid: envelopeKid(found.envelope) ?? 'unknown',
        location: jsonFieldLocation(field, found.bound),
        replace: async (db, next) => {
          found.holder[found.key] = next
          return Number(
            await db(table)
              .where({id, [column]: text})
              .update({[column]: JSON.stringify(object)}),
          )
        },
      })
    }
  }
  return secrets
}

/**
 * Re-encrypts under the keyring's active key every secret that is not under it
 * yet, inside `tx` (which holds the change lock). Every secret is decrypted
 * before the first is written: one that does not decrypt stops it all.
 */
async function reencryptAll(
  tx: Db,
  keyring: Keyring,
  secrets: readonly Secret[],
  audit: AuditContext,
  now: Date,
  keyFile: string | null,
): Promise<RotateKeysResult> {
  const active = keyring.active.kid
  const stale = secrets.filter((s) => s.kid !== active).map((s) => ({...s, plaintext: decryptSecret(keyring, s.envelope, s.location)}))
  await registerActiveKey(tx, keyring, audit, now)
  const fromKids: Record<string, number> = {}
  let reencrypted = 0
  for (const secret of stale) {
    const updated = await secret.replace(tx, encryptSecret(keyring, secret.plaintext, secret.location))
    if (updated === 1) {
      fromKids[secret.kid] = (fromKids[secret.kid] ?? 0) + 1
      reencrypted++
    }
  }
  if (reencrypted > 0 || keyFile !== null) {
    await appendAudit(
      tx,
      audit,
      {action: 'keys.rotate', targetType: 'keyring', targetId: active, newValues: {activeKid: active, reencrypted, fromKids, keyFile}},
      now,
    )
  }
  return {activeKid: active, reencrypted, alreadyCurrent: secrets.length - stale.length, fromKids, keyFile, kids: keyring.kids}
}

/**
 * Re-encrypts every secret under the active key of the context's keyring, in
 * one transaction: either every secret moves to the active key or nothing
 * changes. Running it again finds nothing to do.
 */
/** What re-encrypting the secrets takes: a change (database, actor, clock) and the keyring. */
export type KeysContext = ChangeContext & Pick<OpsContext, 'keyring'>

export async function rotateKeys(ctx: KeysContext): Promise<RotateKeysResult> {
  const keyring = await ctx.keyring()
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    return reencryptAll(tx, keyring, await readSecrets(tx), ctx.audit, now, null)
  })
}

/**
 * `keys:rotate`. From a key file: generates a new key, writes it into the file
 * first (the old keys kept after it), then re-encrypts every secret under it
 * in one transaction; a crash in between leaves every secret under a key the
 * file still holds. From RAIOPS_MASTER_KEY, which raiops cannot write: refused
 * unless the operator confirms the keyring there is what every run gets, and
 * always when the key file a run without it would read lacks its active key.
 */
export async function rotateMasterKey(ctx: KeysContext, input: {config: KeySource; confirmedStored?: boolean}): Promise<RotateKeysResult> {
  const source = await keyringSource(ctx, input)
  if (source.from === 'env') {
    const {keyring, keyFile} = source
    if (existsSync(keyFile) && !loadKeyring({masterKeyFile: keyFile}).get(keyring.active.kid)) {
      throw new UserError(
        `RAIOPS_MASTER_KEY is set and its active key "${keyring.active.kid}" is not in ${keyFile}: a run without RAIOPS_MASTER_KEY reads that file and could not decrypt what this rotation writes; nothing was changed`,
        {hint: 'unset RAIOPS_MASTER_KEY and run keys:rotate: it adds a new key to the key file itself'},
      )
    }
    if (!source.confirmedStored) {
      throw new UserError(`RAIOPS_MASTER_KEY is set, and raiops cannot store a new key there; nothing was changed`, {
        hint: `put the new key first in RAIOPS_MASTER_KEY wherever raiops runs (every operator, cron, CI), the old keys after it, then run keys:rotate --env-key-stored; or unset it to rotate the key file ${keyFile}`,
      })
    }
    return rotateKeys(ctx)
  }
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    // Read under the lock: a rotation that ran meanwhile has its key in the file.
    const current = loadKeyring({masterKeyFile: source.keyFile})
    await checkKeyring(tx, current)
    const secrets = await readSecrets(tx)
    for (const secret of secrets) decryptSecret(current, secret.envelope, secret.location)
    const next = new Keyring([generateKey(), ...current.keys], source.keyFile)
    writeKeyFile(source.keyFile, next.keys)
    return reencryptAll(tx, next, secrets, ctx.audit, now, source.keyFile)
  })
}

export interface PruneKeysResult {
  keyFile: string
  activeKid: string
  /** The keys left in the file, active first. */
  kept: string[]
  /** The keys taken out (or, with dryRun, that would be). */
  removed: string[]
  /** How many secrets each key of the file encrypts. */
  inUse: Record<string, number>
  dryRun: boolean
}

/**
 * `keys:prune`: takes out of the key file every key no secret uses any more,
 * never the active one, and retires them in the registry so that they never
 * encrypt again. RAIOPS_MASTER_KEY cannot be edited: refused, naming the keys
 * to drop from it.
 */
export async function pruneKeys(ctx: KeysContext, input: {config: KeySource; dryRun?: boolean}): Promise<PruneKeysResult> {
  const source = await keyringSource(ctx, {config: input.config})
  const dryRun = input.dryRun ?? false
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const keyring = source.from === 'file' ? loadKeyring({masterKeyFile: source.keyFile}) : source.keyring
    await checkKeyring(tx, keyring)
    const inUse: Record<string, number> = Object.fromEntries(keyring.kids.map((kid) => [kid, 0]))
    for (const secret of await readSecrets(tx)) if (secret.kid in inUse) inUse[secret.kid]++
    const removed = keyring.kids.filter((kid) => kid !== keyring.active.kid && inUse[kid] === 0)
    const kept = keyring.kids.filter((kid) => !removed.includes(kid))
    if (source.from === 'env' && removed.length > 0 && !dryRun) {
      throw new UserError(
        `RAIOPS_MASTER_KEY is set, and raiops cannot edit it: no secret uses ${removed.map((k) => `"${k}"`).join(', ')} any more; nothing was changed`,
        {
          hint: 'drop those keys from RAIOPS_MASTER_KEY wherever raiops runs',
        },
      )
    }
    if (removed.length > 0 && !dryRun && source.from === 'file') {
      writeKeyFile(
        source.keyFile,
        keyring.keys.filter((k) => kept.includes(k.kid)),
      )
      for (const key of keyring.keys.filter((k) => removed.includes(k.kid))) {
        // A key that never encrypted anything is recorded too, so that it never will.
        const updated = await tx('raiops_keys').where({kid: key.kid}).update({retired_at: now})
        if (updated === 0) await tx('raiops_keys').insert({kid: key.kid, fingerprint: keyFingerprint(key.key), created_at: now, retired_at: now})
      }
      await appendAudit(
        tx,
        ctx.audit,
        {action: 'keys.prune', targetType: 'keyring', targetId: keyring.active.kid, newValues: {removed, kept, keyFile: source.keyFile}},
        now,
      )
    }
    return {
      keyFile: source.from === 'file' ? source.keyFile : 'RAIOPS_MASTER_KEY',
      activeKid: keyring.active.kid,
      kept,
      removed,
      inUse,
      dryRun,
    }
  })
}
