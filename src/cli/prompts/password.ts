import {UserError} from '../../lib/errors/index.js'
import {promptSecret} from './prompt.js'
import {readSecretFromStdin} from './stdin.js'

/** A new password: from standard input with --password-stdin, else a hidden prompt asked twice; never from a flag. */
export async function newPassword(options: {stdin: boolean; interactive: boolean; what: string}): Promise<string> {
  if (options.stdin) return readSecretFromStdin()
  if (options.interactive) return promptSecret(`${options.what} (10+ characters)`, {confirm: true})
  throw new UserError(`${options.what} is needed: give it on a terminal or with --password-stdin`, {hint: 'never on the command line'})
}
