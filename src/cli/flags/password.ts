import {Flags} from '@oclif/core'

import {UserError} from '../../lib/errors/index.js'
import {passwordProblem} from '../../lib/password/bcrypt.js'
import type {PasswordSyncInput, PasswordSyncMode} from '../../lib/password/sync.js'
import {TENANT_REF_HELP} from '../../lib/tenant/reference.js'
import {promptSecret} from '../prompts/prompt.js'
import {readSecretFromStdin, readSecretsFromStdin} from '../prompts/stdin.js'
import {statusChangeFlags, statusChangeInput} from './suspend.js'

/** The flags of password:sync: how the password is chosen (exactly one way), then the plan's and the write's. */
export const passwordSyncFlags = {
  'current-stdin': Flags.boolean({
    description:
      "the person's current password must match one of their hashes first: read from the first line of standard input (asked, hidden, at a terminal); the new password follows",
  }),
  reset: Flags.boolean({description: 'set a new password without the current one (tell the person out of band)'}),
  'from-tenant': Flags.string({description: `copy the hash the person has on this tenant to every other row, no password involved: ${TENANT_REF_HELP}`}),
  'password-stdin': Flags.boolean({
    description: 'read the new password from standard input (the line after the current one with --current-stdin) instead of asking twice at a terminal',
  }),
  ...statusChangeFlags,
}

interface PasswordSyncFlagValues {
  'current-stdin': boolean
  reset: boolean
  'from-tenant'?: string
  'password-stdin': boolean
  reason: string
  'dry-run': boolean
  timeout: number
}

const validate = (value: string): true | string => passwordProblem(value) ?? true

async function askNew(): Promise<string> {
  return promptSecret('New password for the person (at most 72 bytes)', {confirm: true, validate})
}

/** How the password is chosen, with the secrets it needs read from standard input or asked at a terminal; never from a flag. */
export async function passwordSyncMode(flags: PasswordSyncFlagValues, interactive: boolean): Promise<PasswordSyncMode> {
  const modes = [flags['current-stdin'], flags.reset, flags['from-tenant'] !== undefined].filter(Boolean).length
  if (modes !== 1)
    throw new UserError('say how the password is chosen: exactly one of --current-stdin, --reset and --from-tenant TENANT', {
      hint: '--reset sets a new one; --current-stdin checks the current one first; --from-tenant copies a tenant’s hash',
    })
  if (flags['from-tenant'] !== undefined) {
    if (flags['password-stdin']) throw new UserError('--from-tenant copies a hash and takes no password', {hint: 'drop --password-stdin'})
    return {kind: 'from-tenant', tenant: flags['from-tenant']}
  }
  const noTerminal = () => new UserError('the new password is needed: give it at a terminal or with --password-stdin', {hint: 'never on the command line'})
  if (flags.reset) {
    if (flags['password-stdin']) return {kind: 'reset', password: await readSecretFromStdin(process.stdin, 'new password')}
    if (!interactive) throw noTerminal()
    return {kind: 'reset', password: await askNew()}
  }
  if (process.stdin.isTTY && interactive) {
    if (flags['password-stdin']) throw new UserError('at a terminal both passwords are asked: drop --password-stdin, or pipe them in')
    const current = await promptSecret("The person's current password")
    return {kind: 'current', current, password: await askNew()}
  }
  if (!flags['password-stdin']) throw noTerminal()
  const [current, password] = await readSecretsFromStdin(['current password', 'new password'])
  return {kind: 'current', current, password}
}

/** password:sync's service input, but the mode and the confirmation. */
export function passwordSyncInput(email: string, flags: PasswordSyncFlagValues): Omit<PasswordSyncInput, 'mode'> {
  const {reason, dryRun, timeoutMs} = statusChangeInput(flags)
  return {email, reason, dryRun, timeoutMs}
}
