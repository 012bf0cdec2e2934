import {permissionsOf} from '../auth/identity.js'
import type {OpsContext} from '../context.js'
import {toBool} from '../db/values.js'
import {NotFoundError} from '../errors/index.js'
import {showToken} from '../token/tokens.js'

/** Who is asked about: an operator (email or id) or a service token (name or id). */
export type AccessSubject = {operator: string} | {token: string}

/** A command as it would be run: its id, the permission it declares (null: anyone), and the flags named, each with the permission it needs beside. */
export interface CommandAccess {
  id: string
  permission: string | null
  flags: ReadonlyArray<{name: string; permission: string | null}>
}

/** One permission the run needs, what needs it (the command or one of its flags), and whether the role grants it. */
export interface AccessNeed {
  permission: string
  for: string
  granted: boolean
}

export type AccessExplanation = ({operator: string; state: 'active' | 'disabled'} | {token: string; state: 'active' | 'expired' | 'revoked'}) & {
  role: string
  command: string
  /** The flags named with the command (`--reveal`). */
  flags: string[]
  /** The permission the command itself declares (null: anyone). */
  permission: string | null
  needs: AccessNeed[]
  allowed: boolean
  reason: string
}

/** An operator or a token: how the reason names them, their role, and why they cannot act at all (null: they can). */
async function subjectOf(ctx: Pick<OpsContext, 'db' | 'now'>, subject: AccessSubject) {
  if ('token' in subject) {
    const token = await showToken(ctx, {ref: subject.token})
    const blocked =
      token.state === 'revoked'
        ? `the token "${token.name}" was revoked at ${token.revokedAt}`
        : token.state === 'expired'
          ? `the token "${token.name}" expired at ${token.expiresAt}`
          : null
    return {shown: {token: token.name, state: token.state}, name: `the token "${token.name}"`, role: token.role, blocked}
  }
  const ref = subject.operator
  const row = await ctx
    .db('operators')
    .where((q) => (/^\d+$/.test(ref) ? q.where({id: Number(ref)}) : q.whereRaw('lower(email) = ?', [ref.trim().toLowerCase()])))
    .first('email', 'role', 'is_active')
  if (!row) throw new NotFoundError(`no operator "${ref}"`, {hint: 'see `raiops operator:list`'})
  const active = toBool(row.is_active)
  return {
    shown: {operator: row.email, state: active ? 'active' : 'disabled'} as const,
    name: row.email,
    role: row.role,
    blocked: active ? null : `${row.email} is disabled`,
  }
}

/** `a`, `a and b`, `a, b and c`. */
const andList = (items: readonly string[]): string => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`)

/**
 * Whether an operator or a token may run a command with the flags named, and
 * why: every permission it needs (the command's and its flags'), the state of
 * who runs it (a disabled operator, an expired or revoked token cannot) and
 * what their role grants.
 */
export async function explainAccess(ctx: Pick<OpsContext, 'db' | 'now'>, input: {subject: AccessSubject; command: CommandAccess}): Promise<AccessExplanation> {
  const {command} = input
  const who = await subjectOf(ctx, input.subject)
  const granted = new Set(await permissionsOf(ctx.db, who.role))
  const wanted = [
    ...(command.permission === null ? [] : [{permission: command.permission, for: command.id}]),
    ...command.flags.flatMap((flag) => (flag.permission === null ? [] : [{permission: flag.permission, for: `--${flag.name}`}])),
  ]
  const needs = wanted
    .filter((need, i) => wanted.findIndex((other) => other.permission === need.permission) === i)
    .map((need) => ({...need, granted: granted.has(need.permission)}))
  const run = [command.id, ...command.flags.map((flag) => `--${flag.name}`)].join(' ')
  const base = {...who.shown, role: who.role, command: command.id, flags: command.flags.map((flag) => `--${flag.name}`), permission: command.permission, needs}
  if (needs.length === 0) return {...base, allowed: true, reason: `${run} needs no permission: anyone may run it`}
  if (who.blocked) return {...base, allowed: false, reason: who.blocked}
  const listed = andList(needs.map((need) => (need.for === command.id ? need.permission : `${need.permission} (for ${need.for})`)))
  const missing = needs.filter((need) => !need.granted).map((need) => need.permission)
  const role = `the role ${who.role} of ${who.name}`
  const verdict =
    missing.length === 0
      ? `, which ${role} grants`
      : missing.length === needs.length
        ? `, which ${role} does not grant`
        : `; ${role} grants ${andList(needs.filter((need) => need.granted).map((need) => need.permission))} but not ${andList(missing)}`
  return {...base, allowed: missing.length === 0, reason: `${run} needs ${listed}${verdict}`}
}
