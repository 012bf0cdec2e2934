import {BaseCommand} from '../../cli/base-command.js'
import {fishCompletion} from '../../cli/completion/fish.js'

export default class CompletionFish extends BaseCommand<{script: string}> {
  static override summary = 'print a fish completion script for raiops: commands, flags and RDS names'
  static override description =
    'Prints a fish script that completes the commands with their summaries, the flags of each command with their choices, and RDS names for an rds argument or --rds flag (asked of rds:list as you type, so only once signed in). Save it where fish looks for completions; generate it again after an upgrade that adds commands or flags. For bash and zsh see autocomplete.'
  static override examples = [
    '<%= config.bin %> <%= command.id %> > ~/.config/fish/completions/<%= config.bin %>.fish',
    '<%= config.bin %> <%= command.id %> | source   # this shell only',
  ]
  static override permission = null

  async run(): Promise<{script: string}> {
    await this.parse(CompletionFish)
    const script = fishCompletion(this.config)
    this.print(script)
    return {script}
  }
}
