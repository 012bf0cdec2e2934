import {Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import type {AdminInput} from '../../lib/setup/init.js'
import {promptSecret, promptText} from './prompt.js'
import {readSecretFromStdin} from './stdin.js'

/** init's flags for the first admin; on a terminal, what is missing is asked. */
export const adminFlags = {
  'admin-email': Flags.string({description: 'email of the first system_admin operator'}),
  'admin-name': Flags.string({description: 'name of the first system_admin operator'}),
  'password-stdin': Flags.boolean({description: "read the first admin's password from standard input"}),
}

/** The first admin, from init's flags, else asked on a terminal (`interactive`); a missing value is a one-line error. */
export async function askAdmin(flags: {'admin-email'?: string; 'admin-name'?: string; 'password-stdin': boolean}, interactive: boolean): Promise<AdminInput> {
  const missing = (flag: string) =>
    new UserError(`${flag} is required to create the first admin`, {
      hint: 'pass --admin-email, --admin-name and --password-stdin, or run on a terminal',
    })
  const email = flags['admin-email'] ?? (interactive ? await promptText('Admin email') : undefined)
  if (!email) throw missing('--admin-email')
  const name = flags['admin-name'] ?? (interactive ? await promptText('Admin name') : undefined)
  if (!name) throw missing('--admin-name')
  let password: string | undefined
  if (flags['password-stdin']) password = await readSecretFromStdin()
  else if (interactive) password = await promptSecret('Admin password (10+ characters)', {confirm: true})
  if (!password) throw missing('--password-stdin')
  return {email, name, password}
}
