import type {OpsContext} from '../context.js'
import {UserError} from '../errors/index.js'
import {login} from './login.js'
import {startSession} from './session.js'

/** The longest session `auth:login --ttl` may ask for. */
const MAX_SESSION_TTL_MS = 7 * 86_400_000

/** Who signed in, and until when: what `auth:login --json` returns. */
export interface SignedIn {
  email: string
  name: string
  role: string
  expiresAt: string
}

/** `auth:login`: checks the operator's email and password (audited, locked after repeated failures) and stores their session in `home`. */
export async function signIn(
  ctx: Pick<OpsContext, 'db' | 'audit' | 'now'>,
  input: {home: string; email: string; password: string; ttlMs: number},
): Promise<SignedIn> {
  const {email, password} = input
  const operator = await login(ctx, {email, password})
  const session = await startSession(ctx, {home: input.home, operator, ttlMs: input.ttlMs})
  return {email: operator.email, name: operator.name, role: operator.role, expiresAt: session.expiresAt.toISOString()}
}

/** A session's length, refused when longer than a week. */
export function checkSessionTtl(ttlMs: number): number {
  if (ttlMs > MAX_SESSION_TTL_MS) throw new UserError('--ttl must be at most 7d')
  return ttlMs
}
