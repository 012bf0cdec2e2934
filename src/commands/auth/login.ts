import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {login} from '../../lib/auth/login.js'
import {signedInLine} from '../../cli/reporters/auth.js'
import {startSession} from '../../lib/auth/session.js'
import {UserError} from '../../lib/errors/index.js'
import {parseDuration} from '../../lib/time/duration.js'
import {promptSecret, promptText} from '../../cli/prompts/prompt.js'
import {readSecretFromStdin} from '../../cli/prompts/stdin.js'

interface LoginResult {
  email: string
  name: string
  role: string
  expiresAt: string
}

export default class AuthLogin extends BaseCommand<LoginResult> {
  static override summary = 'sign in as an operator on this machine'
  static override description = `Checks your email and password and stores a signed session in RAIOPS_HOME (mode 0600), valid for --ttl (12 hours by default); every command then runs as you, limited to what your role allows. A wrong password, a disabled operator or a locked email exits 5; five failed logins in a row lock the email for 15 minutes. Failed logins are audited. Cron and CI use RAIOPS_TOKEN instead (see token:create).`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --email ops@example.com --ttl 1h',
    `printf '%s' "$PASSWORD" | <%= config.bin %> <%= command.id %> --email ops@example.com --password-stdin`,
  ]

  static override permission = null
  static override flags = {
    email: Flags.string({char: 'e', description: 'your operator email (asked on a terminal when missing)'}),
    'password-stdin': Flags.boolean({description: 'read the password from standard input (first line)'}),
    ttl: Flags.custom<number>({description: 'how long the session lasts (e.g. 30m, 8h)', default: 12 * 3_600_000, parse: async (input) => parseDuration(input, '--ttl')})(),
  }

  async run(): Promise<LoginResult> {
    const {flags} = await this.parse(AuthLogin)
    if (flags.ttl > 7 * 86_400_000) throw new UserError('--ttl must be at most 7d')
    const interactive = this.interactive()
    const email = flags.email ?? (interactive ? await promptText('Email') : undefined)
    if (!email) throw new UserError('--email is required without a terminal', {hint: 'pass --email and --password-stdin'})
    const password = flags['password-stdin'] ? await readSecretFromStdin() : interactive ? await promptSecret('Password') : undefined
    if (!password) throw new UserError('the password is required: give it on a terminal or with --password-stdin', {hint: 'never on the command line'})
    const ctx = await this.context()
    const operator = await login(ctx.db, ctx.audit, email, password, ctx.now())
    const session = await startSession(ctx.db, this.runtime.config.home, operator, ctx.now(), flags.ttl)
    const result = {email: operator.email, name: operator.name, role: operator.role, expiresAt: session.expiresAt.toISOString()}
    this.print(`${signedInLine(result)}\n`)
    return result
  }
}
