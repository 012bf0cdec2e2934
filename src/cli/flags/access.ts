import {Args, Flags, type Config} from '@oclif/core'

import type {AccessSubject, CommandAccess} from '../../lib/access/explain.js'
import {NotFoundError, UserError} from '../../lib/errors/index.js'

/** access:explain's arguments, read as typed by `explainTarget` (the operator is left out with --token; the command may be followed by its flags). */
export const explainArgs = {
  operator: Args.string({description: 'email or id of the operator (left out with --token)', ignoreStdin: true}),
  command: Args.string({description: 'a raiops command, e.g. rds:add, and any of its flags to check: rds:show --reveal', ignoreStdin: true}),
}

export const explainFlags = {
  token: Flags.string({description: 'ask about this service token (name or id) instead of an operator'}),
}

/** What a command declares, as oclif hands it over: its permission, and the flags that need one beside it. */
type Declared = Config['commands'][number] & {permission?: string | null; flagPermissions?: Record<string, string>}

/**
 * Who and what access:explain asks about, from what followed it on the command
 * line: `OPERATOR COMMAND [FLAGS…]` or, with --token, `COMMAND [FLAGS…]`. The
 * command's own arguments and flag values may be left in (`rds:show main --reveal`).
 */
export function explainTarget(argv: readonly string[], token: string | undefined, config: Config): {subject: AccessSubject; command: CommandAccess} {
  const isFlag = (word: string) => word.startsWith('-') && word !== '-' && word !== '--'
  const words = argv.filter((word) => !isFlag(word))
  if (token === undefined && words.length === 0) throw new UserError('name an operator and a command', {hint: 'or --token NAME and a command'})
  const subject: AccessSubject = token === undefined ? {operator: words.shift() ?? ''} : {token}
  const typed = words.shift()
  if (!typed)
    throw new UserError('name the command to explain', {
      hint: token === undefined ? 'access:explain OPERATOR COMMAND [FLAGS…]' : 'access:explain --token NAME COMMAND [FLAGS…]',
    })
  const id = typed.replaceAll(' ', ':')
  const command = config.findCommand(id) as Declared | undefined
  if (!command) throw new NotFoundError(`no command "${typed}"`, {hint: 'see `raiops --help`'})
  const flags = argv.filter(isFlag).flatMap((word) => flagNamed(command, word))
  const unique = flags.filter((name, i) => flags.indexOf(name) === i)
  return {
    subject,
    command: {
      id: command.id,
      permission: command.permission ?? null,
      flags: unique.map((name) => ({name, permission: command.flagPermissions?.[name] ?? null})),
    },
  }
}

/** The flag a word on the command line names (`--reveal`, `--format=csv`, `-f`); none for `--no-X`, which turns X off. */
function flagNamed(command: Declared, word: string): string[] {
  const long = /^--([^=]+)/.exec(word)?.[1]
  const flags = Object.values(command.flags)
  const flag = long
    ? flags.find((f) => f.name === long || f.aliases?.includes(long))
    : flags.find((f) => f.char === word[1] || f.charAliases?.includes(word[1] as never))
  if (flag) return [flag.name]
  const negated = long?.startsWith('no-') ? flags.find((f) => f.type === 'boolean' && f.allowNo && f.name === long.slice(3)) : undefined
  if (negated) return []
  // Only the flag: a value typed with it (`--x=…`, `-pSECRET`) is never shown.
  const shown = long ? `--${long}` : word.slice(0, 2)
  throw new UserError(`${command.id} has no flag ${shown}`, {hint: `see \`raiops ${command.id} --help\``})
}

/** Every command with the permission it declares and its flags that need one: what access:list shows against each permission. */
export function declaredCommands(config: Config): CommandAccess[] {
  return (config.commands as Declared[]).map((command) => ({
    id: command.id,
    permission: command.permission ?? null,
    flags: Object.entries(command.flagPermissions ?? {}).map(([name, permission]) => ({name, permission})),
  }))
}
