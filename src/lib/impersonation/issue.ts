import {SignJWT} from 'jose'
import {randomUUID} from 'node:crypto'
import {z} from 'zod'

import {appendAudit, lockForChange} from '../audit/writer.js'
import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'
import {IMPERSONATIONS_TABLE} from '../db/tables.js'
import {toBool, toNumberOrNull} from '../db/values.js'
import {UserError} from '../errors/index.js'
import {getRds} from '../rds/repository.js'
import type {RdsInstanceRow} from '../rds/types.js'
import {MAX_TTL_SECONDS, MIN_TTL_SECONDS} from '../rds/validation.js'
import {rememberSecret} from '../redact/index.js'
import {getTenant, type TenantRef} from '../tenant/reference.js'
import {onServer} from '../tenant/status-change.js'
import {reasonSchema} from '../text/reason.js'
import {DEFAULT_GHOST_DOMAIN, ghostEmail} from '../user/ghosts.js'
import {IMPERSONATION_ISSUER, IMPERSONATION_PATH, IMPERSONATION_TOKEN_TYPE, MAX_TICKET_LENGTH} from './claims.js'
import {loadImpersonationKey} from './keys.js'

export interface ImpersonationRequest {
  /** A tenant_master id, or RDS:REMOTE_TENANT_ID. */
  tenant: string
  /** Why the tenant is opened: one line, 10 to 500 characters. */
  reason: string
  /** The support ticket it is for. */
  ticket?: string | null
  /** How long the link is valid, 30 to 300 s; default: the RDS's setting, else 300. */
  ttlSeconds?: number
}

export interface ImpersonationOptions {
  /** RAIOPS_HOME, where the signing key is kept (created on first use). */
  home: string
  /** RAIOPS_GHOST_DOMAIN: the ghost users' email domain. Default raiops.invalid. */
  ghostDomain?: string
}

/**
 * The caller's ghost user on the tenant, which the link names (`ghost_user_id`)
 * for the application to log in as. `missing` says why there is none.
 */
export interface GhostUserRef {
  /** The ghost's users.id on the tenant's RDS; null when the link carries none. */
  userId: number | null
  /** The ghost email looked for (null when the caller is no operator). */
  email: string | null
  missing: null | 'no-operator' | 'not-found' | 'suspended' | 'unreadable'
  /** Why the lookup failed (`unreadable`), one line. */
  error: string | null
}

/** A link that opens a tenant's RAI application as that tenant, once. */
export interface ImpersonationLink {
  /** The tenant application's app_url + /raiops/impersonate?token=… */
  url: string
  /** The signed token (EdDSA JWT) the URL carries. */
  token: string
  jti: string
  tenant: {id: number; remoteTenantId: number; name: string; status: string | null}
  rds: {id: number; name: string}
  /** The token's `aud`: the RDS's impersonation audience, else its app URL. */
  audience: string
  /** Who acts as the tenant (the token's act.sub). */
  actor: string
  reason: string
  ticket: string | null
  /** The fingerprint of the public key that verifies the token (its `kid`). */
  keyId: string
  /** Whether this run created the key pair: tenant applications need its public key before the link works. */
  keyCreated: boolean
  issuedAt: string
  expiresAt: string
  ttlSeconds: number
  /** The ghost user the link logs in as (its `ghost_user_id` claim), or why there is none. */
  ghostUser: GhostUserRef
}

const oneLine = (text: string) => !/\p{Cc}/u.test(text)

const requestSchema = z.object({
  tenant: z.string(),
  reason: reasonSchema('why you open the tenant'),
  ticket: z
    .string()
    .trim()
    .min(1, {message: '--ticket must not be empty'})
    .max(MAX_TICKET_LENGTH, {message: `--ticket must be at most ${MAX_TICKET_LENGTH} characters`})
    .refine(oneLine, {message: '--ticket must be one line of text'})
    .nullish()
    .transform((ticket) => ticket ?? null),
  ttlSeconds: z.number().optional(),
})

const HINTS: Record<string, string> = {
  reason: 'say in a sentence why, as --reason "customer cannot see the March invoices"',
  ticket: 'give the ticket id, as --ticket SUP-1234',
}

function validateRequest(input: ImpersonationRequest): z.infer<typeof requestSchema> {
  const parsed = requestSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UserError(issue.message, {hint: HINTS[String(issue.path[0])]})
  }
  if (parsed.data.ttlSeconds === undefined) return parsed.data
  // JWT times are whole seconds.
  const ttlSeconds = Math.round(parsed.data.ttlSeconds)
  if (!(ttlSeconds >= MIN_TTL_SECONDS && ttlSeconds <= MAX_TTL_SECONDS)) {
    throw new UserError(`an impersonation link is valid for ${MIN_TTL_SECONDS} s to ${MAX_TTL_SECONDS / 60} minutes, not ${parsed.data.ttlSeconds} s`, {
      hint: 'give --ttl from 30s to 5m',
    })
  }
  return {...parsed.data, ttlSeconds}
}

/** The RDS's own lifetime for links when it sets one, kept within 30 s to 5 minutes; else 5 minutes. */
function defaultTtlSeconds(rds: RdsInstanceRow): number {
  const configured = toNumberOrNull(rds.impersonation_ttl_seconds)
  if (configured === null || configured <= 0) return MAX_TTL_SECONDS
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, Math.round(configured)))
}

/** The tenant and its RDS, when a link may be issued for them; else why not, as bad input. */
async function impersonationTarget(tx: Db, ref: string): Promise<{tenant: TenantRef; rds: RdsInstanceRow; appUrl: string}> {
  const tenant = await getTenant(tx, ref)
  const rds = await getRds(tx, tenant.rdsInstanceId)
  const label = `"${tenant.name}" (#${tenant.id})`
  if (tenant.remoteMissingAt) {
    throw new UserError(`tenant ${label} is gone from RDS "${rds.name}" (missing since ${tenant.remoteMissingAt})`, {
      hint: `there is nothing to open; if it is back, \`raiops sync:tenants --rds ${rds.name}\` finds it again`,
    })
  }
  if (!toBool(rds.is_active))
    throw new UserError(`RDS "${rds.name}" of tenant ${label} is inactive`, {
      hint: `reactivate it first: \`raiops rds:edit ${rds.name} --active\``,
    })
  if (!toBool(rds.impersonation_enabled))
    throw new UserError(`impersonation is turned off on RDS "${rds.name}" (tenant ${label})`, {
      hint: `turn it on with \`raiops rds:edit ${rds.name} --impersonation\` (needs rds.manage)`,
    })
  const appUrl = (rds.app_url ?? '').trim().replace(/\/+$/, '')
  if (appUrl === '')
    throw new UserError(`RDS "${rds.name}" has no app URL to open tenant ${label} at`, {
      hint: `set it: \`raiops rds:edit ${rds.name} --app-url https://…\``,
    })
  return {tenant, rds, appUrl}
}

/** The operator behind the caller: the signed-in operator, or the one who created the service token. */
async function callerOperatorId(ctx: Pick<OpsContext, 'db' | 'audit'>): Promise<number | null> {
  const {actorType, actor} = ctx.audit
  if (actorType === 'operator') {
    const row = (await ctx.db('operators').whereRaw('lower(email) = ?', [actor.toLowerCase()]).first('id')) as {id: number | string} | undefined
    return row ? Number(row.id) : null
  }
  if (actorType === 'token') {
    const row = (await ctx.db('api_tokens').where({name: actor}).first('operator_id')) as {operator_id: number | string | null} | undefined
    return row?.operator_id === null || row?.operator_id === undefined ? null : Number(row.operator_id)
  }
  return null
}

/**
 * The caller's ghost user on the tenant, read from its RDS within a bounded
 * time: a server that does not answer costs that time, and the link is issued
 * without the claim (the result says why).
 */
async function findGhostUser(ctx: OpsContext, ref: string, domain: string): Promise<GhostUserRef> {
  const operatorId = await callerOperatorId(ctx)
  if (operatorId === null) return {userId: null, email: null, missing: 'no-operator', error: null}
  const email = ghostEmail(operatorId, domain)
  const {tenant, rds} = await impersonationTarget(ctx.db, ref)
  const timeoutMs = Math.min(ctx.fleetOptions.connectTimeoutMs + ctx.fleetOptions.queryTimeoutMs, 15_000)
  const read = await onServer(ctx, rds, timeoutMs, (db) => db('users').where({tenant_id: tenant.remoteTenantId, email, is_ghost: true}).first('id', 'status'))
  if (!read.ok) return {userId: null, email, missing: 'unreadable', error: read.error}
  const row = read.value as {id: number | string; status: string | null} | undefined
  if (!row) return {userId: null, email, missing: 'not-found', error: null}
  if (row.status !== 'active') return {userId: null, email, missing: 'suspended', error: null}
  return {userId: Number(row.id), email, missing: null, error: null}
}

/**
 * A single-use link that opens a tenant's RAI application as that tenant, for
 * support: an EdDSA-signed token (at most 5 minutes) whose `act` claim names the
 * caller, recorded in `impersonations` by its jti and written to the audit trail
 * (with the reason and ticket, never the token) in one transaction. Refused,
 * with nothing written, for an unknown or vanished tenant, an inactive RDS, one
 * with impersonation turned off or without an app URL, a missing reason, or a
 * lifetime outside 30 s to 5 minutes.
 */
export async function issueImpersonation(ctx: OpsContext, input: ImpersonationRequest & ImpersonationOptions): Promise<ImpersonationLink> {
  const {home, ghostDomain, ...requested} = input
  const options: ImpersonationOptions = {home}
  const request = validateRequest(requested)
  const actor = ctx.audit.actor
  // Read before the transaction: a fleet round trip never holds the control database's lock.
  const ghostUser = await findGhostUser(ctx, request.tenant, ghostDomain ?? DEFAULT_GHOST_DOMAIN)
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const {tenant, rds, appUrl} = await impersonationTarget(tx, request.tenant)
    const ttlSeconds = request.ttlSeconds ?? defaultTtlSeconds(rds)
    const audience = (rds.impersonation_audience ?? '').trim() || appUrl
    const key = loadImpersonationKey(options.home)
    // JWT times are whole seconds: the row keeps the same instants the token states.
    const now = ctx.now()
    const issuedAt = new Date(Math.floor(now.getTime() / 1000) * 1000)
    const expiresAt = new Date(issuedAt.getTime() + ttlSeconds * 1000)
    const jti = randomUUID()
    const token = await new SignJWT({
      tenant_id: tenant.remoteTenantId,
      act: {sub: actor},
      reason: request.reason,
      ...(request.ticket === null ? {} : {ticket: request.ticket}),
      ...(ghostUser.userId === null ? {} : {ghost_user_id: ghostUser.userId}),
    })
      .setProtectedHeader({alg: 'EdDSA', typ: IMPERSONATION_TOKEN_TYPE, kid: key.keyId})
      .setIssuer(IMPERSONATION_ISSUER)
      .setAudience(audience)
      .setSubject(String(tenant.remoteTenantId))
      .setJti(jti)
      .setIssuedAt(issuedAt.getTime() / 1000)
      .setNotBefore(issuedAt.getTime() / 1000)
      .setExpirationTime(expiresAt.getTime() / 1000)
      .sign(key.privateKey)
    rememberSecret(token)
    await tx(IMPERSONATIONS_TABLE).insert({
      jti,
      operator: actor,
      tenant_master_id: tenant.id,
      issued_at: issuedAt,
      expires_at: expiresAt,
      reason: request.reason,
      ticket: request.ticket,
    })
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'tenant.impersonate',
        targetType: 'tenant',
        targetId: tenant.id,
        rdsInstanceId: Number(rds.id),
        tenantMasterId: tenant.id,
        newValues: {
          jti,
          reason: request.reason,
          ticket: request.ticket,
          audience,
          keyId: key.keyId,
          ttlSeconds,
          expiresAt: expiresAt.toISOString(),
          ghostUserId: ghostUser.userId,
        },
      },
      now,
    )
    return {
      url: `${appUrl}${IMPERSONATION_PATH}?token=${encodeURIComponent(token)}`,
      token,
      jti,
      tenant: {id: tenant.id, remoteTenantId: tenant.remoteTenantId, name: tenant.name, status: tenant.status},
      rds: {id: Number(rds.id), name: rds.name},
      audience,
      actor,
      reason: request.reason,
      ticket: request.ticket,
      keyId: key.keyId,
      keyCreated: key.created,
      issuedAt: issuedAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
      ttlSeconds,
      ghostUser,
    }
  })
}
