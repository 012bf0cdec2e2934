import {jwtVerify, type JWTPayload} from 'jose'
import type {KeyObject} from 'node:crypto'
import {z} from 'zod'

import type {OpsContext} from '../context.js'
import {IMPERSONATIONS_TABLE} from '../db/tables.js'
import {ExitCode, RaiopsError} from '../errors/index.js'
import {MAX_TTL_SECONDS} from '../rds/validation.js'
import {IMPERSONATION_ISSUER, IMPERSONATION_TOKEN_TYPE} from './claims.js'

/** Why an impersonation token was refused. */
export type ImpersonationRefusal = 'invalid' | 'expired' | 'audience' | 'used' | 'unknown'

/** An impersonation token that does not open the tenant: one line, never the token. */
export class ImpersonationRefusedError extends RaiopsError {
  readonly reason: ImpersonationRefusal

  constructor(reason: ImpersonationRefusal, message: string, hint: string) {
    super('IMPERSONATION_REFUSED', ExitCode.notPermitted, message, {hint})
    this.reason = reason
  }
}

export interface ConsumeOptions {
  /** The public key (impersonation.pub) the token must be signed with. */
  publicKey: KeyObject
  /** This application's audience: its impersonation audience, else its app URL. */
  audience: string
}

/** The claims of a consumed token: who acts, as which tenant, why. */
export interface ImpersonationClaims {
  jti: string
  /** The tenant's id in the RAI database (the token's sub). */
  tenantId: number
  /** Who acts as the tenant (act.sub). */
  actor: string
  audience: string
  reason: string
  ticket: string | null
  issuedAt: string
  expiresAt: string
}

const payloadSchema = z
  .object({
    jti: z.string().min(1).max(64),
    sub: z.string().regex(/^\d+$/),
    tenant_id: z.number().int().nonnegative(),
    act: z.object({sub: z.string().min(1)}),
    reason: z.string().min(1),
    ticket: z.string().min(1).optional(),
    iat: z.number(),
    exp: z.number(),
  })
  .refine((claims) => String(claims.tenant_id) === claims.sub)

function refusal(error: unknown): ImpersonationRefusedError {
  const {code, claim} = error as {code?: string; claim?: string}
  if (code === 'ERR_JWT_EXPIRED')
    return new ImpersonationRefusedError('expired', 'the impersonation link has expired', 'ask for a new one: a link is valid for 5 minutes at most')
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'aud') {
    return new ImpersonationRefusedError(
      'audience',
      'the impersonation link is for another application',
      "open the link at the application it was issued for; check this application's audience",
    )
  }
  return new ImpersonationRefusedError(
    'invalid',
    `the impersonation token is not valid (${code ?? 'unreadable'})`,
    'ask for a new link with `raiops tenant:impersonate`',
  )
}

/**
 * What a tenant application does with an impersonation token: verifies it
 * (EdDSA only, issuer raiops, this audience, not expired, at most 5 minutes old)
 * with the public key, then marks its jti used in one conditional UPDATE, so of
 * two uses, even at the same moment, only one succeeds. Returns the claims;
 * anything else is an ImpersonationRefusedError saying why.
 */
export async function consumeImpersonation(ctx: Pick<OpsContext, 'db' | 'now'>, input: ConsumeOptions & {token: string}): Promise<ImpersonationClaims> {
  const {db} = ctx
  const {token, ...given} = input
  const options = {...given, now: ctx.now()}
  let payload: JWTPayload
  try {
    ;({payload} = await jwtVerify(token, options.publicKey, {
      algorithms: ['EdDSA'],
      issuer: IMPERSONATION_ISSUER,
      audience: options.audience,
      typ: IMPERSONATION_TOKEN_TYPE,
      currentDate: options.now,
      maxTokenAge: MAX_TTL_SECONDS,
      requiredClaims: ['jti', 'sub', 'iat', 'nbf', 'exp', 'act'],
    }))
  } catch (error) {
    throw refusal(error)
  }
  const parsed = payloadSchema.safeParse(payload)
  if (!parsed.success)
    throw new ImpersonationRefusedError(
      'invalid',
      'the impersonation token does not carry the claims of a raiops link',
      'ask for a new link with `raiops tenant:impersonate`',
    )
  const claims = parsed.data

  const marked = await db(IMPERSONATIONS_TABLE)
    .where({jti: claims.jti})
    .whereNull('used_at')
    .where('expires_at', '>', options.now)
    .update({used_at: options.now})
  if (marked !== 1) {
    const row = await db(IMPERSONATIONS_TABLE).where({jti: claims.jti}).first('used_at')
    if (!row)
      throw new ImpersonationRefusedError(
        'unknown',
        'the impersonation link is not on record',
        'it was issued against another control database; ask for a new link',
      )
    if (row.used_at !== null && row.used_at !== undefined)
      throw new ImpersonationRefusedError('used', 'the impersonation link was already used', 'a link opens the tenant once: ask for a new one')
    throw new ImpersonationRefusedError('expired', 'the impersonation link has expired', 'ask for a new one: a link is valid for 5 minutes at most')
  }
  return {
    jti: claims.jti,
    tenantId: claims.tenant_id,
    actor: claims.act.sub,
    audience: options.audience,
    reason: claims.reason,
    ticket: claims.ticket ?? null,
    issuedAt: new Date(claims.iat * 1000).toISOString(),
    expiresAt: new Date(claims.exp * 1000).toISOString(),
  }
}
