import {randomBytes} from 'node:crypto'

import {appendAudit, lockForChange} from '../audit/writer.js'
import {assertMayChange, assertMayHandOut} from '../auth/principal.js'
import {hashToken, TOKEN_PREFIX} from '../auth/token-hash.js'
import type {OpsContext, PrincipalContext} from '../context.js'
import {insertReturningId, isUniqueViolation} from '../db/control-db.js'
import type {ApiTokenRow} from '../db/tables.js'
import {toIso} from '../db/values.js'
import {NotFoundError, UserError} from '../errors/index.js'

export interface TokenView {
  id: number
  name: string
  role: string
  expiresAt: string | null
  lastUsedAt: string | null
  revokedAt: string | null
  createdAt: string | null
  state: 'active' | 'expired' | 'revoked'
}

/** What a token's view needs of its row (never its hash). */
type TokenRow = Pick<ApiTokenRow, 'id' | 'name' | 'role' | 'expires_at' | 'last_used_at' | 'revoked_at' | 'created_at'>

function toView(row: TokenRow, now: Date): TokenView {
  const expiresAt = toIso(row.expires_at)
  const revokedAt = toIso(row.revoked_at)
  return {
    id: Number(row.id),
    name: row.name,
    role: row.role,
    expiresAt,
    lastUsedAt: toIso(row.last_used_at),
    revokedAt,
    createdAt: toIso(row.created_at),
    state: revokedAt ? 'revoked' : expiresAt && Date.parse(expiresAt) <= now.getTime() ? 'expired' : 'active',
  }
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/

/** When a new token expires: at a time (null: never), or this long after it is created. */
export type TokenExpiry = {expiresAt: Date | null} | {expiresInMs: number}

/**
 * A new service token: returned once (only its hash is stored), with its role
 * and expiry; recorded as created by the operator acting, if one is.
 */
export async function createToken(ctx: PrincipalContext, input: {name: string; role: string} & TokenExpiry): Promise<TokenView & {token: string}> {
  const now = ctx.now()
  const expiresAt = 'expiresInMs' in input ? new Date(now.getTime() + input.expiresInMs) : input.expiresAt
  // All digits would read as an id in token:revoke.
  if (!NAME.test(input.name) || /^\d+$/.test(input.name))
    throw new UserError(`token name "${input.name}" must be lower-case letters, digits, dots, dashes or underscores, not only digits`)
  if (expiresAt && expiresAt.getTime() <= now.getTime()) throw new UserError('--expires must be in the future')
  const actor = await ctx.principal()
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
  try {
    return await ctx.db.transaction(async (tx) => {
      await lockForChange(tx)
      if (!(await tx('raiops_roles').where({name: input.role}).first('name')))
        throw new NotFoundError(`no role "${input.role}"`, {hint: 'see `raiops role:list`'})
      await assertMayHandOut(tx, actor, {role: input.role})
      const operatorId = actor.kind === 'operator' ? actor.id : null
      const id = await insertReturningId(tx, 'api_tokens', {
        name: input.name,
        token_hash: hashToken(token),
        operator_id: operatorId,
        role: input.role,
        expires_at: expiresAt,
        created_at: now,
        updated_at: now,
      })
      await appendAudit(
        tx,
        ctx.audit,
        {
          action: 'token.create',
          targetType: 'token',
          targetId: id,
          newValues: {name: input.name, role: input.role, expiresAt: expiresAt?.toISOString() ?? null},
        },
        now,
      )
      // Inserted just above, in this transaction.
      const row = (await tx('api_tokens').where({id}).first())!
      return {...toView(row, now), token}
    })
  } catch (error) {
    if (isUniqueViolation(error)) throw new UserError(`a token named "${input.name}" already exists`, {hint: 'choose another --name, or revoke the old one'})
    throw error
  }
}

export async function listTokens(ctx: Pick<OpsContext, 'db' | 'now'>): Promise<TokenView[]> {
  const now = ctx.now()
  return (await ctx.db('api_tokens').select('id', 'name', 'role', 'expires_at', 'last_used_at', 'revoked_at', 'created_at').orderBy('id')).map((row) =>
    toView(row, now),
  )
}

/** One token by name or id, as token:list shows it. */
export async function showToken(ctx: Pick<OpsContext, 'db' | 'now'>, input: {ref: string}): Promise<TokenView> {
  const {ref} = input
  const row = await ctx
    .db('api_tokens')
    .where((q) => (/^\d+$/.test(ref) ? q.where({id: Number(ref)}).orWhere({name: ref}) : q.where({name: ref})))
    .first('id', 'name', 'role', 'expires_at', 'last_used_at', 'revoked_at', 'created_at')
  if (!row) throw new NotFoundError(`no token "${ref}"`, {hint: 'see `raiops token:list`'})
  return toView(row, ctx.now())
}

export async function revokeToken(ctx: PrincipalContext, input: {ref: string}): Promise<TokenView> {
  const {ref} = input
  const actor = await ctx.principal()
  const now = ctx.now()
  return ctx.db.transaction(async (tx) => {
    await lockForChange(tx)
    const row = await tx('api_tokens')
      .where((q) => (/^\d+$/.test(ref) ? q.where({id: Number(ref)}).orWhere({name: ref}) : q.where({name: ref})))
      .first()
    if (!row) throw new NotFoundError(`no token "${ref}"`, {hint: 'see `raiops token:list`'})
    await assertMayChange(tx, actor, {kind: 'token', name: row.name, role: row.role})
    if (toIso(row.revoked_at)) return toView(row, now)
    await tx('api_tokens').where({id: row.id}).update({revoked_at: now, updated_at: now})
    await appendAudit(
      tx,
      ctx.audit,
      {
        action: 'token.revoke',
        targetType: 'token',
        targetId: Number(row.id),
        oldValues: {name: row.name, revokedAt: null},
        newValues: {name: row.name, revokedAt: now.toISOString()},
      },
      now,
    )
    return toView({...row, revoked_at: now}, now)
  })
}
