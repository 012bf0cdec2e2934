import {BaseCommand} from '../../cli/base-command.js'
import {endSession} from '../../lib/auth/session.js'

export default class AuthLogout extends BaseCommand<{signedOut: boolean}> {
  static override summary = 'sign out on this machine'
  static override description =
    'Ends the session of this machine: revoked in the control database and its file removed from RAIOPS_HOME (removed even when the control database cannot be reached). Commands then need `raiops auth:login` again (or RAIOPS_TOKEN). Signing out when not signed in is not an error.'
  static override examples = ['<%= config.bin %> <%= command.id %>']
  static override permission = null

  async run(): Promise<{signedOut: boolean}> {
    await this.parse(AuthLogout)
    const db = await this.runtime.db().catch(() => null)
    const signedOut = await endSession({db, now: () => new Date()}, {home: this.runtime.config.home})
    this.print(signedOut ? 'signed out\n' : 'not signed in: nothing to do\n')
    return {signedOut}
  }
}
