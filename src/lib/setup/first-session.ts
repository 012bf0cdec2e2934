import {startSession} from '../auth/session.js'
import type {Db} from '../db/control-db.js'

/** Signs the first admin in on this machine, as `init` leaves them: the operator found by the email init created. */
export async function signInFirstAdmin(db: Db, home: string, email: string, now: Date): Promise<void> {
  const admin = (await db('operators').where({email}).first('id', 'email')) as {id: number; email: string}
  await startSession(db, home, {id: Number(admin.id), email: admin.email}, now)
}
