import {BaseCommand} from '../cli/base-command.js'
import {shellInvocation, showDemo} from '../cli/demo.js'
import {demoDescription, demoFlags} from '../cli/flags/demo.js'
import {buildDemo} from '../lib/demo/build.js'
import type {DemoSize} from '../lib/demo/fleet.js'
import {demoDir, demoOutput, type DemoOutput} from '../lib/demo/output.js'
import {UserError} from '../lib/errors/index.js'

export type {DemoOutput} from '../lib/demo/output.js'

export default class Demo extends BaseCommand<DemoOutput> {
  static override summary = 'build a self-contained demo of raiops (no database server needed) and take the tour'
  static override description = demoDescription

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --dir /tmp/raiops-demo --quiet',
    '<%= config.bin %> <%= command.id %> --reset',
    '<%= config.bin %> <%= command.id %> --size large --dir /tmp/raiops-large',
    '<%= config.bin %> <%= command.id %> --tour',
    '<%= config.bin %> <%= command.id %> --quiet --json',
  ]

  static override permission = null
  static override flags = demoFlags

  async run(): Promise<DemoOutput> {
    const {flags} = await this.parse(Demo)
    if (flags.tour && this.jsonEnabled()) throw new UserError('--tour shows the tour on the terminal: it does not go with --json', {hint: 'drop one of them'})
    const dir = demoDir(flags.dir)
    const started = performance.now()
    const result = await this.withProgress(
      `building the demo in ${dir}`,
      (progress) => buildDemo({dir, size: flags.size as DemoSize | undefined, reset: flags.reset, onProgress: (message) => progress.update(message)}),
      {stopOnError: true},
    )
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const invocation = shellInvocation(this.config.root)
    const output = demoOutput(result, {alias: invocation.alias, env: process.env})
    if (this.jsonEnabled()) return output
    await showDemo(
      result,
      output,
      {dir, seconds, quiet: flags.quiet, tour: flags.tour, bin: invocation.command},
      {color: this.color, noColor: this.argv.includes('--no-color'), log: (line) => this.log(line), note: (line) => this.note(line)},
    )
    return output
  }
}
