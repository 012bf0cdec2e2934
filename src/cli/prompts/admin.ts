import {Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import {adminFieldProblem, type AdminInput} from '../../lib/setup/init.js'
import {promptSecret, promptText, type Validate} from './prompt.js'
import {readSecretFromStdin} from './stdin.js'

/** init's flags for the first admin; on a terminal, what is missing is asked. */
export const adminFlags = {
  'admin-email': Flags.string({description: 'email of the first system_admin operator'}),
  'admin-name': Flags.string({description: 'name of the first system_admin operator'}),
  'password-stdin': Flags.boolean({description: "read the first admin's password from standard input"}),
}

/** A prompt's check of one of the first admin's values: the answer is refused, and asked again, as soon as it is entered. */
const check =
  (field: keyof AdminInput): Validate =>
  (value) =>
    adminFieldProblem(field, value) ?? true

/**
 * The first admin, from init's flags, else asked on a terminal (`interactive`),
 * each answer checked as it is given; a flag's bad value is refused before
 * anything is asked, naming the flag. A missing value is a one-line error.
 */
export async function askAdmin(flags: {'admin-email'?: string; 'admin-name'?: string; 'password-stdin': boolean}, interactive: boolean): Promise<AdminInput> {
  const missing = (flag: string) =>
    new UserError(`${flag} is required to create the first admin`, {
      hint: 'pass --admin-email, --admin-name and --password-stdin, or run on a terminal',
    })
  for (const field of ['email', 'name'] as const) {
    const given = flags[`admin-${field}`]
    const problem = given === undefined ? null : adminFieldProblem(field, given)
    if (problem) throw new UserError(`--admin-${field}: ${problem}`)
  }
  const email = flags['admin-email'] ?? (interactive ? await promptText('Admin email', {validate: check('email')}) : undefined)
  if (!email) throw missing('--admin-email')
  const name = flags['admin-name'] ?? (interactive ? await promptText('Admin name', {validate: check('name')}) : undefined)
  if (!name) throw missing('--admin-name')
  let password: string | undefined
  if (flags['password-stdin']) password = await readSecretFromStdin()
  else if (interactive) password = await promptSecret('Admin password (10+ characters)', {confirm: true, validate: check('password')})
  if (!password) throw missing('--password-stdin')
  return {email, name, password}
}
