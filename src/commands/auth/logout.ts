import {BaseCommand} from '../../base-command.js'
import {removeSession} from '../../lib/auth/session.js'

export default class AuthLogout extends BaseCommand<{signedOut: boolean}> {
  static override summary = 'sign out on this machine'
  static override description = 'Removes the session stored in RAIOPS_HOME. Commands then need `raiops auth:login` again (or RAIOPS_TOKEN). Signing out when not signed in is not an error.'
  static override examples = ['<%= config.bin %> <%= command.id %>']
  static override permission = null

  async run(): Promise<{signedOut: boolean}> {
    await this.parse(AuthLogout)
    const signedOut = removeSession(this.runtime.config.home)
    if (!this.jsonEnabled()) process.stdout.write(signedOut ? 'signed out\n' : 'not signed in: nothing to do\n')
    return {signedOut}
  }
}
