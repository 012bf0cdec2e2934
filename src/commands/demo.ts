import {BaseCommand} from '../cli/base-command.js'
import {shellInvocation, showDemo} from '../cli/demo.js'
import {demoDescription, demoFlags} from '../cli/flags/demo.js'
import {demoDir, setUpDemo, type DemoOutput} from '../lib/demo/output.js'
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
    const {command: bin, alias} = shellInvocation(this.config.root)
    const {output, seconds} = await this.withProgress(
      `building the demo in ${dir}`,
      (progress) => setUpDemo({dir, size: flags.size, reset: flags.reset, alias, env: process.env, onProgress: (line) => progress.update(line)}),
      {stopOnError: true},
    )
    const terminal = {color: this.color, noColor: this.argv.includes('--no-color'), log: this.log.bind(this), note: this.note.bind(this)}
    if (!this.jsonEnabled()) await showDemo(output, {dir, seconds, quiet: flags.quiet, tour: flags.tour, bin}, terminal)
    return output
  }
}
