import {toConfiguredId, type Hook} from '@oclif/core'
import askWhatWasMeant from '@oclif/plugin-not-found'

import {ExitCode} from '../../lib/errors/index.js'
import {closest} from '../../lib/text/closest.js'
import {escapeControl} from '../../lib/text/escape.js'

/**
 * A mistyped command. At a terminal, @oclif/plugin-not-found asks whether the
 * nearest command was meant and runs it. Otherwise (a script, --no-input,
 * --json) nobody can answer: one line names the nearest command and the run
 * exits 2, as any other usage error does.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const argv = options.argv ?? []
  const json = argv.includes('--json')
  if (process.stdin.isTTY && !json && !argv.includes('--no-input')) return askWhatWasMeant.call(this, options)

  const {config, id} = options
  const visible = config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases])
  const suggestion = closest(id, visible)
  const topic = id.split(':')[0]
  const typed = escapeControl(toConfiguredId(id, config))
  const message = `${typed} is not a ${config.bin} command${suggestion ? `: did you mean ${toConfiguredId(suggestion, config)}?` : ''}`
  const hint = `see ${config.bin} help${config.findTopic(topic) ? ` ${topic}` : ''}`
  if (json) {
    const error = {code: 'BAD_USAGE', message, hint, exitCode: ExitCode.badInput}
    process.stdout.write(`${JSON.stringify({error}, null, 2)}\n`)
  } else {
    process.stderr.write(`Error: ${message} — ${hint}\n`)
  }
  this.exit(ExitCode.badInput)
}

export default hook
