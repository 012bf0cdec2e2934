import {randomBytes} from 'node:crypto'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {jwtVerify, SignJWT} from 'jose'

/** How long a session lasts unless --ttl says otherwise. */
export const DEFAULT_SESSION_TTL_MS = 12 * 3_600_000
const ISSUER = 'raiops'
const AUDIENCE = 'raiops-cli'

export interface SessionClaims {
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

export async function signSession(home: string, operator: {id: number; email: string}, now: Date, ttlMs = DEFAULT_SESSION_TTL_MS): Promise<{token: string; expiresAt: Date}> {
  const key = sessionKey(home, true)
  if (!key) throw new Error(`${join(home, 'session.key')} is not a session key: remove it and sign in again`)
  const expiresAt = new Date(now.getTime() + ttlMs)
  const token = await new SignJWT({email: operator.email})
    .setProtectedHeader({alg: 'HS256'})
    .setSubject(String(operator.id))
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key)
  return {token, expiresAt}
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
    if (!Number.isSafeInteger(operatorId) || typeof payload.email !== 'string' || typeof payload.exp !== 'number') return {ok: false, reason: 'invalid'}
    return {ok: true, claims: {operatorId, email: payload.email, expiresAt: new Date(payload.exp * 1000)}}
  } catch (error) {
    return {ok: false, reason: (error as {code?: string}).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid'}
  }
}

/** Signs an operator in on this machine: a session file in RAIOPS_HOME (0600). */
export async function startSession(home: string, operator: {id: number; email: string}, now: Date, ttlMs = DEFAULT_SESSION_TTL_MS): Promise<{expiresAt: Date; file: string}> {
  const {token, expiresAt} = await signSession(home, operator, now, ttlMs)
  writeSession(home, token)
  return {expiresAt, file: sessionFile(home)}
}
