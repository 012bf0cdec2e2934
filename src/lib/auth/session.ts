import {decodeJwt, jwtVerify, SignJWT} from 'jose'
import {randomBytes, randomUUID} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import type {OpsContext} from '../context.js'
import type {Db} from '../db/control-db.js'

/** How long a session lasts unless --ttl says otherwise. */
export const DEFAULT_SESSION_TTL_MS = 12 * 3_600_000
const ISSUER = 'raiops'
const AUDIENCE = 'raiops-cli'

export interface SessionClaims {
  jti: string
  operatorId: number
  email: string
  expiresAt: Date
}

/** The session file of this machine's RAIOPS_HOME (mode 0600). */
export function sessionFile(home: string): string {
  return join(home, 'session.jwt')
}

/**
 * The HS256 key sessions are signed with on this machine: 32 random bytes in
 * RAIOPS_HOME/session.key (0600), created on first use. It lives beside the
 * session and the master key: reading RAIOPS_HOME is the boundary, as for them.
 */
function sessionKey(home: string, create: boolean): Uint8Array | null {
  const file = join(home, 'session.key')
  if (!existsSync(file)) {
    if (!create) return null
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, {mode: 0o600, flag: 'wx'})
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  return key.length === 32 ? new Uint8Array(key) : null
}

export async function signSession(
  home: string,
  operator: {id: number; email: string},
  now: Date,
  ttlMs = DEFAULT_SESSION_TTL_MS,
): Promise<{token: string; jti: string; expiresAt: Date}> {
  mkdirSync(home, {recursive: true, mode: 0o700})
  const key = sessionKey(home, true)
  if (!key) throw new Error(`${join(home, 'session.key')} is not a session key: remove it and sign in again`)
  const expiresAt = new Date(now.getTime() + ttlMs)
  const jti = randomUUID()
  const token = await new SignJWT({email: operator.email})
    .setProtectedHeader({alg: 'HS256'})
    .setJti(jti)
    .setSubject(String(operator.id))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key)
  return {token, jti, expiresAt}
}

export function writeSession(home: string, token: string): void {
  const file = sessionFile(home)
  rmSync(file, {force: true})
  writeFileSync(file, `${token}\n`, {mode: 0o600, flag: 'wx'})
}

export function readSessionToken(home: string): string | null {
  const file = sessionFile(home)
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null
}

export function removeSession(home: string): boolean {
  const file = sessionFile(home)
  if (!existsSync(file)) return false
  rmSync(file, {force: true})
  return true
}

export type SessionCheck = {ok: true; claims: SessionClaims} | {ok: false; reason: 'expired' | 'invalid'}

/** Verifies a session token with this machine's session key. */
export async function verifySession(home: string, token: string, now: Date): Promise<SessionCheck> {
  const key = sessionKey(home, false)
  if (!key) return {ok: false, reason: 'invalid'}
  try {
    const {payload} = await jwtVerify(token, key, {algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: now})
    const operatorId = Number(payload.sub)
    if (!Number.isSafeInteger(operatorId) || typeof payload.email !== 'string' || typeof payload.exp !== 'number' || typeof payload.jti !== 'string')
      return {ok: false, reason: 'invalid'}
    return {ok: true, claims: {jti: payload.jti, operatorId, email: payload.email, expiresAt: new Date(payload.exp * 1000)}}
  } catch (error) {
    return {ok: false, reason: (error as {code?: string}).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid'}
  }
}

export interface StartSessionInput {
  /** RAIOPS_HOME of this machine, where the session file is written. */
  home: string
  /** The operator signing in, as login() or init checked them: the actor of this change. */
  operator: {id: number; email: string}
  ttlMs?: number
}

/**
 * Signs an operator in on this machine: the session recorded in the control
 * database (auth_sessions) and its token in a file in RAIOPS_HOME (0600).
 */
export async function startSession(ctx: Pick<OpsContext, 'db' | 'now'>, input: StartSessionInput): Promise<{expiresAt: Date; file: string}> {
  const {home, operator} = input
  const now = ctx.now()
  const {token, jti, expiresAt} = await signSession(home, operator, now, input.ttlMs ?? DEFAULT_SESSION_TTL_MS)
  await ctx.db('auth_sessions').insert({jti, operator_id: operator.id, host: hostname().slice(0, 255), issued_at: now, expires_at: expiresAt})
  writeSession(home, token)
  return {expiresAt, file: sessionFile(home)}
}

/** Whether a verified session is still on record: not revoked, not expired, the operator's own. */
export async function sessionOnRecord(db: Db, claims: SessionClaims, now: Date): Promise<boolean> {
  const row = await db('auth_sessions').where({jti: claims.jti}).first('operator_id', 'revoked_at', 'expires_at')
  return (
    row !== undefined &&
    Number(row.operator_id) === claims.operatorId &&
    (row.revoked_at === null || row.revoked_at === undefined) &&
    new Date(row.expires_at as string | number | Date).getTime() > now.getTime()
  )
}

/**
 * Signs out on this machine: the session revoked in the control database (when
 * it can be read: `ctx.db` null otherwise) and its file removed. The actor is
 * whoever holds the session file.
 */
export async function endSession(ctx: {db: Db | null; now(): Date}, input: {home: string}): Promise<boolean> {
  const {db} = ctx
  const {home} = input
  const token = readSessionToken(home)
  if (!token) return false
  if (db) {
    const now = ctx.now()
    try {
      const {jti} = decodeJwt(token)
      if (typeof jti === 'string') await db('auth_sessions').where({jti}).whereNull('revoked_at').update({revoked_at: now})
    } catch {
      // An unreadable token grants nothing; removing the file is enough.
    }
  }
  return removeSession(home)
}
