import {BaseCommand} from '../../cli/base-command.js'
import {askCredentials, loginFlags} from '../../cli/prompts/login.js'
import {signedInLine} from '../../cli/reporters/auth.js'
import {signIn, type SignedIn} from '../../lib/auth/sign-in.js'

export default class AuthLogin extends BaseCommand<SignedIn> {
  static override summary = 'sign in as an operator on this machine'
  static override description = `Checks your email and password and stores a signed session in RAIOPS_HOME (mode 0600), valid for --ttl (12 hours by default); every command then runs as you, limited to what your role allows. A wrong password, a disabled operator or a locked email exits 5; five failed logins in a row lock the email for 15 minutes. Failed logins are audited. Cron and CI use RAIOPS_TOKEN instead (see token:create).`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --email ops@example.com --ttl 1h',
    '<%= config.bin %> <%= command.id %> --email ops@example.com --password-stdin < password.txt',
  ]

  static override permission = null
  static override flags = loginFlags

  async run(): Promise<SignedIn> {
    const {flags} = await this.parse(AuthLogin)
    const credentials = await askCredentials(flags, this.interactive())
    const result = await signIn(await this.context(), {home: this.runtime.config.home, ...credentials, ttlMs: flags.ttl})
    this.print(`${signedInLine(result)}\n`)
    return result
  }
}
