import {Errors, Help, toConfiguredId} from '@oclif/core'

import {ExitCode} from '../lib/errors/index.js'
import {closest} from '../lib/text/closest.js'
import {escapeControl} from '../lib/text/escape.js'

/**
 * oclif's help, except for a subject that is neither a command nor a topic
 * (`raiops help rds:lst`): named with the nearest command, as a mistyped
 * command is (hooks/command-not-found.ts), and exit 2.
 */
export default class RaiopsHelp extends Help {
  override async showHelp(argv: string[]): Promise<void> {
    const subject = argv.find((arg) => !arg.startsWith('-'))
    if (subject !== undefined && !this.config.findCommand(subject) && !this.config.findTopic(subject)) {
      const visible = this.config.commands.filter((command) => !command.hidden).flatMap((command) => [command.id, ...command.aliases])
      const suggestion = closest(subject, visible)
      const typed = escapeControl(toConfiguredId(subject, this.config))
      const meant = suggestion ? `: did you mean ${toConfiguredId(suggestion, this.config)}?` : ''
      const topic = subject.split(':')[0]
      const hint = `see ${this.config.bin} help${this.config.findTopic(topic) ? ` ${topic}` : ''}`
      process.stderr.write(`Error: ${typed} is not a ${this.config.bin} command${meant} — ${hint}\n`)
      Errors.exit(ExitCode.badInput)
    }
    return super.showHelp(argv)
  }
}
