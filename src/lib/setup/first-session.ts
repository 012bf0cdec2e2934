import {startSession} from '../auth/session.js'
import type {OpsContext} from '../context.js'

/** Signs the first admin in on this machine, as `init` leaves them: the operator found by the email init created. */
export async function signInFirstAdmin(ctx: Pick<OpsContext, 'db' | 'now'>, input: {home: string; email: string}): Promise<void> {
  const admin = (await ctx.db('operators').where({email: input.email}).first('id', 'email')) as {id: number; email: string}
  await startSession(ctx, {home: input.home, operator: {id: Number(admin.id), email: admin.email}})
}
