import type {Knex} from 'knex'
import {z} from 'zod'

import {seedDefaultRules} from '../alerts/rules.js'
import {appendAudit, lockForChange} from '../audit/writer.js'
import {assertAcceptablePassword, hashPassword} from '../auth/passwords.js'
import {seedRoles} from '../auth/seed.js'
import type {ChangeContext} from '../context.js'
import {checkKeyring} from '../crypto/key-check.js'
import {loadKeyring, prepareKeyFile} from '../crypto/keyring.js'
import {migrateLatest, type ControlDbTarget} from '../db/control-db.js'
import {UserError} from '../errors/index.js'
import {registerActiveKey} from '../keys/register.js'
import {insertOperator} from '../operator/service.js'
import {signInFirstAdmin} from './first-session.js'

export interface AdminInput {
  email: string
  name: string
  password: string
}

export interface InitOptions {
  target: ControlDbTarget
  home: string
  masterKey?: string
  masterKeyFile: string
  /** Asked only when no system_admin exists yet. */
  admin: () => Promise<AdminInput>
  bcryptCost?: number
  /** Start a session in `home` for the first admin, when this run creates them (`raiops init`). */
  signInAdmin?: boolean
}

export interface InitResult {
  home: string
  database: string
  key: {source: 'env' | 'file'; path: string | null; kid: string; created: boolean}
  migrationsApplied: string[]
  roles: {created: string[]; permissionsCreated: string[]}
  /** The default alert rules this run seeded (those missing by name; an edited one is left as it is). */
  alertRules: {created: string[]}
  admin: {email: string; created: boolean}
  /** False when raiops was already initialised and nothing was changed. */
  changed: boolean
}

const adminSchema = z.object({
  email: z
    .string()
    .trim()
    .email({message: 'expected an email address'})
    .transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1, {message: 'must not be empty'}).max(255),
  password: z.string(),
})

/**
 * Why one value of the first admin would be refused, or null when it is fine:
 * a prompt checks each answer with it as it is given.
 */
export function adminFieldProblem(field: keyof AdminInput, value: string): string | null {
  if (field === 'password') {
    try {
      assertAcceptablePassword(value, 'the password')
      return null
    } catch (error) {
      return (error as Error).message
    }
  }
  const result = adminSchema.shape[field].safeParse(value)
  if (result.success) return null
  return field === 'email' ? 'expected an email address, as ops@example.com' : `the name ${result.error.issues[0].message}`
}

/** Validates the first admin's values; a one-line error names the flag. */
export function validateAdmin(input: AdminInput): AdminInput {
  const result = adminSchema.safeParse(input)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new UserError(`--admin-${String(issue.path[0])} ${issue.message}`)
  }
  assertAcceptablePassword(result.data.password, 'the admin password')
  return result.data
}

async function findActiveAdmin(db: Knex): Promise<{email: string} | undefined> {
  if (!(await db.schema.hasTable('operators'))) return undefined
  return db('operators').where({role: 'system_admin', is_active: true}).orderBy('id').first('email')
}

/**
 * Prepares raiops on this machine: master key, migrations, roles, first admin.
 * Idempotent: a second run finds everything in place and changes nothing.
 * Nobody can be signed in before it: the actor is raiops itself, as `ctx.audit`
 * names it (the user and host that ran it).
 */
export async function initRaiops(ctx: ChangeContext, options: InitOptions): Promise<InitResult> {
  const {db, audit} = ctx
  const now = ctx.now()
  // The first admin's values are asked for and checked before anything is created.
  const existingAdmin = await findActiveAdmin(db)
  const admin = existingAdmin ? undefined : validateAdmin(await options.admin())
  // A new key stays in memory until the control database accepts it: a second
  // machine sharing a registry must not be left with a key file that does not fit.
  const keyFile = options.masterKey ? undefined : prepareKeyFile(options.masterKeyFile)
  const keyring = keyFile ? keyFile.keyring : loadKeyring({masterKey: options.masterKey, masterKeyFile: options.masterKeyFile})
  const migrationsApplied = await migrateLatest(db)
  await checkKeyring(db, keyring)
  const passwordHash = admin ? await hashPassword(admin.password, options.bcryptCost) : undefined
  keyFile?.write()

  const result = await db.transaction(async (tx) => {
    await lockForChange(tx)
    const seeded = await seedRoles(tx, now)
    const alertRules = await seedDefaultRules(tx, now)
    const keyRegistered = await registerActiveKey(tx, keyring, audit, now)
    if (seeded.rolesCreated.length > 0 || seeded.permissionsCreated.length > 0 || alertRules.length > 0 || migrationsApplied.length > 0) {
      await appendAudit(
        tx,
        audit,
        {
          action: 'system.init',
          targetType: 'system',
          targetId: 'raiops',
          newValues: {
            migrations: migrationsApplied,
            roles: seeded.rolesCreated,
            permissions: seeded.permissionsCreated.length,
            alertRules,
            keyId: keyring.active.kid,
          },
        },
        now,
      )
    }
    let adminCreated = false
    if (admin && passwordHash) {
      const taken = await tx('operators').where({email: admin.email}).first('id')
      if (taken)
        throw new UserError(`an operator with email ${admin.email} already exists but is not an active system_admin`, {
          hint: 'use another --admin-email',
        })
      const id = await insertOperator(tx, {name: admin.name, email: admin.email, passwordHash, role: 'system_admin'}, now)
      await appendAudit(
        tx,
        audit,
        {
          action: 'operator.create',
          targetType: 'operator',
          targetId: id,
          newValues: {name: admin.name, email: admin.email, role: 'system_admin'},
        },
        now,
      )
      adminCreated = true
    }
    return {seeded, alertRules, adminCreated, keyRegistered}
  })

  if (options.signInAdmin && admin && result.adminCreated) await signInFirstAdmin(ctx, {home: options.home, email: admin.email})
  const changed =
    result.keyRegistered ||
    migrationsApplied.length > 0 ||
    result.seeded.rolesCreated.length > 0 ||
    result.seeded.permissionsCreated.length > 0 ||
    result.alertRules.length > 0 ||
    result.adminCreated ||
    Boolean(keyFile?.created)
  return {
    home: options.home,
    database: options.target.display,
    key: keyFile
      ? {source: 'file', path: keyFile.path, kid: keyFile.kid, created: keyFile.created}
      : {source: 'env', path: null, kid: keyring.active.kid, created: false},
    migrationsApplied,
    roles: {created: result.seeded.rolesCreated, permissionsCreated: result.seeded.permissionsCreated},
    alertRules: {created: result.alertRules},
    admin: {email: admin?.email ?? existingAdmin!.email, created: result.adminCreated},
    changed,
  }
}
