import {Flags} from '@oclif/core'

import {checkSessionTtl} from '../../lib/auth/sign-in.js'
import {UserError} from '../../lib/errors/index.js'
import {parseDuration} from '../../lib/time/duration.js'
import {promptSecret, promptText} from './prompt.js'
import {readSecretFromStdin} from './stdin.js'

/** auth:login's flags; on a terminal, the email and password are asked when not given. */
export const loginFlags = {
  email: Flags.string({char: 'e', description: 'your operator email (asked on a terminal when missing)'}),
  'password-stdin': Flags.boolean({description: 'read the password from standard input (first line)'}),
  ttl: Flags.custom<number>({
    description: 'how long the session lasts (e.g. 30m, 8h)',
    default: async () => 12 * 3_600_000,
    defaultHelp: async () => '12h',
    // Refused before anything is asked or checked.
    parse: async (input) => checkSessionTtl(parseDuration(input, '--ttl')),
  })(),
}

/** The email and password, from the flags or a terminal (`interactive`); never from the command line. */
export async function askCredentials(flags: {email?: string; 'password-stdin': boolean}, interactive: boolean): Promise<{email: string; password: string}> {
  const email = flags.email ?? (interactive ? await promptText('Email') : undefined)
  if (!email) throw new UserError('--email is required without a terminal', {hint: 'pass --email and --password-stdin'})
  const password = flags['password-stdin'] ? await readSecretFromStdin() : interactive ? await promptSecret('Password') : undefined
  if (!password) throw new UserError('the password is required: give it on a terminal or with --password-stdin', {hint: 'never on the command line'})
  return {email, password}
}
