import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {renderFixtureReport} from '../../cli/reporters/alerts-ops.js'
import {type AlertsTestResult, shippedFixturesDir, testAlertFixtures} from '../../lib/alerts/fixtures.js'
import {ExitCode, UserError} from '../../lib/errors/index.js'

export default class AlertsTest extends BaseCommand<AlertsTestResult> {
  static override summary = 'test alert rules against control-database states over time, as promtool test rules does'
  static override description = `Runs a fixture (JSON; or every *.json of a directory): in a scratch SQLite control database of its own (your control database is not read or changed), the fixture's rules are set up (default rules by name, or inline definitions), then at each step, one interval after the other, its rows are inserted, updated or deleted, its silences added, the rules evaluated as alerts:run evaluates them at that time, and the alerts (rule, a subset of labels, state, muted) and notifications (rule, kind, how many alerts grouped) the step expects compared with what the engine left: pass or FAIL per step, with - expected / + got lines.

A fixture: {"rules": ["rds-down"] or [{"name", "kind", "params", "for", "keepFiringFor", "severity", "labels", "noData", "onError"}], "interval": "5m", "start": "2026-01-05T10:00:00Z", "subscriptions": [...] (default: one taking every notification), "steps": [{"name", "after": "15m" (default: the interval), "insert": {"TABLE": [ROW, ...]}, "update": [{"table", "where", "set"}], "delete": [{"table", "where"}], "silences": [{"matchers": ["rds=eu-2"], "for": "1h"}], "expect": {"alerts": [{"rule", "labels", "state", "muted"}], "notifications": [{"rule", "kind", "alerts"}]}}]}. In a row, "now" or "now-10m" is the step's evaluation time (moved) and a UTC ISO time (2025-11-01T00:00:00Z) a time; objects are stored as JSON; rds_instances, sync_runs, jobs, locks, health_checks and tenant_master rows get defaults for what they leave out. "alerts" lists exactly the pending, firing and unknown alerts (and any resolved or inactive one you name); "notifications" exactly those the step wrote.

Exit codes: 0 every step passed, 4 a step failed (a failed check), 2 a fixture does not parse or is not a fixture (the line and column named; nothing runs).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> alerts/fixtures/rds-down.json',
    '<%= config.bin %> <%= command.id %> my-rules/ --json',
    '<%= config.bin %> <%= command.id %> --shipped',
  ]

  static override permission = null
  static override args = {file: Args.string({name: 'FILE', description: 'a fixture file (JSON), or a directory of them'})}
  static override flags = {shipped: Flags.boolean({description: "also run the default rules' own fixtures, shipped with raiops"})}

  async run(): Promise<AlertsTestResult> {
    const {args, flags} = await this.parse(AlertsTest)
    const paths = [...(args.file === undefined ? [] : [args.file]), ...(flags.shipped ? [shippedFixturesDir()] : [])]
    if (paths.length === 0) throw new UserError('give a fixture FILE (or a directory of them), or --shipped', {hint: 'see `raiops alerts:test --help`'})
    const result = await testAlertFixtures({paths})
    for (const fixture of result.fixtures) this.print(renderFixtureReport(this.color, fixture))
    if (!result.passed) this.exitWith(ExitCode.unhealthy)
    return result
  }
}
