import type {Command, Config} from '@oclif/core'

/** A fish single-quoted word: backslashes and quotes escaped, on one line. */
function quote(text: string): string {
  return `'${text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\']/g, (c) => `\\${c}`)}'`
}

/** The first line of a description, without its trailing full stop: what fish shows beside a candidate. */
function short(text: string | undefined): string {
  return (text ?? '').split('\n')[0].replace(/\.$/, '')
}

/** RDS names from the registry (the second column of `rds:list --format csv`); nothing when raiops cannot answer (not signed in, no home). */
const RDS_NAMES = (bin: string) => `command -q ${bin}; and ${bin} rds:list --format csv --no-input 2>/dev/null | tail -n +2 | cut -d, -f2`

function flagLines(bin: string, id: string, flags: Command.Loadable['flags']): string[] {
  const condition = `-n '__${bin}_using_command ${id}'`
  return Object.entries(flags)
    .filter(([, flag]) => !flag.hidden)
    .map(([name, flag]) => {
      const parts = [`complete -c ${bin}`, condition, `-l ${name}`]
      if (flag.char) parts.push(`-s ${flag.char}`)
      if (flag.type === 'option') {
        if (name === 'rds') parts.push(`-x -a '(__${bin}_rds)'`)
        else if (flag.options?.length) parts.push(`-x -a ${quote(flag.options.join(' '))}`)
        else parts.push('-r -F')
      }
      parts.push(`-d ${quote(short(flag.summary ?? flag.description))}`)
      return parts.join(' ')
    })
}

/**
 * A fish completion script for the CLI as loaded: its commands with their
 * summaries, each command's flags (with their choices), and RDS names for an
 * `rds` argument or `--rds` flag, asked of `rds:list` when completing.
 */
export function fishCompletion(config: Config): string {
  const bin = config.bin
  const commands = config.commands.filter((command) => !command.hidden).sort((a, b) => a.id.localeCompare(b.id))
  const lines = [
    `# fish completion for ${bin}: ${bin} completion:fish > ~/.config/fish/completions/${bin}.fish`,
    `function __${bin}_no_command`,
    '    test (count (commandline -opc)) -eq 1',
    'end',
    `function __${bin}_using_command`,
    '    set -l tokens (commandline -opc)',
    '    test (count $tokens) -ge 2; and test "$tokens[2]" = "$argv[1]"',
    'end',
    `function __${bin}_rds`,
    `    ${RDS_NAMES(bin)}`,
    'end',
    `complete -c ${bin} -f`,
  ]
  for (const command of commands) {
    for (const id of [command.id, ...command.aliases])
      lines.push(`complete -c ${bin} -n __${bin}_no_command -a ${quote(id)} -d ${quote(short(command.summary ?? command.description))}`)
  }
  for (const command of commands) {
    for (const id of [command.id, ...command.aliases]) {
      if (command.args.rds) lines.push(`complete -c ${bin} -n '__${bin}_using_command ${id}' -x -a '(__${bin}_rds)'`)
      lines.push(...flagLines(bin, id, command.flags))
    }
  }
  return `${lines.join('\n')}\n`
}
