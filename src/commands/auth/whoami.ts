import {BaseCommand} from '../../cli/base-command.js'
import {renderIdentity} from '../../cli/reporters/auth.js'
import type {Identity} from '../../lib/auth/identity.js'

export default class AuthWhoami extends BaseCommand<Identity> {
  static override summary = 'who you are to raiops: operator or token, role, permissions, expiry'
  static override description =
    'Shows the identity commands run as: RAIOPS_TOKEN when it is set, else the session stored on this machine; its role, the permissions that role grants, and when the session or token expires. Exit 5 when there is none, or it has expired, been revoked or disabled.'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %>   # with RAIOPS_TOKEN set: the service token it holds',
  ]
  static override permission = null

  async run(): Promise<Identity> {
    await this.parse(AuthWhoami)
    const identity = await this.runtime.identity()
    this.print(renderIdentity(identity))
    return identity
  }
}
